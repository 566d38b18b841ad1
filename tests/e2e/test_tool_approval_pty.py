"""The user decides what runs, in a real terminal: the approval question, a refusal, "always", and Ctrl-C
in a tool loop. The model is the fake provider asking for calls; the tools are a real MCP server over stdio."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer
from tests.mcp_servers import stdio_server, write_mcp_file

SLOW = 120  # a Python MCP server starts on a loaded machine
QUESTION = "Run local.echo? [y] run once, [n] refuse, [a] always allow this tool in this chat:"
ECHO_ROUND = [[{"name": "local_echo", "arguments": '{"text": "ping"}'}]]


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["chat-a"], reply="All done.", tool_rounds=ECHO_ROUND) as srv:
        yield srv


@pytest.fixture
def data_dir(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    write_mcp_file(data, {"local": stdio_server()})
    (data / "config.toml").write_text(
        f'model = "fake/a"\ntools = ["local"]\n[providers.fake]\nname = "Fake"\nbase_api_url = "{server.base_url}"\n'
        'api_key = "test-key"\nvalid_models = { "chat-a" = "a" }\n')
    (data / "config.toml").chmod(0o600)
    return data


def tool_results(server: FakeOpenAIServer) -> List[str]:
    """The `tool` messages of the last request the provider received."""
    last = [r["json"] for r in server.requests if r["path"].endswith("/chat/completions")][-1]
    return [m["content"] for m in last["messages"] if m["role"] == "tool"]


def test_asked_once_refused_then_always_allowed(server: FakeOpenAIServer, data_dir: Path) -> None:
    child = spawn(data_dir)
    child.expect_exact("a >")
    send(child, "echo ping please")
    child.expect_exact('⚙ local.echo {"text": "ping"}', timeout=SLOW)
    child.expect_exact(QUESTION)
    child.send("y\r")
    child.expect_exact("→ echo: ping")
    child.expect_exact("All done.")
    child.expect_exact("a *>")
    assert tool_results(server) == ["echo: ping"]

    send(child, "again")
    child.expect_exact(QUESTION, timeout=SLOW)
    child.send("n\r")
    child.expect_exact("✗ The user declined to run this tool call.")
    child.expect_exact("a *>")
    assert tool_results(server)[-1] == "The user declined to run this tool call."

    send(child, "and again")
    child.expect_exact(QUESTION, timeout=SLOW)
    child.send("a\r")
    child.expect_exact("All done.")
    child.expect_exact("a *>")
    send(child, "once more")
    child.expect_exact('⚙ local.echo {"text": "ping"}', timeout=SLOW)
    child.expect_exact("→ echo: ping")  # "always": not asked again (no answer is typed), it runs
    child.expect_exact("a *>")
    finish(child)
    assert tool_results(server)[-1] == "echo: ping"


def test_ctrl_c_in_a_tool_call_stops_the_loop_keeps_the_chat_and_returns_to_the_prompt(
        server: FakeOpenAIServer, data_dir: Path) -> None:
    server.set(tool_rounds=[[{"name": "local_slow", "arguments": '{"seconds": 60}'}]])
    child = spawn(data_dir, "--approve-tools")
    child.expect_exact("--approve-tools: every tool call of this run runs without asking")
    child.expect_exact("a >")
    send(child, "take your time")
    child.expect_exact('⚙ local.slow {"seconds": 60}', timeout=SLOW)
    child.sendintr()
    child.expect_exact("Keyboard interrupt.")
    child.expect_exact("a *>")
    server.set(tool_rounds=[])
    send(child, "/save after")
    child.expect_exact("Chat history saved to")
    child.expect_exact("a *>")
    send(child, "what happened?")
    child.expect_exact("All done.")
    child.expect_exact("a *>")
    finish(child)
    saved = json.loads((data_dir / "after.json").read_text())
    assert [m["role"] for m in saved[1:]] == ["user", "assistant", "tool"]
    assert saved[2]["tool_calls"][0]["function"]["name"] == "local_slow"
    assert saved[3]["content"] == "The user interrupted the tool calls before this one ran."
    assert tool_results(server) == ["The user interrupted the tool calls before this one ran."]
