"""RequestDeadline: a total limit per request, held even against a server trickling bytes (tests/hostile_server.py)."""
from __future__ import annotations

import time

import pytest

from llmc.base.Errors import ApiError
from llmc.transport.HttpClient import HttpClient
from llmc.transport.HttpSettings import HttpSettings
from tests.hostile_server import HostileServer, Reply, Request, chat_completion, models_list

LIMIT = 0.5
SLACK = 0.5  # thread wake-up and socket shut-down; measured well under 0.1 s


def trickle_body(body: bytes) -> object:
    def script(request: Request, reply: Reply) -> None:
        reply.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        reply.trickle(body, every=0.1)
    return script


def trickle_headers(request: Request, reply: Reply) -> None:
    reply.send(b"HTTP/1.1 200 OK\r\n")
    reply.trickle(b"X-Slow: " + b"z" * 100 + b"\r\n", every=0.1)


@pytest.mark.parametrize("limit, call, script", [
    ("models_timeout", lambda c: c.get_json("/models"), trickle_body(models_list("a") * 50)),
    ("models_timeout", lambda c: c.get_json("/models"), trickle_headers),
    ("ping_timeout", lambda c: c.post_json("/chat/completions", {}, limit="ping_timeout"),
     trickle_body(chat_completion("pong") * 5)),
    ("reply_timeout", lambda c: c.post_json("/chat/completions", {}), trickle_body(chat_completion("hi") * 5)),
    ("stall_timeout", lambda c: c.request("POST", "/chat/completions", {}, stream=True, limit="stall_timeout"),
     trickle_headers),
])
def test_a_trickling_server_is_cut_off_at_the_deadline(limit, call, script) -> None:
    with HostileServer(script) as server:
        client = HttpClient("evil", server.base_url, "k" * 20, HttpSettings(read_timeout=5, **{limit: LIMIT}))
        started = time.monotonic()
        with pytest.raises(ApiError) as info:
            call(client)
        elapsed = time.monotonic() - started
    assert str(info.value) == (f"{server.host} (evil) did not finish its reply within {LIMIT:g} s "
                               f"({limit} in config.toml)")
    assert LIMIT <= elapsed < LIMIT + SLACK


def test_replies_in_time_are_not_touched() -> None:
    with HostileServer(lambda request, reply: reply.whole(200, models_list("a"))) as server:
        client = HttpClient("evil", server.base_url, "k" * 20, HttpSettings(models_timeout=LIMIT))
        assert client.get_json("/models")["data"][0]["id"] == "a"
        time.sleep(LIMIT * 1.5)  # the deadline's timer has long been cancelled
        assert client.get_json("/models")["data"][0]["id"] == "a"


def test_a_deadline_around_a_request_cuts_it_off_too() -> None:
    from llmc.transport.RequestDeadline import RequestDeadline
    with HostileServer(trickle_headers) as server:
        client = HttpClient("evil", server.base_url, "k" * 20, HttpSettings(read_timeout=5, models_timeout=30))
        started = time.monotonic()
        with RequestDeadline(LIMIT) as outer, pytest.raises(ApiError):
            client.get_json("/models")  # its own 30 s deadline is inside the outer one (a discovery's)
        elapsed = time.monotonic() - started
    assert outer.expired and LIMIT <= elapsed < LIMIT + SLACK
