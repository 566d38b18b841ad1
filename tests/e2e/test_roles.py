"""Roles end to end: -r for a run and -p, -s beating a role, --list-roles, bad role files, /role with Tab
completion in a real pty, and a resumed chat going on with its role; proved by what the server received."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from llmc.store.ChatStore import ChatStore
from llmc.store.Roles import BUILT_IN
from tests.e2e.cli_support import fake_provider, run_llmc_in_process, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

MODELS = {"chat-a": "ca", "chat-b": "cb"}
POET = "---\nmodel: fake/cb\ntemperature: 0.9\n---\nYou answer in verse.\n"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=list(MODELS), echo=True) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(server.base_url, valid_models=MODELS)}, 'model = "fake/ca"')
    (directory / "roles").mkdir()
    (directory / "roles" / "poet.md").write_text(POET)
    return directory


def llmc(home: Path, data: Path, *args: str):
    return run_llmc_in_process(["-d", str(data), *args], home)


def last_request(server: FakeOpenAIServer) -> dict:
    return [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]


def test_a_role_sets_the_prompt_model_and_temperature_and_flags_beat_it(home: Path, data: Path,
                                                                         server: FakeOpenAIServer) -> None:
    assert llmc(home, data, "-r", "poet", "-p", "hi").returncode == 0
    sent = last_request(server)
    assert sent["messages"][0] == {"role": "system", "content": "You answer in verse."}
    assert sent["model"] == "chat-b" and sent["temperature"] == 0.9
    assert llmc(home, data, "-r", "poet", "-s", "Be terse.", "-m", "ca", "--temperature", "0.2", "-p", "hi").returncode == 0
    sent = last_request(server)
    assert sent["messages"][0]["content"] == "Be terse." and sent["model"] == "chat-a" and sent["temperature"] == 0.2
    assert llmc(home, data, "--role", "shell", "-p", "list files").returncode == 0
    assert last_request(server)["messages"][0]["content"] == BUILT_IN["shell"]


def test_list_roles_and_bad_roles(home: Path, data: Path) -> None:
    listed = llmc(home, data, "--list-roles")
    assert listed.returncode == 0
    assert any(line.startswith("poet") and "(model fake/cb, temperature 0.9): You answer in verse." in line
               for line in listed.stdout.splitlines())
    assert any(line.startswith("reviewer     built in:") for line in listed.stdout.splitlines())
    unknown = llmc(home, data, "-r", "nonesuch", "-p", "hi")
    assert unknown.returncode == 2 and unknown.stderr.startswith("llmc: error: no role 'nonesuch'")
    (data / "roles" / "poet.md").write_text("---\ntemperature: warm\n---\nverse")
    bad = llmc(home, data, "-r", "poet", "-p", "hi")
    assert bad.returncode == 2 and bad.stderr == (f"llmc: error: {data / 'roles' / 'poet.md'}: field 'temperature': "
                                                  "must be a number from 0 to 2 (got 'warm')\n")


def test_role_in_the_chat_with_tab_completion_and_a_resumed_chat_keeps_it(data: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data)
    child.expect_exact("ca >")
    send(child, "/role")
    child.expect_exact("No role. /role NAME takes one")
    child.send("/role po\t")
    child.expect_exact("/role poet")
    child.send("\r")
    child.expect_exact(f"Role poet ({data / 'roles' / 'poet.md'}); model set to fake/chat-b.")
    send(child, "rhyme")
    child.expect_exact("echo: rhyme")
    child.expect_exact("cb *>")
    finish(child)
    sent = last_request(server)
    assert sent["messages"][0]["content"] == "You answer in verse." and sent["temperature"] == 0.9
    store = ChatStore(data)
    assert store.load(store.latest())[1][0]["role_name"] == "poet"
    again = spawn(data, "-C")
    again.expect_exact("cb *>")
    send(again, "/role")
    again.expect_exact("Role: poet.")
    send(again, "/role off")
    again.expect_exact("No role: the system prompt is the plain one again.")
    send(again, "more")
    again.expect_exact("echo: more")
    again.expect_exact("cb *>")
    finish(again)
    assert last_request(server)["messages"][0]["content"] != "You answer in verse."


def test_continue_goes_on_with_the_roles_prompt_and_settings(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data, "-r", "poet")
    child.expect_exact("cb >")
    send(child, "first")
    child.expect_exact("echo: first")
    child.expect_exact("cb *>")
    finish(child)
    child = spawn(data, "-C")
    child.expect_exact("cb *>")
    send(child, "second")
    child.expect_exact("echo: second")
    child.expect_exact("cb *>")
    finish(child)
    sent = last_request(server)
    assert sent["messages"][0]["content"] == "You answer in verse." and sent["temperature"] == 0.9
    assert sent["model"] == "chat-b"


def test_a_prompt_with_a_role_saves_it_and_continue_goes_on_with_it(home: Path, data: Path,
                                                                    server: FakeOpenAIServer) -> None:
    assert llmc(home, data, "-r", "poet", "-p", "hi").returncode == 0
    store = ChatStore(data)
    assert store.load(store.latest())[1][0] == {"role": "system", "content": "You answer in verse.",
                                               "role_name": "poet"}
    assert llmc(home, data, "-C", "--temperature", "0.3", "-p", "more").returncode == 0  # flags still beat it
    sent = last_request(server)
    assert sent["messages"][0] == {"role": "system", "content": "You answer in verse."}
    assert [m["content"] for m in sent["messages"][1:]] == ["hi", "echo: hi", "more"]
    assert sent["model"] == "chat-b" and sent["temperature"] == 0.3
    assert llmc(home, data, "-C", "-p", "again").returncode == 0
    assert last_request(server)["temperature"] == 0.9
    assert store.load(store.latest())[1][0]["role_name"] == "poet"
    assert llmc(home, data, "-r", "poet", "-s", "Be terse.", "-p", "hi").returncode == 0  # -s beat the role
    assert "role_name" not in store.load(store.latest())[1][0]
    (data / "roles" / "poet.md").unlink()
    gone = llmc(home, data, "--chat", "2", "-p", "still")
    assert gone.returncode == 0 and "the chat goes on without its settings" in gone.stderr
    assert last_request(server)["messages"][0]["content"] == "You answer in verse."


@pytest.mark.parametrize("flags, plain", [((), "From config.toml."), (("-s", "From the flag."), "From the flag.")])
def test_role_off_goes_back_to_the_prompt_the_chat_has_without_a_role(data: Path, server: FakeOpenAIServer,
                                                                      flags: tuple, plain: str) -> None:
    config = data / "config.toml"
    config.write_text('system_prompt = "From config.toml."\n' + config.read_text())
    child = spawn(data, "-r", "poet", *flags)
    child.expect_exact("cb >")
    send(child, "/role off")
    child.expect_exact("No role: the system prompt is the plain one again.")
    send(child, "plain now")
    child.expect_exact("echo: plain now")
    child.expect_exact("cb *>")
    finish(child)
    assert last_request(server)["messages"][0] == {"role": "system", "content": plain}
    store = ChatStore(data)
    assert "role_name" not in store.load(store.latest())[1][0]
