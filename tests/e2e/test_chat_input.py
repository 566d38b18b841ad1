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
