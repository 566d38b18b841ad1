"""A provider as the attacker (tests/hostile_server.py) against the real CLI: no part of a key is
printed, nothing hangs past its deadline, nothing ends in exit 70."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.e2e.cli_support import fake_provider, run_llmc, write_config
from tests.hostile_server import HostileServer, Reply, Request, chat_completion, sse_event

KEY = "K9QxZ7wLm2VbT4nRk8HcJ5pYd3FgA6sEuW1q"
PAD = "x" * 266
CHAT = ["-m", "evil/chat", "-p", "hello"]


def key_characters_in(text: str) -> int:
    """The longest run of the key's characters, in order, that `text` holds."""
    return max((n for n in range(1, len(KEY) + 1) for i in range(len(KEY) - n + 1) if KEY[i:i + n] in text),
               default=0)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def llmc(tmp_path: Path, home: Path, server: HostileServer, *args: str, extra: str = "max_retries = 0",
         stream: bool = True):
    data = tmp_path / "data"
    settings = extra + ("" if stream else "\nstream = false")
    write_config(data, {"evil": fake_provider(server.base_url, KEY, valid_models={"chat": "chat"})}, settings)
    return run_llmc(["-d", str(data), *args], home)


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
