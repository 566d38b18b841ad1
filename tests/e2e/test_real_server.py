"""llmc against a real model server: llama.cpp's server (llama-cpp-python) with Gemma 3 270M on 127.0.0.1.

The model is a small base model: it never says "pong", so these tests prove that a ping judges by the
shape of the reply, not by its words. Run them alone with `pytest -m real_server` (README: the
real-server tests); they skip when the server cannot run here, and fail instead under .ci/run.
"""
from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Iterator, Tuple

import pexpect
import pytest
import yaml

from tests.e2e.cli_support import ANSI, clean_env, run_llmc
from tests.real_server import MODEL_ID, REQUIRED, RealModelServer, RecordingProxy, ServerUnavailable, \
    streamed_content

pytestmark = pytest.mark.real_server
REPO = Path(__file__).resolve().parents[2]
YAML_NAME = "openaicompat-providers.yaml"
SUBMIT = "\r"  # Enter sends
TIMEOUT = 120  # a loaded 2-core machine runs this model at a few tokens a second


@pytest.fixture(scope="session")
def llama_server() -> Iterator[RealModelServer]:
    try:
        server = RealModelServer().start()
    except ServerUnavailable as exc:
        if REQUIRED:
            pytest.fail(f"the real model server is required (LLMC_REQUIRE_REAL_SERVER=1) but cannot run: {exc}")
        pytest.skip(f"no real model server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def proxy(llama_server: RealModelServer) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(llama_server.base_url).start()
    yield recording
    recording.stop()


@pytest.fixture
def keyless_home(tmp_path: Path, proxy: RecordingProxy) -> Tuple[Path, Path]:
    """A HOME whose config.toml names the server as provider `gemma`, with no key anywhere."""
    home = tmp_path / "home"
    data = home / ".llm_chat_cli"
    data.mkdir(parents=True)
    (data / "config.toml").write_text(f'[providers.gemma]\nname = "llama.cpp"\nbase_api_url = "{proxy.base_url}"\n')
    return home, data


def test_discovery_with_no_key_marks_the_model_valid(keyless_home, proxy):
    home, data = keyless_home
    result = run_llmc(["--discover-models", "gemma"], home, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gemma: 1 model found, 1 valid, 0 invalid, 0 undecided (")
    assert "no API key" not in result.stderr
    saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["gemma"]
    assert saved["valid_models"] == {MODEL_ID: MODEL_ID} and saved["invalid_models"] == []
    (ping,) = proxy.chats()
    assert ping["json"]["messages"] == [{"role": "user", "content": "Hi"}] and ping["json"]["max_tokens"] == 16
    assert "Authorization" not in ping["headers"] and ping["status"] == 200
    assert "pong" not in ping["reply"].decode().lower()  # valid for being a chat reply, not for its words


def test_a_prompt_streams_what_the_server_sent(keyless_home, proxy):
    home, data = keyless_home
    with open(data / "config.toml", "a") as fh:
        fh.write(f'valid_models = {{ "{MODEL_ID}" = "gemma" }}\n')
    result = run_llmc(["-m", "gemma/gemma", "-p", "Write one sentence about the sea."], home, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    (chat,) = proxy.chats()
    assert chat["json"]["stream"] is True and chat["json"]["model"] == MODEL_ID
    answer = streamed_content(chat["reply"])
    assert answer.strip(), "the server sent no text"
    assert result.stdout.rstrip("\n") == answer.rstrip("\n")


def test_the_chat_answers_in_a_terminal(keyless_home, proxy):
    home, data = keyless_home
    with open(data / "config.toml", "a") as fh:
        fh.write(f'valid_models = {{ "{MODEL_ID}" = "gemma" }}\n')
    env = clean_env(home, {"TERM": "xterm-256color", "LANG": "C.UTF-8", "PROMPT_TOOLKIT_NO_CPR": "1"})
    child = pexpect.spawn(sys.executable, [str(REPO / "main.py"), "-m", "gemma/gemma"], cwd=str(home), env=env,
                          dimensions=(40, 200), encoding="utf-8", timeout=TIMEOUT)
    child.logfile_read = io.StringIO()
    child.expect_exact("gemma >")
    child.send("Tell me about the sea." + SUBMIT)
    child.expect_exact("gemma *>")  # the prompt again once the reply is in (* = unsaved changes)
    child.send("/exit" + SUBMIT)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    screen = ANSI.sub("", child.logfile_read.getvalue())
    (chat,) = proxy.chats()
    words = re.findall(r"[A-Za-z]{3,}", streamed_content(chat["reply"]))
    assert words, "the server sent no words"
    shown = screen.split("Tell me about the sea.", 1)[1]
    assert all(word in shown for word in words[:3]), (words[:3], shown[-1500:])


def test_add_provider_discovers_the_server_and_a_bare_llmc_chats_with_it(tmp_path, proxy):
    home = tmp_path / "home"
    home.mkdir()
    added = run_llmc(["--add-provider", "gemma", proxy.base_url], home, timeout=TIMEOUT)
    assert added.returncode == 0, added.stderr
    data = home / ".llm_chat_cli"
    assert f"Added provider gemma ({proxy.base_url}) to {data / YAML_NAME}." in added.stdout
    assert f"Default model set to gemma/{MODEL_ID}" in added.stdout
    saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["gemma"]
    assert saved["base_api_url"] == proxy.base_url and MODEL_ID in saved["valid_models"]
    proxy.clear()
    chat = run_llmc([], home, stdin="Write one sentence about the sea.\n", timeout=TIMEOUT)
    assert chat.returncode == 0, chat.stderr
    (sent,) = proxy.chats()
    assert chat.stdout.rstrip("\n") == streamed_content(sent["reply"]).rstrip("\n")
