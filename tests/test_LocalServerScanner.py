"""LocalServerScanner: the ports it looks at, and telling real (fake) local servers of each kind apart."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List

import pytest

from llmc.discovery.LocalServerScanner import (DEFAULT_PORTS, LocalServer, LocalServerScanner, local_ports_of,
                                     ports_from_environment)
from tests.fake_openai_server import FakeOpenAIServer


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
