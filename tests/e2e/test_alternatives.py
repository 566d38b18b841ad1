"""Ask again, edit, alternatives and fork, end to end: llmc in a real pty against the loopback server; the proof
is what the server received and what the saved chat file holds."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

import pexpect
import pytest

from llmc.store.ChatSession import read_session_file
from llmc.store.ChatStore import ChatStore
from tests.conftest import MCP_TOKEN, shared_fake_server
from tests.e2e.cli_support import fake_provider, run_llmc, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer
from tests.mcp_servers import write_mcp_file

DATA = Path(__file__).resolve().parents[1] / "data"
OLD_CHAT_ID = "20261208-014919-a829"  # tests/data/llmc1-chat.jsonl: written by llmc before alternatives

server = shared_fake_server(chat_models=["fake-chat-1", "fake-chat-2"], reply="Hello", numbered_replies=True)


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(server.base_url, valid_models={"fake-chat-1": "fc1",
                                                                                  "fake-chat-2": "fc2"})},
                 'model = "fake/fc1"')
    return directory


def chat_requests(server: FakeOpenAIServer) -> List[list]:
    """The messages of each chat request the server received, in order."""
    return [r["json"]["messages"] for r in server.request_log() if r["path"].endswith("/chat/completions")]


def saved_chat(data: Path) -> List[dict]:
    """The messages of the newest saved chat."""
    store = ChatStore(data)
    return store.load(store.summaries()[0][0].chat_id)[1]


def started(data: Path, *args: str) -> pexpect.spawn:
    child = spawn(data, *args)
    child.expect_exact("fc1 >" if not args else "*>")
    return child


def turn(child: pexpect.spawn, text: str, reply: str) -> None:
    send(child, text)
    child.expect_exact(reply)
    child.expect_exact("fc1 *>")


def hello_asked_twice(child: pexpect.spawn) -> None:
    """'hello' sent, and asked again with /rg: two answers, the second current."""
    turn(child, "hello", "Hello #1")
    send(child, "/rg")
    child.expect_exact("Hello #2")
    child.expect_exact("fc1 *>")


def test_regenerate_asks_again_for_the_same_messages_and_keeps_the_earlier_reply(data: Path,
                                                                                  server: FakeOpenAIServer) -> None:
    child = started(data)
    send(child, "/rg")
    child.expect_exact("ERROR: no prompt to ask again yet: send one first")
    child.expect_exact("fc1 >")
    turn(child, "hello", "Hello #1")
    send(child, "/regenerate")
    child.expect_exact("Hello #2")
    child.expect_exact("The earlier reply is kept: /alternatives shows the 2 answers")
    child.expect_exact("fc1 *>")
    finish(child)
    first, again = chat_requests(server)
    assert first == again and first[-1] == {"role": "user", "content": "hello"}
    messages = saved_chat(data)
    assert [m["content"] for m in messages[1:]] == ["hello", "Hello #2"]
    assert messages[2]["alternatives"] == [[{"role": "assistant", "content": "Hello #1",
                                             "usage": messages[2]["alternatives"][0][0]["usage"],
                                             "model": "fake/fake-chat-1"}]]


def test_ctrl_c_or_an_error_while_asking_again_loses_no_reply(data: Path, server: FakeOpenAIServer) -> None:
    child = started(data)
    turn(child, "hello", "Hello #1")
    server.add_fault("/chat/completions", {"status": 500})
    send(child, "/rg")
    child.expect_exact("ERROR:")
    child.expect_exact("fc1 *>")
    assert [m["content"] for m in saved_chat(data)[1:]] == ["hello", "Hello #1"]
    server.set(reply="".join(f"part {i} " for i in range(400)), chunk_size=8, stream_delay=0.01)
    send(child, "/rg")
    child.expect_exact("part 3 ")
    child.sendcontrol("c")
    child.expect_exact("Keyboard interrupt.")
    child.expect_exact("fc1 *>")
    finish(child)
    last = saved_chat(data)[-1]
    assert last["content"].startswith("part 0 part 1 part 2 part 3") and last["content"].endswith("[reply incomplete]")
    assert [[m["content"] for m in tail] for tail in last["alternatives"]] == [["Hello #1"]]


def test_a_chat_saved_before_alternatives_resumes_asks_again_and_saves(data: Path, server: FakeOpenAIServer) -> None:
    chats = data / "chats"
    chats.mkdir()
    shutil.copy(DATA / "llmc1-chat.jsonl", chats / f"{OLD_CHAT_ID}.jsonl")
    old = read_session_file(DATA / "llmc1-chat.jsonl")
    child = spawn(data, "-C")
    child.expect_exact(f"Continuing the saved chat {OLD_CHAT_ID}.")
    child.expect_exact("Tiny.")
    child.expect_exact("fc2 *>")
    send(child, "/rg")
    child.expect_exact("Hello #1")
    child.expect_exact("fc2 *>")
    send(child, "/print")
    child.expect_exact("The last prompt had 2 answers: /alternatives lists them.")
    child.expect_exact("fc2 *>")
    send(child, "/save again")
    child.expect_exact("Chat history saved to")
    child.expect_exact("fc2 *>")
    finish(child)
    (sent,) = chat_requests(server)
    assert sent[0]["content"] == old[0]["content"] and sent[-1] == {"role": "user", "content": "Say it in one word"}
    assert sent[2]["tool_calls"] == old[2]["tool_calls"] and sent[3]["tool_call_id"] == "call_1"
    assert sent[6] == {"role": "assistant", "content": "It is one pixel"}  # the marker is never sent
    assert len(sent) == len(old) - 1
    for messages in (ChatStore(data).load(OLD_CHAT_ID)[1], read_session_file(data / "again.json")):
        assert messages[:-1] == old[:-1]
        assert messages[-1]["content"] == "Hello #1" and messages[-1]["alternatives"] == [[old[-1]]]
    header = json.loads((chats / f"{OLD_CHAT_ID}.jsonl").read_text().splitlines()[0])
    assert header["llmc_chat"] == 1 and header["messages"] == len(old) - 1


def test_alternatives_lists_the_answers_and_takes_one_back_into_the_saved_chat(data: Path,
                                                                               server: FakeOpenAIServer) -> None:
    child = started(data)
    send(child, "/alt")
    child.expect_exact("No prompt yet: nothing to choose from.")
    hello_asked_twice(child)
    send(child, "/alternatives")
    child.expect_exact("Answers to the last prompt (* the current one):")
    child.expect_exact(" 1  fake/fake-chat-1  Hello #1")
    child.expect_exact("*2  fake/fake-chat-1  Hello #2")
    child.expect_exact("fc1 *>")
    send(child, "/alt 1")
    child.expect_exact("Answer 1 of 2 is the chat's now")
    child.expect_exact("fc1 *>")
    turn(child, "and then?", "Hello #3")
    finish(child)
    assert chat_requests(server)[-1][1:] == [{"role": "user", "content": "hello"},
                                             {"role": "assistant", "content": "Hello #1"},
                                             {"role": "user", "content": "and then?"}]
    messages = saved_chat(data)
    assert [m["content"] for m in messages[1:]] == ["hello", "Hello #1", "and then?", "Hello #3"]
    assert messages[2]["alternatives_at"] == 0 and messages[2]["alternatives"][0][0]["content"] == "Hello #2"


def test_edit_puts_the_last_prompt_back_and_sending_it_replaces_the_turn(tmp_path: Path, data: Path,
                                                                         server: FakeOpenAIServer) -> None:
    editor = tmp_path / "editor.sh"  # an 'editor' that writes what it was given, marked, back into the file
    editor.write_text('#!/bin/sh\nprintf "edited (was: %s)\\n" "$(cat "$1")" > "$1"\n')
    editor.chmod(0o700)
    child = spawn(data, environ={"VISUAL": str(editor)})
    child.expect_exact("fc1 >")
    turn(child, "hello", "Hello #1")
    turn(child, "how are you", "Hello #2")
    send(child, "/edit")
    child.expect_exact("Change the prompt and send it: it replaces the last turn")
    child.expect_exact("how are you")
    child.send(" today?\r")
    child.expect_exact("Hello #3")
    child.expect_exact("fc1 *>")
    send(child, "/edit")
    child.expect_exact("how are you today?")
    child.send("\x18\x05")  # Ctrl-X Ctrl-E
    child.expect_exact("edited (was: how are you today?)")
    child.send("\r")
    child.expect_exact("Hello #4")
    child.expect_exact("fc1 *>")
    send(child, "/alt")
    child.expect_exact(" 1  fake/fake-chat-1  how are you → Hello #2")
    child.expect_exact(" 2  fake/fake-chat-1  how are you today? → Hello #3")
    child.expect_exact("*3  fake/fake-chat-1  edited (was: how are you today?) → Hello #4")
    child.expect_exact("fc1 *>")
    finish(child)
    requests = chat_requests(server)
    assert [m["content"] for m in requests[2][1:]] == ["hello", "Hello #1", "how are you today?"]
    assert [m["content"] for m in requests[3][1:]] == ["hello", "Hello #1", "edited (was: how are you today?)"]
    messages = saved_chat(data)
    assert [m["content"] for m in messages[1:]] == ["hello", "Hello #1", "edited (was: how are you today?)", "Hello #4"]
    assert [[m["content"] for m in tail] for tail in messages[3]["alternatives"]] == [
        ["how are you", "Hello #2"], ["how are you today?", "Hello #3"]]


def test_fork_goes_on_in_a_new_saved_chat_with_the_alternatives(data: Path, server: FakeOpenAIServer) -> None:
    child = started(data)
    send(child, "/fork")
    child.expect_exact("ERROR: nothing to fork yet: send a prompt first")
    hello_asked_twice(child)
    store = ChatStore(data)
    (old,) = [chat.chat_id for chat in store.summaries()[0]]
    old_bytes = store.path_of(old).read_bytes()
    send(child, "/fork")
    child.expect(r"Forked: this chat goes on as (\S+); the saved chat (\S+) stays as it was\.")
    new, named_old = child.match.group(1), child.match.group(2)
    assert named_old == old and new != old
    child.expect_exact("fc1 *>")
    turn(child, "and then?", "Hello #3")
    finish(child)
    assert store.path_of(old).read_bytes() == old_bytes
    messages = store.load(new)[1]
    assert [m["content"] for m in messages[1:]] == ["hello", "Hello #2", "and then?", "Hello #3"]
    assert messages[2]["alternatives"][0][0]["content"] == "Hello #1"
    assert [m["content"] for m in chat_requests(server)[-1][1:]] == ["hello", "Hello #2", "and then?"]


def test_show_prints_the_current_answers_search_finds_replaced_ones_and_continue_keeps_them(
        home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(numbered_replies=False, reply="walruses have tusks")
    child = started(data)
    turn(child, "tell me about walruses", "walruses have tusks")
    server.set(reply="seals have whiskers")
    send(child, "/rg")
    child.expect_exact("seals have whiskers")
    child.expect_exact("fc1 *>")
    finish(child)
    shown = run_llmc(["-d", str(data), "--show", "1"], home)
    assert shown.returncode == 0 and "seals have whiskers" in shown.stdout and "tusks" not in shown.stdout
    found = run_llmc(["-d", str(data), "--search", "tusks"], home)
    assert found.returncode == 0 and "tell me about walruses" in found.stdout
    server.set(reply="they swim")
    followed = run_llmc(["-d", str(data), "-C", "-p", "and both?"], home)
    assert followed.returncode == 0 and followed.stdout == "they swim\n"
    assert [m["content"] for m in chat_requests(server)[-1][1:]] == ["tell me about walruses", "seals have whiskers",
                                                                     "and both?"]
    messages = saved_chat(data)
    assert [m["content"] for m in messages[1:]] == ["tell me about walruses", "seals have whiskers", "and both?",
                                                    "they swim"]
    assert messages[2]["alternatives"][0][0]["content"] == "walruses have tusks"


def test_a_reply_that_called_tools_is_asked_again_and_kept_with_its_calls_and_results(
        data: Path, server: FakeOpenAIServer, loopback_mcp) -> None:
    write_mcp_file(data, {"docs": {"url": loopback_mcp.url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}}})
    server.set(tool_rounds=[[{"name": "docs_add", "arguments": '{"a": 2, "b": 3}', "id": "call_add"}]])
    child = spawn(data, "-T", "docs", "--approve-tools", environ={"MCP_TOKEN": MCP_TOKEN})
    child.expect_exact("fc1 >")
    turn(child, "add 2 and 3", "Hello #1")
    server.set(tool_rounds=[])
    send(child, "/rg")
    child.expect_exact("Hello #2")
    child.expect_exact("fc1 *>")
    finish(child)
    first, with_result, again = chat_requests(server)
    assert first == again and [m["role"] for m in with_result[1:]] == ["user", "assistant", "tool"]
    messages = saved_chat(data)
    assert [m["content"] for m in messages[1:]] == ["add 2 and 3", "Hello #2"]
    (replaced,) = messages[2]["alternatives"]
    assert [m["role"] for m in replaced] == ["assistant", "tool", "assistant"]
    assert replaced[0]["tool_calls"][0]["id"] == "call_add" and replaced[1]["content"] == "5"
    assert replaced[2]["content"] == "Hello #1"


def test_a_chat_file_saved_before_alternatives_loads_asks_again_and_saves_back(data: Path,
                                                                              server: FakeOpenAIServer) -> None:
    shutil.copy(DATA / "llmc1-saved.json", data / "old.json")
    old = read_session_file(data / "old.json")
    child = started(data)
    send(child, "/load old")
    child.expect_exact(f"Chat history loaded from {data / 'old.json'}.")
    child.expect_exact("fc1 *>")
    send(child, "/rg")
    child.expect_exact("Hello #1")
    child.expect_exact("fc1 *>")
    send(child, "/save")
    child.expect_exact(f"Chat history saved to {data / 'old.json'}.")
    child.expect_exact("fc1 *>")
    finish(child)
    (sent,) = chat_requests(server)
    assert [m["role"] for m in sent] == [m["role"] for m in old[:-1]]  # the chat without its last reply
    assert sent[-1] == {"role": "user", "content": "Say it in one word"} and sent[5]["content"] == old[5]["content"]
    saved = read_session_file(data / "old.json")
    assert saved[:-1] == old[:-1] and saved[-1]["content"] == "Hello #1" and saved[-1]["alternatives"] == [[old[-1]]]
