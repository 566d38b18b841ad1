"""`-p` in a real terminal: the reply drawn as Markdown by a second process (render/RenderProcess), what llmc
prints next coming after it, tool rounds, and Ctrl-C in the middle of a reply."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pexpect
import pytest

from tests.conftest import shared_fake_server
from tests.e2e.cli_support import fake_provider, write_config
from tests.e2e.pty_support import spawn
from tests.fake_openai_server import FakeOpenAIServer
from tests.mcp_servers import stdio_server, write_mcp_file
from tests.terminal_screen import Screen

REPLY = ("# Heading one\n\nSome **bold** prose and `code`.\n\n- item one\n- item two\n\n"
         "```python\nanswer = 42\n```\n\nThe last line.")
LONG_REPLY = "# Long\n\n" + "".join(f"Paragraph {n} goes on for a while.\n\n" for n in range(400)) + "The end."


server = shared_fake_server(chat_models=["chat-a"], reply=REPLY, chunk_size=4)


@pytest.fixture
def data_dir(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    data = tmp_path / "data"
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "a"})}, 'model = "fake/a"')
    return data


def children_of(pid: int) -> List[int]:
    """The processes `pid` started that still run."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def ended(child: pexpect.spawn) -> List[str]:
    """Wait for llmc to exit; the lines its output leaves on the screen."""
    child.expect(pexpect.EOF)
    child.close()
    output = child.logfile_read.getvalue()
    assert "Traceback" not in output, output
    return Screen(120).feed(output).lines()


def saved_messages(data: Path) -> List[dict]:
    (saved,) = (data / "chats").glob("*.jsonl")
    return [json.loads(line) for line in saved.read_text().splitlines()[1:]]


def test_the_reply_is_drawn_by_a_second_process_and_the_usage_line_comes_after_it(
        server: FakeOpenAIServer, data_dir: Path) -> None:
    server.set(stream_delay=0.02)  # slow enough to find the drawing process while it draws
    child = spawn(data_dir, "-p", "hello", "-u")
    child.expect_exact("Heading one")
    (drawer,) = children_of(child.pid)
    lines = ended(child)
    assert child.exitstatus == 0
    shown = [line.strip() for line in lines if line.strip()]
    assert shown[:3] == ["Heading one", "Some bold prose and code.", "• item one"]  # Markdown, not its source
    assert "answer = 42" in shown
    assert shown[-2] == "The last line." and shown[-1].startswith("Usage: ")
    assert not Path(f"/proc/{drawer}").exists()  # ended with llmc, not left behind
    assert saved_messages(data_dir)[-1]["content"] == REPLY


def test_ctrl_c_in_the_middle_of_a_reply_shows_and_keeps_what_came_marked(
        server: FakeOpenAIServer, data_dir: Path) -> None:
    server.set(reply=LONG_REPLY, stream_delay=0.01)
    child = spawn(data_dir, "-p", "hello")
    child.expect_exact("Paragraph 3 goes on")
    (drawer,) = children_of(child.pid)
    child.sendintr()  # to the terminal's foreground group: llmc and its drawing process
    lines = ended(child)
    assert child.exitstatus == 130
    shown = [line.strip() for line in lines if line.strip()]
    marker = shown.index("[reply incomplete]")
    assert shown[0] == "Long" and shown[marker - 1].startswith("Paragraph ")
    assert "The end." not in shown
    kept = saved_messages(data_dir)[-1]["content"]
    assert kept.endswith("\n\n[reply incomplete]")
    partial = kept.removesuffix("[reply incomplete]").rstrip()
    assert LONG_REPLY.startswith(partial) and partial.endswith(shown[marker - 1])  # kept: what was shown
    assert not Path(f"/proc/{drawer}").exists()


def test_each_round_of_tool_calls_is_drawn_and_the_calls_come_between_them(
        server: FakeOpenAIServer, data_dir: Path) -> None:
    write_mcp_file(data_dir, {"local": stdio_server()})
    server.set(tool_rounds=[[{"name": "local_echo", "arguments": '{"text": "ping"}'}]])
    child = spawn(data_dir, "-p", "hello", "-T", "local", "--approve-tools")
    child.expect_exact("The last line.", timeout=120)  # a Python MCP server starts on a loaded machine
    lines = ended(child)
    assert child.exitstatus == 0
    shown = [line.strip() for line in lines if line.strip()]
    call = next(index for index, line in enumerate(shown) if line.startswith("⚙ local.echo"))
    assert shown[call + 1] == "→ echo: ping"
    assert shown[call + 2:] == ["Heading one", "Some bold prose and code.", "• item one", "• item two",
                                "answer = 42", "The last line."]


def test_reasoning_is_drawn_before_the_answer_under_its_heading(server: FakeOpenAIServer, data_dir: Path) -> None:
    server.set(reasoning="First I think.\nThen I think more.", reply="The **answer**.")
    child = spawn(data_dir, "-p", "hello")
    shown = [line.strip() for line in ended(child) if line.strip()]
    assert child.exitstatus == 0
    assert shown[0].startswith("REASONING:") and shown[1:3] == ["First I think.", "Then I think more."]
    assert shown[3].startswith("ANSWER:") and shown[4:] == ["The answer."]
