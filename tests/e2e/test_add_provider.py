"""`llmc --add-provider` and `/add-provider` end to end: real processes, a real pty, the fake server on 127.0.0.1."""
from __future__ import annotations

import io
import stat
import sys
from pathlib import Path
from typing import Iterator

import pexpect
import pytest
import yaml

from tests.e2e.cli_support import clean_env, run_llmc
from tests.e2e.pty_support import finish
from tests.fake_openai_server import FakeOpenAIServer

REPO = Path(__file__).resolve().parents[2]
YAML_NAME = "openaicompat-providers.yaml"
SUBMIT = "\r"  # Enter sends


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key=None, chat_models=["chat-a", "chat-b"], non_chat_models=["embed-1"],
                          reply="Hello from the local server.") as srv:
        yield srv


def test_fresh_install_to_a_working_chat_in_two_commands(home: Path, server: FakeOpenAIServer) -> None:
    added = run_llmc(["--add-provider", "local", server.base_url], home)
    assert added.returncode == 0, added.stderr
    data = home / ".llm_chat_cli"
    assert added.stdout.splitlines()[1:] == [
        f"Added provider local ({server.base_url}) to {data / YAML_NAME}.",
        f"Default model set to local/chat-a in {data / 'config.toml'} (the default openai/4.1-mini has no API "
        "key: OPENAI_API_KEY is not set). Start chatting: llmc"]
    assert stat.S_IMODE((data / YAML_NAME).stat().st_mode) == 0o600
    chat = run_llmc([], home, stdin="hi\n")  # bare llmc, a piped stdin: nothing waits for an answer
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip() == "Hello from the local server."
    assert all("Authorization" not in r["headers"] for r in server.requests)


def test_key_env_sends_that_key_and_the_file_names_only_the_variable(home: Path, server: FakeOpenAIServer) -> None:
    server.set(api_key="local-secret-123")
    result = run_llmc(["--add-provider", "guarded", server.base_url, "--key-env", "GUARD_TOKEN"], home,
                      env={"GUARD_TOKEN": "local-secret-123", "OPENAI_API_KEY": "sk-test-openai-1"})
    assert result.returncode == 0, result.stderr
    text = (home / ".llm_chat_cli" / YAML_NAME).read_text()
    assert "local-secret-123" not in text and "local-secret-123" not in result.stdout + result.stderr
    assert yaml.safe_load(text)["providers"]["guarded"]["api_key_env"] == "GUARD_TOKEN"
    assert result.stdout.splitlines()[-1] == ("Chat with it: llmc -m guarded/chat-a  (make it the default: "
                                              "llmc --set-default-model guarded/chat-a)")
    assert {r["headers"].get("Authorization") for r in server.requests} == {"Bearer local-secret-123"}


@pytest.mark.parametrize("args, message", [
    (["--add-provider", "my llm", "http://127.0.0.1:1/v1"], "llmc: error: provider name 'my llm' must be"),
    (["--add-provider", "local", "localhost:8080"], "llmc: error: URL 'localhost:8080' must be an http://"),
    (["--add-provider", "local", "http://127.0.0.1:1/v1", "--key-env", "sk-123"], "llmc: error: --key-env must name an environment variable"),
    (["--key-env", "X"], "llmc: error: --key-env works only with --add-provider"),
    (["--add-provider", "local"], "llmc: error: no provider named 'local' is known, so its URL is needed"),
    (["--add-provider", "openai", "http://127.0.0.1:1/v1"], "llmc: error: provider 'openai' exists already"),
])
def test_bad_input_is_one_line_and_exit_2(home: Path, args, message: str) -> None:
    result = run_llmc(args, home)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr and not (home / ".llm_chat_cli" / YAML_NAME).exists()


def test_a_url_without_v1_gets_the_hint_and_exit_1(home: Path, server: FakeOpenAIServer) -> None:
    root = server.base_url.removesuffix("/v1")
    result = run_llmc(["--add-provider", "local", root], home)
    assert result.returncode == 1
    assert f"(no /v1 at the end of the URL: try {root}/v1)" in result.stderr
    assert "Provider local was not added." in result.stderr
    assert not (home / ".llm_chat_cli" / YAML_NAME).exists()


def test_add_provider_in_the_chat_switches_a_keyless_chat_to_it(home: Path, server: FakeOpenAIServer) -> None:
    env = clean_env(home, {"TERM": "xterm-256color", "LANG": "C.UTF-8", "PROMPT_TOOLKIT_NO_CPR": "1"})
    child = pexpect.spawn(sys.executable, [str(REPO / "main.py")], cwd=str(home), env=env,
                          dimensions=(40, 160), encoding="utf-8", timeout=20)
    child.logfile_read = io.StringIO()
    child.expect_exact("No API key for provider openai")
    child.expect_exact("4.1-mini >")
    child.send("/add-provider local http://127.0.0.1:1/v1 extra" + SUBMIT)
    child.expect_exact("usage: /add-provider NAME [URL] [--key-env VAR]")
    child.send(f"/add-provider local {server.base_url}" + SUBMIT)
    child.expect_exact("local: 3 models found, 2 valid, 1 invalid")
    child.expect_exact(f"Added provider local ({server.base_url})")
    child.expect_exact("Default model set to local/chat-a")
    child.expect_exact("Model set to local/chat-a.")
    child.expect_exact("chat-a >")
    child.send("hello" + SUBMIT)
    child.expect_exact("Hello from the local server.")
    child.expect_exact("chat-a *>")
    finish(child)
    saved = yaml.safe_load((home / ".llm_chat_cli" / YAML_NAME).read_text())["providers"]["local"]
    assert saved["base_api_url"] == server.base_url and list(saved["valid_models"]) == ["chat-a", "chat-b"]
    assert 'model = "local/chat-a"' in (home / ".llm_chat_cli" / "config.toml").read_text()


def test_discover_models_in_a_keyless_chat_finds_a_local_server_and_switches_to_it(home: Path) -> None:
    with FakeOpenAIServer(api_key=None, server_kind="ollama", chat_models=["llama3.2"], non_chat_models=[],
                          reply="Hello from Ollama.") as ollama:
        env = clean_env(home, {"TERM": "xterm-256color", "LANG": "C.UTF-8", "PROMPT_TOOLKIT_NO_CPR": "1",
                               "LLMC_LOCAL_PORTS": str(ollama.port)})
        child = pexpect.spawn(sys.executable, [str(REPO / "main.py")], cwd=str(home), env=env,
                              dimensions=(40, 160), encoding="utf-8", timeout=20)
        child.logfile_read = io.StringIO()
        child.expect_exact("4.1-mini >")
        child.send("/discover-models" + SUBMIT)
        child.expect_exact(f"Found a local Ollama server at {ollama.base_url}: added as provider ollama")
        child.expect_exact("ollama: 1 model found, 1 valid")
        child.expect_exact("Default model set to ollama/llama3.2")
        child.expect_exact("Model set to ollama/llama3.2.")
        child.expect_exact("llama3.2 >")
        child.send("hi" + SUBMIT)
        child.expect_exact("Hello from Ollama.")
        child.expect_exact("llama3.2 *>")  # the reply is done and the prompt is back before /exit is typed
        finish(child)
