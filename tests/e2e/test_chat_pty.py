"""The interactive chat in a real pseudo-terminal (pexpect) against the fake server."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pexpect
import pytest

from tests.e2e.pty_support import SUBMIT, finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer



@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["fake-chat-1", "fake-chat-2", "fake-chat-3"],
                          reply="Hello from the fake server.") as srv:
        yield srv


@pytest.fixture
def data_dir(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(
        f'model = "fake/fc1"\n[providers.fake]\nname = "Fake"\nbase_api_url = "{server.base_url}"\n'
        'api_key = "test-key"\nvalid_models = { "fake-chat-1" = "fc1", "fake-chat-2" = "fc2" }\n')
    return data


def test_chat_switch_model_discover_save_and_load_in_a_new_run(server: FakeOpenAIServer,
                                                                data_dir: Path) -> None:
    child = spawn(data_dir)
    child.expect_exact("fc1 >")
    send(child, "hello")
    child.expect_exact("Hello from the fake server.")
    child.expect_exact("fc1 *>")
    send(child, "/mod fc2")
    child.expect_exact("Model set to fake/fake-chat-2.")
    child.expect_exact("fc2 *>")
    send(child, "/discover-models fake")
    child.expect_exact("fake: 4 models found, 3 valid, 1 invalid")
    child.expect_exact("Provider configurations persisted to")
    child.expect_exact("fc2 *>")
    child.send("/mod fake-chat-")
    child.send("\t")  # completion offers the newly discovered model
    child.expect_exact("fake-chat-3")
    child.send("\x15")  # Ctrl-U: clear the line
    send(child, "/mod fake-chat-3")
    child.expect_exact("Model set to fake/fake-chat-3.")
    child.expect_exact("fake-chat-3 *>")
    send(child, "again")
    child.expect_exact("Hello from the fake server.")
    child.expect_exact("fake-chat-3 *>")
    send(child, "/save first")
    child.expect_exact(f"Chat history saved to {data_dir / 'first.json'}.")
    child.expect_exact("fake-chat-3 *>")
    finish(child)
    assert "fake-chat-3" in (data_dir / "openaicompat-providers.yaml").read_text()
    models = [r["json"]["model"] for r in server.requests if r["path"].endswith("/chat/completions")
              and r["json"].get("stream")]
    assert models == ["fake-chat-1", "fake-chat-3"]
    assert (data_dir / "chat_history.txt").stat().st_mode & 0o777 == 0o600

    second = spawn(data_dir)  # a new run loads what the first one saved
    second.expect_exact("fc1 >")
    send(second, "/load first")
    second.expect_exact(f"Chat history loaded from {data_dir / 'first.json'}.")
    second.expect_exact("again")
    second.expect_exact("fc1 *>")
    finish(second)


def test_load_in_a_new_run_and_ctrl_c_during_a_reply(server: FakeOpenAIServer, data_dir: Path) -> None:
    (data_dir / "saved.json").write_text(
        '[{"role": "system", "content": "s"}, {"role": "user", "content": "old question"},'
        ' {"role": "assistant", "content": "old answer"}]')
    child = spawn(data_dir)
    child.expect_exact("fc1 >")
    send(child, "/load saved")
    child.expect_exact(f"Chat history loaded from {data_dir / 'saved.json'}.")
    child.expect_exact("old answer")
    child.expect_exact("fc1 *>")
    server.set(reply="\n\n".join(f"Paragraph {i} of a long reply." for i in range(300)),
               stream_delay=0.02, chunk_size=8)
    send(child, "tell me a long story")
    child.expect_exact("Paragraph 2 ")
    child.send("typed ahead")  # keys pressed while a reply streams are not echoed into it
    child.sendintr()
    child.expect_exact("Keyboard interrupt.")
    assert "^C" not in child.before and "typed ahead" not in child.before
    child.expect_exact("fc1 *>")
    send(child, "/save after")
    child.expect_exact("Chat history saved to")
    child.expect_exact("fc1 *>")
    output = finish(child)
    assert "Paragraph 299" not in output
    saved = json.loads((data_dir / "after.json").read_text())
    contents = [m["content"] for m in saved[1:]]
    assert contents[:3] == ["old question", "old answer", "tell me a long story"]  # the partial reply is kept
    assert contents[3].startswith("Paragraph 0 of a long reply.") and contents[3].endswith("[reply incomplete]")


def test_start_with_a_file_clear_screen_and_ctrl_d(server: FakeOpenAIServer, data_dir: Path) -> None:
    child = spawn(data_dir, "-c", "-f", "missing")
    child.expect_exact("Welcome to LLM Chat")
    child.expect_exact("not found; starting an empty chat.")
    child.expect_exact("fc1 >")
    send(child, "/models")
    child.expect_exact("fake/fake-chat-2 (fc2)")
    child.expect_exact("fc1 >")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in child.logfile_read.getvalue()


def test_control_sequences_in_a_reply_never_reach_the_terminal(server: FakeOpenAIServer, data_dir: Path) -> None:
    server.set(reply="before \x1b[31mRED\x1b[0m and \x1b]0;PWNED\x07 after\n\n```\ncode \x1b[2J inside\n```\n")
    child = spawn(data_dir)
    child.expect_exact("fc1 >")
    send(child, "hello")
    child.expect_exact("inside")
    child.expect_exact("fc1 *>")
    send(child, "/print")
    child.expect_exact("Assistant:")
    child.expect_exact("inside")
    child.expect_exact("fc1 *>")
    output = finish(child)
    assert "\x1b]0;" not in output and "\x1b[2J" not in output and "\x1b[31mRED" not in output
    assert "\u241b]0;PWNED\u2407" in output


def test_ctrl_c_after_recalling_a_message_cancels_the_recall(server: FakeOpenAIServer, data_dir: Path) -> None:
    server.set(echo=True)
    child = spawn(data_dir)
    child.expect_exact("fc1 >")
    for text in ("alpha", "beta"):
        send(child, text)
        child.expect_exact(f"echo: {text}")
        child.expect_exact("fc1 *>")
    child.send("\x1b[1;2A")  # Shift-Up: recall "beta"
    child.expect_exact("beta")
    child.send("\x03")  # Ctrl-C clears the line, and the recall with it
    child.expect_exact("fc1 *>")
    send(child, "delta")
    child.expect_exact("echo: delta")
    child.expect_exact("fc1 *>")
    finish(child)
    last = [r["json"]["messages"] for r in server.requests if r["path"].endswith("/chat/completions")][-1]
    assert [m["content"] for m in last if m["role"] == "user"] == ["alpha", "beta", "delta"]


def test_a_line_from_the_input_history_after_a_recall_does_not_truncate(server: FakeOpenAIServer,
                                                                         data_dir: Path) -> None:
    server.set(echo=True)
    child = spawn(data_dir)
    child.expect_exact("fc1 >")
    for text in ("one", "two", "three"):
        send(child, text)
        child.expect_exact(f"echo: {text}")
        child.expect_exact("fc1 *>")
    child.send("\x1b[1;2A" * 3)  # Shift-Up three times: recall "one"
    child.send("\x1b[A")  # Up: the input history's newest line instead
    child.expect_exact("three")
    child.send(SUBMIT)
    child.expect_exact("echo: three")
    child.expect_exact("fc1 *>")
    finish(child)
    last = [r["json"]["messages"] for r in server.requests if r["path"].endswith("/chat/completions")][-1]
    assert [m["content"] for m in last if m["role"] == "user"] == ["one", "two", "three", "three"]


def test_a_bad_default_model_says_where_it_came_from(data_dir: Path) -> None:
    text = (data_dir / "config.toml").read_text().replace('model = "fake/fc1"', 'model = "bogus"')
    (data_dir / "config.toml").write_text(text)
    child = spawn(data_dir)
    child.expect(pexpect.EOF)
    child.close()
    output = child.logfile_read.getvalue()
    assert child.exitstatus == 2 and "Traceback" not in output
    assert f"(the model 'bogus' came from {data_dir / 'config.toml'})" in output.replace("\r\n", "")
