"""LocalServerScanner: the ports it looks at, and telling real (fake) local servers of each kind apart."""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List

import pytest

from llmc.discovery.LocalServerScanner import (DEFAULT_PORTS, SCAN_DEADLINE, LocalServer, LocalServerScanner,
                                               local_ports_of, ports_from_environment)
from llmc.discovery.SocketOwner import FOREIGN, TRUSTED, UNKNOWN, SocketOwner
from tests.fake_openai_server import FakeOpenAIServer
from tests.hostile_server import HostileServer, models_list


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def servers() -> Iterator[List[FakeOpenAIServer]]:
    kinds = ["ollama", "lmstudio", "llamacpp", "vllm", "openai"]
    started = [FakeOpenAIServer(api_key=None, server_kind=kind).start() for kind in kinds]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def test_ports_default_to_the_servers_default_ports_and_the_variable_replaces_them() -> None:
    assert ports_from_environment({}) == DEFAULT_PORTS == (11434, 1234, 8080, 9931, 8000)
    assert ports_from_environment({"LLMC_LOCAL_PORTS": ""}) == ()
    assert ports_from_environment({"LLMC_LOCAL_PORTS": "8080, 99999 x 0 1234,8080"}) == (8080, 1234)


def test_each_kind_is_told_apart_by_what_it_answers(servers: List[FakeOpenAIServer]) -> None:
    found = LocalServerScanner([s.port for s in servers]).scan()
    assert [(f.kind, f.port, f.model_count) for f in found] == [
        ("ollama", servers[0].port, 3), ("lmstudio", servers[1].port, 3), ("llamacpp", servers[2].port, 3),
        ("vllm", servers[3].port, 3), ("local", servers[4].port, 3)]
    assert found[0].base_url == f"http://127.0.0.1:{servers[0].port}/v1" and found[1].label == "LM Studio"
    assert all("Authorization" not in r["headers"] for s in servers for r in s.requests)


def test_nothing_listening_is_no_server_and_skipped_ports_are_not_probed(servers) -> None:
    assert LocalServerScanner([free_port(), free_port()]).scan() == []
    assert LocalServerScanner([servers[2].port]).scan(skip_ports={servers[2].port}) == []
    assert servers[2].requests == []


def test_a_server_that_wants_a_key_is_reported_as_such() -> None:
    with FakeOpenAIServer(api_key="secret", server_kind="vllm") as server:
        assert LocalServerScanner([server.port]).scan() == [LocalServer("local", server.port, needs_key=True)]


class _OllamaWithoutModels(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = {"/v1/models": b'{"object": "list", "data": null}', "/api/version": b'{"version": "0.6.2"}'}
        self.send_response(200 if self.path in body else 404)
        self.send_header("Content-Length", str(len(body.get(self.path, b""))))
        self.end_headers()
        self.wfile.write(body.get(self.path, b""))

    def log_message(self, *args) -> None:
        pass


def test_an_ollama_without_models_is_found_with_none() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OllamaWithoutModels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert LocalServerScanner([port]).scan() == [LocalServer("ollama", port, model_count=0)]
    finally:
        server.shutdown()
        server.server_close()


class _NotAnLlm(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<html>hello</html>" if self.path == "/" else b'{"data": "not a list"}'
        self.send_response(200 if self.path in ("/", "/v1/models") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_other_servers_and_bare_sockets_are_no_model_servers() -> None:
    web = ThreadingHTTPServer(("127.0.0.1", 0), _NotAnLlm)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        scanner = LocalServerScanner([web.server_address[1], silent.getsockname()[1]], read_timeout=0.3)
        assert scanner.scan() == []
    finally:
        web.shutdown()
        web.server_close()
        silent.close()


def test_local_ports_of_configured_urls() -> None:
    urls = ["http://127.0.0.1:8080/v1", "http://localhost/v1", "https://[::1]/v1", "https://api.openai.com:8000/v1",
            "http://[bad/v1"]
    assert local_ports_of(urls) == {8080, 80, 443}


# Trust: whose server it is (issue 17)
def owned_by(trust: str, uid=None, user: str = ""):
    return lambda port: SocketOwner(uid, user, trust)


def test_a_server_of_another_user_is_not_probed_at_all(servers) -> None:
    scanner = LocalServerScanner([servers[2].port], owner_of=owned_by(FOREIGN, 1234, "mallory"))
    found = scanner.scan()
    assert found == [LocalServer("local", servers[2].port)]
    assert found[0].owner == SocketOwner(1234, "mallory", FOREIGN)
    assert servers[2].requests == []


def test_a_server_whose_owner_is_unknown_is_probed_and_says_so(servers) -> None:
    found = LocalServerScanner([servers[2].port], owner_of=owned_by(UNKNOWN)).scan()
    assert [(f.kind, f.model_count, f.owner.trust) for f in found] == [("llamacpp", 3, UNKNOWN)]


def test_the_real_owner_of_a_server_of_this_user_is_trusted(servers) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp (not Linux)")
    found = LocalServerScanner([servers[0].port]).scan()
    assert found[0].owner.trust == TRUSTED and found[0].owner.uid == os.getuid()


# The scan's deadline: whatever a port sends (issue 17)
def trickled_headers(request, reply) -> None:
    reply.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Slow: " + b"a" * 200, every=0.2)


def trickled_body(request, reply) -> None:
    body = models_list(*[f"m{i}" for i in range(50)])
    reply.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    reply.trickle(body, every=0.2)


def silent_after_accept(request, reply) -> None:
    reply.wait(60)


def test_the_scan_ends_within_its_deadline_whatever_the_ports_send() -> None:
    with HostileServer(trickled_headers) as headers, HostileServer(trickled_body) as body, \
            HostileServer(silent_after_accept) as silent:
        ports = [int(s.origin.rsplit(":", 1)[1]) for s in (headers, body, silent)]
        scanner = LocalServerScanner(ports, owner_of=owned_by(TRUSTED, 0, "root"))
        started = time.monotonic()
        assert scanner.scan() == []
        took = time.monotonic() - started
        assert all(s.requests for s in (headers, body, silent))  # each was asked, and passed over
    assert took < SCAN_DEADLINE + 0.5, took  # the trickles alone would take 40 s and more
