"""A provider as the attacker (tests/hostile_server.py) against the real CLI: no part of a key is
printed, nothing hangs past its deadline, nothing ends in exit 70."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.e2e.cli_support import MAIN, clean_env, fake_provider, run_llmc, run_measuring_memory, write_config
from tests.hostile_server import HostileServer, Reply, Request, chat_completion, sse_event

KEY = "K9QxZ7wLm2VbT4nRk8HcJ5pYd3FgA6sEuW1q"
PAD = "x" * 266
CHAT = ["-m", "evil/chat", "-p", "hello"]


def key_characters_in(text: str) -> int:
    """The longest run of the key's characters, in order, that `text` holds."""
    return max((n for n in range(1, len(KEY) + 1) for i in range(len(KEY) - n + 1) if KEY[i:i + n] in text),
               default=0)


def configure(tmp_path: Path, server: HostileServer, extra: str = "max_retries = 0", stream: bool = True) -> Path:
    data = tmp_path / "data"
    settings = extra + ("" if stream else "\nstream = false")
    write_config(data, {"evil": fake_provider(server.base_url, KEY, valid_models={"chat": "chat"})}, settings)
    return data


def llmc(tmp_path: Path, home: Path, server: HostileServer, *args: str, extra: str = "max_retries = 0",
         stream: bool = True):
    return run_llmc(["-d", str(configure(tmp_path, server, extra, stream)), *args], home)


def llmc_peak_memory(tmp_path: Path, home: Path, server: HostileServer, *args: str):
    """llmc's result and its own peak memory in MB."""
    command = [sys.executable, str(MAIN), "-d", str(configure(tmp_path, server)), *args]
    return run_measuring_memory(command, cwd=str(home), env=clean_env(home))


