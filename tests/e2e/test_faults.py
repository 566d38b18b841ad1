"""Network faults against the fake server running as a separate process: one line, right exit status."""
from __future__ import annotations

import email.utils
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.cli_support import (MAIN, YAML_NAME, ServerProcess, clean_env, fake_provider,
                                   run_llmc_in_process, snapshot, write_config)

REPLY = "A reply long enough to be cut somewhere in the middle of it. " * 4
CHAT = ["-m", "fake/chat", "-p", "hello"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    options = {"chat_models": ["chat"], "non_chat_models": ["embed"], "reply": REPLY, "chunk_size": 16}
    with ServerProcess(options, workdir=tmp_path_factory.mktemp("server")) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: ServerProcess) -> None:
    server.reset()  # to the options it started with: the process is this module's alone


def configure(tmp_path: Path, url: str, extra: str = "max_retries = 1", key: str = "test-key") -> Path:
    data = tmp_path / "data"
    write_config(data, {"fake": fake_provider(url, key, valid_models={"chat": "chat"})}, extra)
    return data


def llmc(home: Path, data: Path, *args: str):
    """llmc in this process against the server process (Ctrl-C below needs llmc's own process)."""
    return run_llmc_in_process(["-d", str(data), *args], home)


def error_line(result) -> str:
    """The one `llmc: error:` line; no traceback anywhere."""
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("llmc: error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# ----- timeouts --------------------------------------------------------------------------------

def test_stalled_stream_ends_with_a_message(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url, "read_timeout = 0.5")
    server.add_fault("/chat/completions", {"kind": "stall", "after_chars": 20, "seconds": 30})
    started = time.monotonic()
    result = llmc(home, data, *CHAT)
    assert time.monotonic() - started < 20  # ended by the read timeout, not by the server
    assert result.returncode == 1
    assert result.stdout == REPLY[:20] + "\n"
    assert result.stderr.splitlines() == [
        "[reply incomplete]",
        "llmc: error: fake: the stream stalled: nothing received for 0.5 s after 20 characters"]


def test_no_answer_at_all_hits_the_read_timeout(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url, "read_timeout = 0.5")
    server.set(latency=30)
    result = llmc(home, data, *CHAT)
    port = server.base_url.split(":")[2].split("/")[0]
    assert result.returncode == 1
    assert error_line(result) == f"llmc: error: 127.0.0.1:{port} (fake) sent nothing for 0.5 s (read timeout)"


# ----- 429 / 503 -------------------------------------------------------------------------------

def test_rate_limit_is_retried_with_visible_waits(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url, "max_retries = 3")
    server.add_fault("/chat/completions", {"status": 429, "retry_after": "1"})
    server.add_fault("/chat/completions", {"status": 503, "retry_after": "0"})
    result = llmc(home, data, *CHAT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == REPLY + "\n"
    assert result.stderr.splitlines() == ["fake: rate limited (429); retrying in 1 s (retry 1 of 3)",
                                          "fake: service unavailable (503); retrying in 0 s (retry 2 of 3)"]


def test_retry_after_as_an_http_date(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url)
    server.add_fault("/chat/completions", {"status": 429, "retry_after":
                                           email.utils.formatdate(time.time() + 2, usegmt=True)})
    result = llmc(home, data, *CHAT)
    assert result.returncode == 0
    assert re.fullmatch(r"fake: rate limited \(429\); retrying in [0-2](\.\d)? s \(retry 1 of 1\)\n", result.stderr)


@pytest.mark.parametrize("status, label", [(429, "Too Many Requests: Rate limit reached"),
                                           (503, "Service Unavailable")])
def test_gives_up_after_the_last_try(tmp_path: Path, home: Path, server: ServerProcess,
                                     status: int, label: str) -> None:
    data = configure(tmp_path, server.base_url)
    server.add_fault("/chat/completions", {"status": status, "retry_after": "0"}, times=2)
    result = llmc(home, data, *CHAT)
    assert result.returncode == 1 and result.stdout == ""
    assert error_line(result) == f"llmc: error: fake: API request failed with status code {status}. {label} (gave up after 2 tries)"
    assert len(result.stderr.splitlines()) == 2  # one visible wait, then the error


# ----- other HTTP errors -----------------------------------------------------------------------

@pytest.mark.parametrize("status, reason", [(400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"),
                                            (404, "Not Found"), (500, "Internal Server Error"),
                                            (502, "Bad Gateway")])
def test_http_errors_name_status_provider_and_message(tmp_path: Path, home: Path, server: ServerProcess,
                                                      status: int, reason: str) -> None:
    data = configure(tmp_path, server.base_url)
    body = json.dumps({"error": {"message": f"provider says {status}", "type": "x"}})
    server.add_fault("/chat/completions", {"status": status, "body": body, "content_type": "application/json"})
    result = llmc(home, data, *CHAT)
    assert result.returncode == 1 and result.stdout == ""
    expected = f"llmc: error: fake: API request failed with status code {status}. {reason}: provider says {status}"
    if status == 401:
        expected = ("llmc: error: fake: API request failed with status code 401. Is your API key valid? "
                    "Unauthorized: provider says 401 (check FAKE_API_KEY or the provider's api_key)")
    assert error_line(result) == expected
    assert len(result.stderr.splitlines()) == 1


def test_real_wrong_key(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url, key="sk-wrong-key-000111")
    result = llmc(home, data, *CHAT)
    assert result.returncode == 1
    assert error_line(result) == ("llmc: error: fake: API request failed with status code 401. Is your API key valid? Unauthorized: Incorrect API key provided. "
                                  "(check FAKE_API_KEY or the provider's api_key)")


@pytest.mark.parametrize("fault, expected", [
    ({"kind": "html_error", "status": 502}, "llmc: error: fake: API request failed with status code 502. Bad Gateway: HTML error page"),
    ({"kind": "non_json"}, "llmc: error: fake: the reply is not JSON: 'not json at all'"),
    ({"kind": "missing_choices"}, "llmc: error: fake: the reply held no usable text (1 malformed chunk skipped)"),
    ({"status": 200, "body": "<html>captive portal</html>", "content_type": "text/html"},
     "llmc: error: fake: the reply is not an event stream: '<html>captive portal</html>'"),
])
def test_bad_server_replies_to_a_chat(tmp_path: Path, home: Path, server: ServerProcess, fault: dict,
                                      expected: str) -> None:
    data = configure(tmp_path, server.base_url)
    server.add_fault("/chat/completions", fault)
    result = llmc(home, data, *CHAT)
    assert result.returncode == 1
    assert error_line(result) == expected


# ----- connection failures ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["refused", "dns", "tls"])
def test_connection_failures_name_host_and_cause(tmp_path: Path, home: Path, server: ServerProcess,
                                                 kind: str) -> None:
    port = server.base_url.split(":")[2].split("/")[0]
    url, expected = {
        "refused": ("http://127.0.0.1:9/v1", "cannot connect to 127.0.0.1:9 (fake): connection refused"),
        "dns": ("http://llmc-test.invalid/v1", "cannot resolve host llmc-test.invalid (fake)"),
        "tls": (f"https://127.0.0.1:{port}/v1", f"TLS error talking to 127.0.0.1:{port} (fake): "),
    }[kind]
    data = configure(tmp_path, url)
    result = llmc(home, data, *CHAT)
    assert result.returncode == 1
    assert error_line(result).startswith(f"llmc: error: {expected}")
    discovery = llmc(home, data, "--discover-models", "fake")
    assert discovery.returncode == 1 and "Traceback" not in discovery.stderr
    assert f"fake: failed: {expected}" in discovery.stderr and discovery.stdout == ""
    assert not (data / YAML_NAME).exists()


# ----- streams that break ----------------------------------------------------------------------

def test_stream_cut_keeps_and_marks_the_partial_reply(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    server.set(reply="x" * 2000, chunk_size=100)
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 1234})
    result = llmc(home, configure(tmp_path, server.base_url), *CHAT)
    assert result.returncode == 1
    assert result.stdout == "x" * 1234 + "\n"
    assert result.stderr.splitlines() == ["[reply incomplete]",
                                          "llmc: error: fake: connection lost after 1,234 characters"]


@pytest.mark.parametrize("kind", ["malformed_chunk", "bad_shape_chunk"])
def test_malformed_chunk_is_skipped_with_one_warning(tmp_path: Path, home: Path, server: ServerProcess,
                                                     kind: str) -> None:
    server.add_fault("/chat/completions", {"kind": kind, "after_chars": 10})
    result = llmc(home, configure(tmp_path, server.base_url), *CHAT)
    assert result.returncode == 0 and result.stdout == REPLY + "\n"
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("Warning: fake: skipped a malformed stream chunk: ")


def test_a_reply_cut_by_the_token_limit_says_so(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    server.set(finish_reason="length")
    result = llmc(home, configure(tmp_path, server.base_url), *CHAT)
    assert result.returncode == 0 and result.stdout == REPLY + "\n"
    assert result.stderr == "Warning: fake: the reply was cut short by the token limit\n"


def test_ctrl_c_during_a_reply_exits_130_quietly(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url)
    server.add_fault("/chat/completions", {"kind": "stall", "after_chars": 10, "seconds": 30})
    process = subprocess.Popen([sys.executable, str(MAIN), "-d", str(data), *CHAT], env=clean_env(home),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    shown = REPLY[:10].rsplit(" ", 1)[0] + " "  # the word the stall cuts is held back: it might go on into a key
    assert process.stdout.read(len(shown)) == shown
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Traceback" not in err and err.strip().endswith("Interrupted.")


# ----- discovery -------------------------------------------------------------------------------

@pytest.mark.parametrize("fault, cause", [
    ({"kind": "non_json"}, "/models returned a reply that is not JSON"),
    ({"kind": "html_error", "status": 503}, "API request failed with status code 503. Service Unavailable: HTML error page"),
    ({"kind": "empty_data"}, "the /models reply lists no models"),
    ({"kind": "no_data"}, "the /models reply has no 'data' list"),
    ({"kind": "error_200"}, "the /models reply has no 'data' list; the provider says: models endpoint disabled"),
    ({"status": 500}, "API request failed with status code 500. Internal Server Error"),
])
def test_discovery_with_a_bad_models_reply_saves_nothing(tmp_path: Path, home: Path, server: ServerProcess,
                                                         fault: dict, cause: str) -> None:
    data = configure(tmp_path, server.base_url, "max_retries = 0")
    (data / YAML_NAME).write_text("providers:\n  fake:\n    invalid_models: [old]\n")
    before = snapshot(data)
    server.set(fault_rate={"/models": fault})
    result = llmc(home, data, "--discover-models", "fake")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"fake: failed: {cause}" in result.stderr and result.stdout == ""
    assert snapshot(data) == before


def test_discovery_skips_models_without_an_id(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    server.set(fault_rate={"/models": {"kind": "missing_ids", "count": 2}})
    result = llmc(home, configure(tmp_path, server.base_url), "--discover-models", "fake")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fake: 2 models found, 1 valid, 1 invalid, 0 undecided (")
    assert "fake: skipped 2 /models entries without an 'id'\n" in result.stderr


def test_one_failing_provider_does_not_hide_the_others(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    with ServerProcess({"chat_models": ["good-chat"], "non_chat_models": [],
                        "fault_rate": {"/models": {"status": 500}}}, workdir=tmp_path) as broken:
        data = tmp_path / "data"
        write_config(data, {"fake": fake_provider(server.base_url),
                            "broken": fake_provider(broken.base_url)}, "max_retries = 0")
        result = llmc(home, data, "--discover-models")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "fake: 2 models found, 1 valid, 1 invalid, 0 undecided" in result.stdout
    assert "broken: failed: API request failed with status code 500. Internal Server Error" in result.stderr
    assert "nothing was saved" in result.stderr and "failed" not in result.stdout
    assert not (data / YAML_NAME).exists()


def test_ctrl_c_during_discovery_leaves_the_file(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url)
    (data / YAML_NAME).write_text("providers:\n  fake:\n    invalid_models: [old]\n")
    before = snapshot(data)
    server.set(latency=30)
    server.clear_requests()
    process = subprocess.Popen([sys.executable, str(MAIN), "-d", str(data), "--discover-models", "fake"],
                               env=clean_env(home), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not server.requests_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130 and "Traceback" not in err
    assert snapshot(data) == before


def test_connect_timeout_from_config_toml(tmp_path: Path, home: Path) -> None:
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):  # fill the accept backlog so the next connection attempt hangs
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        data = configure(tmp_path, f"http://127.0.0.1:{port}/v1", "connect_timeout = 0.5\nread_timeout = 1\nmax_retries = 0")
        expected = f"cannot connect to 127.0.0.1:{port} (fake): no answer within 0.5 s"
        result = llmc(home, data, *CHAT)
        assert result.returncode == 1 and error_line(result) == f"llmc: error: {expected}"
        discovery = llmc(home, data, "--discover-models", "fake")
        assert discovery.returncode == 1 and f"fake: failed: {expected}" in discovery.stderr
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def test_read_timeout_during_discovery(tmp_path: Path, home: Path, server: ServerProcess) -> None:
    data = configure(tmp_path, server.base_url, "read_timeout = 0.5\nmax_retries = 0")
    server.set(latency=30)
    result = llmc(home, data, "--discover-models", "fake")
    assert result.returncode == 1
    assert "(fake) sent nothing for 0.5 s (read timeout)" in result.stderr
    assert not (data / YAML_NAME).exists()
