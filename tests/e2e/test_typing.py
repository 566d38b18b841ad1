"""Typing in the chat, in a real terminal: Enter sends, the newline keys, paste, \"\"\" blocks, the editor,
and /help that fits the screen."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pexpect
import pytest

from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer, last_user_text

REPLY = "Hello from the fake server."
ESC_ENTER = "\x1b\r"  # what Alt-Enter sends
CTRL_J = "\n"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["fake-chat-1"], reply=REPLY) as srv:
        yield srv


def data_dir(tmp_path: Path, server: FakeOpenAIServer, extra: str = "") -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "config.toml").write_text(
        f'model = "fake/fc1"\n{extra}\n[providers.fake]\nname = "Fake"\nbase_api_url = "{server.base_url}"\n'
        'api_key = "test-key"\nvalid_models = { "fake-chat-1" = "fc1" }\n')
    return data


def prompts_received(server: FakeOpenAIServer) -> List[str]:
    return [last_user_text(r["json"]["messages"]) for r in server.request_log()
            if r["path"].endswith("/chat/completions")]


def test_the_first_minute_enter_sends_a_question_help_and_exit(tmp_path: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data_dir(tmp_path, server))
    child.expect_exact("Enter sends · Alt-Enter or Ctrl-J: new line · /help: commands · Ctrl-D or /exit: leave")
    child.expect_exact("A * in the prompt (model *>)")
    child.expect_exact("fc1 >")
    child.send("What is a pty?\r")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    child.send("/help\r")
    child.expect_exact("Commands (/help CMD for more about one):")
    while child.expect_exact(["-- more: Enter for the next page", "fc1 *>"]) == 0:
        child.send("\r")
    finish(child)  # /exit and Enter
    assert prompts_received(server) == ["What is a pty?"]


def test_newline_keys_paste_and_triple_quote_blocks(tmp_path: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data_dir(tmp_path, server))
    child.expect_exact("fc1 >")
    child.send("one" + ESC_ENTER + "two" + CTRL_J + "three\r")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    child.send(PASTE_START + "pasted line 1\npasted line 2\r\npasted line 3" + PASTE_END)
    child.expect_exact("pasted line 3")
    child.send(" and typed\r")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    for line in ('"""', "block line 1", "", "block line 3"):
        child.send(line + "\r")
        child.expect_exact(line or "...")
    child.send('"""\r')
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    finish(child)
    assert prompts_received(server) == ["one\ntwo\nthree", "pasted line 1\npasted line 2\npasted line 3 and typed",
                                        "block line 1\n\nblock line 3"]


def test_enter_sends_false_keeps_enter_a_newline(tmp_path: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data_dir(tmp_path, server, "enter_sends = false"))
    child.expect_exact("Alt-Enter or Ctrl-O sends · Enter: new line")
    child.expect_exact("fc1 >")
    child.send("first\rsecond" + ESC_ENTER)
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    child.send("/exit" + ESC_ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert prompts_received(server) == ["first\nsecond"]


def editor_script(tmp_path: Path) -> Path:
    """An 'editor' that writes what it was given, marked, back into the file."""
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "edited (was: %s)\\n" "$(cat "$1")" > "$1"\n')
    editor.chmod(0o700)
    return editor


def test_ctrl_x_ctrl_e_and_edit_prompt_open_the_editor(tmp_path: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data_dir(tmp_path, server), environ={"VISUAL": str(editor_script(tmp_path))})
    child.expect_exact("fc1 >")
    child.send("draft")
    child.send("\x18\x05")  # Ctrl-X Ctrl-E
    child.expect_exact("edited (was: draft)")
    child.send(" and sent\r")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    send(child, "/edit-prompt start")
    child.expect_exact("edited (was: start)")
    child.send("\r")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    finish(child)
    assert prompts_received(server) == ["edited (was: draft) and sent", "edited (was: start)"]


def test_edit_prompt_without_an_editor_says_how_to_set_one(tmp_path: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data_dir(tmp_path, server), environ={"VISUAL": "/nonexistent/editor", "PATH": "/nonexistent"})
    child.expect_exact("fc1 >")
    send(child, "/edit-prompt")
    child.expect_exact("ERROR: cannot start the editor '/nonexistent/editor'")
    child.expect_exact("fc1 >")
    finish(child)


def test_help_pages_on_a_24_row_screen_and_help_cmd_tells_more(tmp_path: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data_dir(tmp_path, server), dimensions=(24, 80))
    child.expect_exact("fc1 >")
    send(child, "/help")
    child.expect_exact("-- more: Enter for the next page, q to stop --")
    assert "Commands (/help CMD" in child.before and "Ctrl-X Ctrl-E" not in child.before
    child.send("q")  # one key, as in more and less: no Enter needed
    child.expect_exact("fc1 >")
    assert "Ctrl-X Ctrl-E" not in child.before  # q stopped it: the keys at the end were not shown
    send(child, "/help")
    child.expect_exact("-- more: Enter for the next page, q to stop --")
    child.send(" ")  # any other key goes on, to the end
    while child.expect_exact(["-- more: Enter for the next page", "fc1 >"]) == 0:
        child.send(" ")
    assert "Ctrl-X Ctrl-E" in child.logfile_read.getvalue()
    send(child, "/help load")
    child.expect_exact("Shows the chat and goes on from it.")
    child.expect_exact("fc1 >")
    finish(child)


def test_a_prompt_typed_ahead_while_a_reply_streams_is_sent_by_its_enter(tmp_path: Path,
                                                                          server: FakeOpenAIServer) -> None:
    server.set(reply=" ".join(f"word{i}" for i in range(60)), stream_delay=0.02, chunk_size=8)
    child = spawn(data_dir(tmp_path, server))
    child.expect_exact("fc1 >")
    child.send("first\r")
    child.expect_exact("word3")
    child.send("typed ahead\r")  # Enter in the tty's cooked mode must stay Enter, not become Ctrl-J
    child.expect_exact("word59")
    child.expect_exact("word59")  # the second reply: the typed-ahead prompt was sent
    child.expect_exact("fc1 *>")
    finish(child)
    assert prompts_received(server) == ["first", "typed ahead"]