def one_error(result) -> str:
    assert "Traceback" not in result.stderr + result.stdout and result.returncode not in (0, 70), result
    errors = [line for line in result.stderr.splitlines() if line.startswith("llmc: error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def sse(*events: bytes) -> Callable[[Request, Reply], None]:
    def script(request: Request, reply: Reply) -> None:
        body = b"".join(events)
        reply.whole(200, body, "text/event-stream")
    return script


def error_reply(status: int, body: bytes, content_type: str = "application/json") -> Callable:
    return lambda request, reply: reply.whole(status, body, content_type)


ECHOES = {
    "padded error message": error_reply(400, json.dumps({"error": {"message": PAD + KEY}}).encode()),
    "padded plain error": error_reply(500, (PAD + KEY).encode(), "text/plain"),
    "padded html title": error_reply(502, f"<html><title>{PAD[:100]}{KEY}</title></html>".encode(), "text/html"),
    "partial echo": error_reply(401, json.dumps({"error": {"message": f"Incorrect API key provided: {KEY[:-4]}****"}}).encode()),
    "suffix echo": error_reply(403, json.dumps({"error": {"message": f"key ****{KEY[-10:]} refused"}}).encode()),
    "non-JSON reply": error_reply(200, (PAD[:40] + KEY).encode(), "application/json"),
    "non-stream body": error_reply(200, b"<html>" + (PAD[:40] + KEY).encode(), "text/html"),
    "error event": sse(b"data: " + json.dumps({"error": {"message": PAD + KEY}}).encode() + b"\n\n"),
    "error event, text": sse(b"data: " + json.dumps({"error": PAD + KEY}).encode() + b"\n\n"),
    "malformed chunk": sse(sse_event("ok"), b"data: {" + (PAD[:40] + KEY).encode() + b"\n\n",
                           sse_event(None, "stop"), b"data: [DONE]\n\n"),
}


@pytest.mark.parametrize("attack", list(ECHOES))
def test_no_key_characters_are_printed(attack: str, tmp_path: Path, home: Path) -> None:
    with HostileServer(ECHOES[attack]) as server:
        result = llmc(tmp_path, home, server, *CHAT)
    assert key_characters_in(result.stdout + result.stderr) < 6, result.stderr
    assert "Traceback" not in result.stderr and result.returncode != 70


@pytest.mark.parametrize("attack", ["padded error message", "partial echo", "non-JSON reply"])
def test_no_key_characters_are_printed_by_discovery(attack: str, tmp_path: Path, home: Path) -> None:
    with HostileServer(ECHOES[attack]) as server:
        result = llmc(tmp_path, home, server, "--discover-models", "evil")
    assert key_characters_in(result.stdout + result.stderr) < 6, result.stderr
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_an_invalid_base_url_is_shown_without_its_password_and_query(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    url = "http://user:hunter2secret@bad host/v1?api_key=querysecret1"
    write_config(data, {"evil": fake_provider(url, KEY, valid_models={"chat": "chat"})})
    for args in (CHAT, ["--discover-models", "evil"]):
        result = run_llmc(["-d", str(data), *args], home)
        shown = result.stdout + result.stderr
        assert "invalid base_api_url for evil: http://user:********@bad host/v1?********" in shown, shown
        assert "hunter2secret" not in shown and "querysecret1" not in shown
        assert result.returncode == 1


# ----- every request ends on its own (issue 9 item 6) --------------------------------------------

def trickled(status: int, body: bytes, every: float = 0.3, content_type: str = "application/json") -> Callable:
    def script(request: Request, reply: Reply) -> None:
        reply.head(status, {"Content-Type": content_type, "Content-Length": str(len(body))})
        reply.trickle(body, every)
    return script


def routed(models: Callable, chat: Callable) -> Callable:
    return lambda request, reply: (models if request.path.endswith("/models") else chat)(request, reply)


def models_reply(*ids: str) -> Callable:
    from tests.hostile_server import models_list
    return lambda request, reply: reply.whole(200, models_list(*ids))


def test_a_trickled_model_list_ends_at_models_timeout(tmp_path: Path, home: Path) -> None:
    from tests.hostile_server import models_list
    with HostileServer(trickled(200, models_list("a", "b") * 20, every=0.2)) as server:
        result = llmc(tmp_path, home, server, "--discover-models", "evil", extra="models_timeout = 1")
        elapsed = time.monotonic() - server.requests[0].received  # llmc's start-up left out
    assert f"{server.host} (evil) did not finish its reply within 1 s (models_timeout in config.toml)" in result.stderr
    assert "evil: failed:" in result.stderr and result.returncode == 1
    assert elapsed < 1 + 4


def test_trickled_pings_end_at_ping_timeout(tmp_path: Path, home: Path) -> None:
    with HostileServer(routed(models_reply("m1", "m2"), trickled(200, chat_completion("pong"), every=0.3))) as server:
        result = llmc(tmp_path, home, server, "--discover-models", "evil", extra="ping_timeout = 1")
        elapsed = time.monotonic() - server.requests[0].received  # llmc's start-up left out
    assert "evil: 2 models found, 0 valid, 0 invalid, 2 undecided" in result.stdout, result.stderr
    assert elapsed < 1 * 3 + 4  # one ping round per model at most


def test_a_trickled_whole_reply_ends_at_reply_timeout(tmp_path: Path, home: Path) -> None:
    with HostileServer(trickled(200, chat_completion("never all of it"), every=0.3)) as server:
        result = llmc(tmp_path, home, server, *CHAT, extra="reply_timeout = 1", stream=False)
        elapsed = time.monotonic() - server.requests[0].received  # llmc's start-up left out
    assert one_error(result) == (f"llmc: error: {server.host} (evil) did not finish its reply within 1 s "
                                 "(reply_timeout in config.toml)")
    assert elapsed < 1 + 4


def test_trickled_headers_end_at_the_deadline(tmp_path: Path, home: Path) -> None:
    def script(request: Request, reply: Reply) -> None:
        reply.send(b"HTTP/1.1 200 OK\r\n")
        reply.trickle(b"X-Slow: " + b"z" * 200 + b"\r\n", every=0.2)
    with HostileServer(script) as server:
        result = llmc(tmp_path, home, server, *CHAT, extra="stall_timeout = 1")
        elapsed = time.monotonic() - server.requests[0].received  # llmc's start-up left out
    assert "did not finish its reply within 1 s (stall_timeout in config.toml)" in one_error(result)
    assert elapsed < 1 + 4


@pytest.mark.parametrize("stall", ["empty deltas", "an event that never ends", "keep-alive comments"])
def test_a_stream_without_text_ends_at_stall_timeout(stall: str, tmp_path: Path, home: Path) -> None:
    def script(request: Request, reply: Reply) -> None:
        reply.head(200, {"Content-Type": "text/event-stream"})
        reply.send(sse_event("Hello"))
        for _ in range(200):
            piece = {"empty deltas": sse_event(""), "an event that never ends": b"d",
                     "keep-alive comments": b": busy\n\n"}[stall]
            if not reply.send(piece):
                return
            reply.wait(0.1)
    with HostileServer(script) as server:
        result = llmc(tmp_path, home, server, *CHAT, extra="stall_timeout = 1")
        elapsed = time.monotonic() - server.requests[0].received  # llmc's start-up left out
    assert one_error(result) == ("llmc: error: evil: the stream stalled: only keep-alives, no reply text, for 1 s "
                                 "(stall_timeout in config.toml); cut after 5 characters")
    assert result.stdout == "Hello\n" and elapsed < 1 + 4


# ----- memory stays bounded (issue 9 items 7 and 8) -------------------------------------------------

def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes gzip-compressed, built without holding them."""
    import zlib
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(size >> 20)) + packer.flush()


@pytest.mark.stress
def test_a_huge_model_list_is_refused_at_the_limit(tmp_path: Path, home: Path) -> None:
    from tests.hostile_server import models_list
    body = models_list(*(f"model-{i:07d}" for i in range(400_000)))  # about 17 MB
    with HostileServer(lambda request, reply: reply.whole(200, body)) as server:
        result = llmc(tmp_path, home, server, "--discover-models", "evil")
    assert "evil: failed: the reply is larger than 16 MB, the most llmc reads; it was not read further" in result.stderr
    assert "models found" not in result.stdout and result.returncode == 1


@pytest.mark.stress
def test_a_gzip_bomb_is_not_expanded_past_the_limit(tmp_path: Path, home: Path) -> None:
    bomb = gzip_bomb(512 << 20)  # 512 MB of zeros in about 500 KB
    with HostileServer(lambda request, reply: reply.whole(200, bomb, headers={"Content-Encoding": "gzip"})) as server:
        result, peak_mb = llmc_peak_memory(tmp_path, home, server, "--discover-models", "evil")
    assert "evil: failed: the reply is larger than 16 MB" in result.stderr and result.returncode == 1
    assert peak_mb < 400


@pytest.mark.stress
def test_an_endless_stream_line_is_cut_at_the_limit(tmp_path: Path, home: Path) -> None:
    def script(request: Request, reply: Reply) -> None:
        reply.head(200, {"Content-Type": "text/event-stream"})
        reply.send(sse_event("Hi") + b'data: {"choices": [{"delta": {"content": "')
        block = b"a" * (1 << 20)
        for _ in range(1024):  # 1 GB with no line end
            if not reply.send(block):
                return
    with HostileServer(script) as server:
        result, peak_mb = llmc_peak_memory(tmp_path, home, server, *CHAT)
    assert one_error(result) == ("llmc: error: evil: one piece of the reply grew past 4 MB without ending "
                                 "(the most llmc reads); cut after 2 characters")
    assert result.stdout == "Hi\n" and peak_mb < 400


@pytest.mark.parametrize("chunked", [False, True])
def test_a_gzip_compressed_event_stream_is_decompressed(chunked: bool, tmp_path: Path, home: Path) -> None:
    from tests.hostile_server import gzip_bytes
    stream = gzip_bytes(sse_event("Hello, ") + sse_event("world.") + sse_event(None, "stop") + b"data: [DONE]\n\n")

    def script(request: Request, reply: Reply) -> None:
        headers = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
        if chunked:
            reply.head(200, {**headers, "Transfer-Encoding": "chunked"})
            for start in range(0, len(stream), 7):
                reply.chunk(stream[start:start + 7])
            reply.chunk(b"")
        else:  # no length, no chunks: the body ends when the connection closes
            reply.head(200, headers)
            reply.send(stream)
    with HostileServer(script) as server:
        result = llmc(tmp_path, home, server, *CHAT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, world.\n"
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_an_unknown_content_encoding_is_one_clear_line(tmp_path: Path, home: Path) -> None:
    with HostileServer(lambda request, reply: reply.whole(200, b"\x00\x01", "text/event-stream",
                                                          {"Content-Encoding": "br"})) as server:
        result = llmc(tmp_path, home, server, *CHAT)
    assert one_error(result) == ("llmc: error: evil: the reply is compressed as 'br', which llmc cannot read "
                                 "(it asks for gzip or deflate only)")


# ----- redirects never carry a chat to another host (issue 9 item 4) -------------------------------

def redirect_to(location: str, status: int) -> Callable:
    return lambda request, reply: reply.whole(status, b"", "text/plain", {"Location": location})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_not_followed(status: int, tmp_path: Path, home: Path) -> None:
    with HostileServer(lambda request, reply: reply.whole(200, chat_completion("stolen"))) as elsewhere:
        with HostileServer(redirect_to(elsewhere.base_url + "/chat/completions", status)) as server:
            result = llmc(tmp_path, home, server, *CHAT)
            listed = llmc(tmp_path, home, server, "--discover-models", "evil")
    assert elsewhere.requests == []  # neither the conversation nor anything else went there
    assert one_error(result) == (f"llmc: error: evil: {server.host} redirected the request ({status}) to another "
                                 f"host, {elsewhere.host}; not followed, so nothing was sent there: if that host "
                                 "is the provider's new address, set base_api_url to it")
    assert f"redirected the request ({status}) to another host, {elsewhere.host}" in listed.stderr
    assert listed.returncode == 1


def test_a_redirect_within_the_origin_is_followed(tmp_path: Path, home: Path) -> None:
    def script(request: Request, reply: Reply) -> None:
        if request.path == "/v1/chat/completions":
            return reply.whole(307, b"", "text/plain", {"Location": "/v2/chat/completions"})
        reply.whole(200, b"data: " + json.dumps({"choices": [{"delta": {"content": "moved"}, "finish_reason": "stop"}]}).encode()
                    + b"\n\ndata: [DONE]\n\n", "text/event-stream")
    with HostileServer(script) as server:
        result = llmc(tmp_path, home, server, *CHAT)
    assert result.returncode == 0 and result.stdout == "moved\n", result.stderr
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v2/chat/completions"]
    assert server.requests[1].json == server.requests[0].json  # 307 sends the same conversation again


def test_a_redirect_that_would_turn_a_chat_into_a_get_is_refused(tmp_path: Path, home: Path) -> None:
    with HostileServer(redirect_to("/v2/chat/completions", 302)) as server:
        result = llmc(tmp_path, home, server, *CHAT)
    assert one_error(result) == (f"llmc: error: evil: {server.host} redirected the POST request (302) to "
                                 "/v2/chat/completions, which would turn it into a GET; set base_api_url to "
                                 "the address it points to")
    assert len(server.requests) == 1


def test_pings_redirected_to_another_host_send_nothing_there(tmp_path: Path, home: Path) -> None:
    with HostileServer(lambda request, reply: reply.whole(200, chat_completion("pong"))) as elsewhere:
        redirect = redirect_to(elsewhere.base_url + "/chat/completions", 307)
        with HostileServer(routed(models_reply("m1", "m2"), redirect)) as server:
            result = llmc(tmp_path, home, server, "--discover-models", "evil")
    assert elsewhere.requests == []
    assert "evil: 2 models found, 0 valid, 0 invalid, 2 undecided" in result.stdout, result.stderr
