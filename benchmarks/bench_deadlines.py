"""Deadlines against a provider that trickles: how long past its configured limit each kind of request ran.

A loopback server (tests/hostile_server.py) sends one byte every 0.2 s, which resets every read timeout,
so only a total deadline ends the request. Each kind gets a 1 s limit; the reference figure is that
limit, and the target is to end within 1.5x of it (the overrun is thread wake-up and socket shut-down).
Streams are measured too: a stream of empty deltas and one event that never ends (stall_timeout).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

from llmc.base.Errors import ApiError  # noqa: E402
from llmc.transport.HttpClient import HttpClient  # noqa: E402
from llmc.transport.HttpSettings import HttpSettings  # noqa: E402
from llmc.OpenAIChatCompletionApi import OpenAIChatCompletionApi  # noqa: E402
from llmc.ProviderConfig import ProviderConfig  # noqa: E402
from tests.hostile_server import HostileServer, Reply, Request, chat_completion, models_list, sse_event  # noqa: E402

LIMIT = 1.0
EVERY = 0.2


def trickled_body(body: bytes) -> Callable[[Request, Reply], None]:
    def script(request: Request, reply: Reply) -> None:
        reply.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        reply.trickle(body, EVERY)
    return script


def trickled_headers(request: Request, reply: Reply) -> None:
    reply.send(b"HTTP/1.1 200 OK\r\n")
    reply.trickle(b"X-Slow: " + b"z" * 500 + b"\r\n", EVERY)


def endless_stream(piece: bytes) -> Callable[[Request, Reply], None]:
    def script(request: Request, reply: Reply) -> None:
        reply.head(200, {"Content-Type": "text/event-stream"})
        reply.send(sse_event("Hi"))
        while reply.send(piece):
            reply.wait(EVERY)
    return script


def timed(script: Callable, limit: str, call: Callable) -> float:
    with HostileServer(script) as server:
        settings = HttpSettings(read_timeout=30, max_retries=0, **{limit: LIMIT})
        started = time.monotonic()
        try:
            call(server, settings)
        except ApiError:
            pass
        return time.monotonic() - started


def client(server: HostileServer, settings: HttpSettings) -> HttpClient:
    return HttpClient("evil", server.base_url, "k" * 20, settings)


def stream(server: HostileServer, settings: HttpSettings) -> None:
    api = OpenAIChatCompletionApi("evil", ProviderConfig(base_api_url=server.base_url, api_key="k" * 20), "m",
                                  settings)
    list(api.stream_chat([{"role": "user", "content": "hi"}]))


CASES = [
    ("model list, trickled body", trickled_body(models_list("m") * 100), "models_timeout",
     lambda s, st: client(s, st).get_json("/models")),
    ("model list, trickled headers", trickled_headers, "models_timeout", lambda s, st: client(s, st).get_json("/models")),
    ("ping, trickled body", trickled_body(chat_completion("pong") * 20), "ping_timeout",
     lambda s, st: client(s, st).post_json("/chat/completions", {}, limit="ping_timeout")),
    ("whole reply, trickled body", trickled_body(chat_completion("hi") * 20), "reply_timeout",
     lambda s, st: client(s, st).post_json("/chat/completions", {})),
    ("stream, trickled headers", trickled_headers, "stall_timeout", stream),
    ("stream of empty deltas", endless_stream(sse_event("")), "stall_timeout", stream),
    ("stream event that never ends", endless_stream(b"d"), "stall_timeout", stream),
]


def main() -> int:
    ok = True
    worst = 0.0
    for title, script, limit, call in CASES:
        took = timed(script, limit, call)
        worst = max(worst, took - LIMIT)
        ok &= report(f"{title} ({limit} = {LIMIT:g} s, a byte every {EVERY:g} s)", "ended after", took,
                     "the configured limit", LIMIT, "<= 1.5", took <= 1.5 * LIMIT)
    print(f"longest time past a limit: {worst:.3f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
