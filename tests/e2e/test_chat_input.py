"""What a user hands llmc: prompts, piped text, files; options and usage (CLI runs and a real pty)."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.cli_support import fake_provider, run_llmc, write_config
from tests.e2e.test_chat_pty import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

REPLY = "Hello from the fake server."
COMMENTED = '# mine\nmodel = "fake/fc1"  # keep this comment\n'


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["fake-chat-1", "fake-chat-2"], reply=REPLY) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(
        server.base_url, valid_models={"fake-chat-1": "fc1", "fake-chat-2": "fc2"})}, extra=COMMENTED)
    return directory


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def llmc(home: Path, data: Path, *args: str, **kwargs):
    return run_llmc(["-d", str(data), *args], home, **kwargs)


def chat_requests(server: FakeOpenAIServer) -> list:
    return [r["json"] for r in server.request_log() if r["path"].endswith("/chat/completions")]


# The default model
def test_set_default_model_flag_writes_config_toml_keeping_comments(home: Path, data: Path,
                                                                     server: FakeOpenAIServer) -> None:
    config = data / "config.toml"
    config.chmod(0o640)
    result = llmc(home, data, "--set-default-model", "fc2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Default model set to fake/fake-chat-2 in {config}.\n"
    text = config.read_text()
    assert text.startswith('# mine\nmodel = "fake/fake-chat-2"  # keep this comment\n')
    assert "[providers.fake]" in text and stat.S_IMODE(config.stat().st_mode) == 0o640
    assert llmc(home, data, "-p", "hi").returncode == 0
    assert chat_requests(server)[-1]["model"] == "fake-chat-2"


def test_set_default_model_flag_refuses_an_unknown_model(home: Path, data: Path) -> None:
    before = (data / "config.toml").read_text()
    result = llmc(home, data, "--set-default-model", "nonesuch")
    assert result.returncode == 2 and result.stderr.startswith("llmc: error: Invalid model: nonesuch.")
    assert (data / "config.toml").read_text() == before
    both = llmc(home, data, "--set-default-model", "fc2", "-p", "hi")
    assert both.returncode == 2
    assert "--set-default-model and -p/--prompt cannot be used together" in both.stderr


def test_set_default_in_the_chat(data: Path) -> None:
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "/mod fc2")
    child.expect_exact("fc2 >")
    send(child, "/set-default")
    child.expect_exact(f"Default model set to fake/fake-chat-2 in {data / 'config.toml'}.")
    send(child, "/set-default bogus")
    child.expect_exact("ERROR: Invalid model: bogus.")
    send(child, "/mod fc1")
    child.expect_exact("fc1 >")
    send(child, "/dm")  # the new default
    child.expect_exact("Model set to fake/fake-chat-2.")
    finish(child)
    assert 'model = "fake/fake-chat-2"  # keep this comment' in (data / "config.toml").read_text()


# Prompts
def test_a_positional_prompt_does_what_p_does(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=True)
    result = llmc(home, data, "explain git rebase")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: explain git rebase\n"
    words = llmc(home, data, "-m", "fc2", "explain", "git", "rebase")
    assert words.returncode == 0 and words.stdout == "echo: explain git rebase\n"
    sent = chat_requests(server)
    assert [m["content"] for m in sent[-1]["messages"] if m["role"] == "user"] == ["explain git rebase"]
    assert sent[-1]["model"] == "fake-chat-2"


def test_p_and_a_positional_prompt_are_refused(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "-p", "one", "two")
    assert result.returncode == 2 and result.stderr == (
        "llmc: error: -p/--prompt and a positional prompt ('two') cannot be used together: give one\n")
    assert chat_requests(server) == []
    listed = llmc(home, data, "-l", "hello")
    assert listed.returncode == 2 and "-l/--list-models and -p/--prompt cannot be used together" in listed.stderr


def test_a_prompt_and_piped_stdin_send_both(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=True)
    result = llmc(home, data, "-p", "summarize", stdin="line one\nline two\n")
    assert result.returncode == 0, result.stderr
    assert chat_requests(server)[-1]["messages"][-1] == {"role": "user",
                                                        "content": "summarize\n\nline one\nline two\n"}
    positional = llmc(home, data, "summarize", stdin="notes")
    assert positional.returncode == 0
    assert chat_requests(server)[-1]["messages"][-1]["content"] == "summarize\n\nnotes"
    alone = llmc(home, data, stdin="piped alone")
    assert alone.returncode == 0 and alone.stdout == "echo: piped alone\n"
    nothing = llmc(home, data, "-p", "just this")  # stdin is /dev/null: the prompt alone
    assert nothing.returncode == 0 and chat_requests(server)[-1]["messages"][-1]["content"] == "just this"


def test_help_states_the_prompt_and_stdin_rule(home: Path) -> None:
    text = " ".join(run_llmc(["--help"], home).stdout.split())
    assert "a prompt and a piped stdin are sent together: the prompt, a blank line, then the piped text" in text
