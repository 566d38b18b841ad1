"""Chats that last, end to end: `llmc` runs (subprocesses, and the chat in a real pty) against the loopback
server; what a resumed chat carries is proved by the request body the server received."""
from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import List

import pexpect
import pytest

from llmc.store.ChatStore import ChatStore
from tests.conftest import shared_fake_server
from tests.e2e.cli_support import fake_provider, run_llmc, snapshot, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

MODELS = {"chat-a": "ca", "chat-b": "cb"}


server = shared_fake_server(chat_models=list(MODELS), echo=True)


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(server.base_url, valid_models=MODELS)}, 'model = "fake/ca"')
    return directory


def llmc(home: Path, data: Path, *args: str, **kwargs):
    return run_llmc(["-d", str(data), *args], home, **kwargs)


def last_sent(server: FakeOpenAIServer) -> List[str]:
    """The contents of the messages the server last received, system message left out."""
    chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    return [m["content"] for m in chats[-1]["json"]["messages"][1:]]


def saved(data: Path) -> List[List[str]]:
    """The contents of every saved chat, newest first."""
    store = ChatStore(data)
    return [[m["content"] for m in store.load(c.chat_id)[1][1:]] for c in store.summaries()[0]]


def echo_turn(child, text: str, prompt: str) -> None:
    """Send `text` in the chat and wait for the echo server's answer and the next prompt."""
    send(child, text)
    child.expect_exact(f"echo: {text}")
    child.expect_exact(prompt)


def error_line(result) -> str:
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_every_prompt_is_saved_and_continue_follows_the_latest_up(home: Path, data: Path,
                                                                    server: FakeOpenAIServer) -> None:
    assert llmc(home, data, "-p", "first question").returncode == 0
    assert llmc(home, data, "-p", "other question").returncode == 0
    assert saved(data) == [["other question", "echo: other question"], ["first question", "echo: first question"]]
    result = llmc(home, data, "-C", "-p", "follow up")
    assert result.returncode == 0 and result.stdout == "echo: follow up\n"
    assert last_sent(server) == ["other question", "echo: other question", "follow up"]
    assert saved(data)[0] == ["other question", "echo: other question", "follow up", "echo: follow up"]
    assert len(saved(data)) == 2
    files = list((data / "chats").iterdir())
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((data / "chats").stat().st_mode) == 0o700


def test_chat_id_or_number_resumes_that_chat(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    llmc(home, data, "-p", "alpha")
    llmc(home, data, "-p", "beta")
    chats, _ = ChatStore(data).summaries()
    alpha = chats[1].chat_id
    assert llmc(home, data, "--chat", alpha, "-p", "more alpha").returncode == 0
    assert last_sent(server) == ["alpha", "echo: alpha", "more alpha"]
    assert llmc(home, data, "--chat", "2", "-p", "beta again").returncode == 0  # alpha is newest now
    assert last_sent(server) == ["beta", "echo: beta", "beta again"]


def last_model_sent(server: FakeOpenAIServer) -> str:
    return [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["model"]


def test_a_resumed_chat_goes_on_with_its_model_unless_m_picks_another(home: Path, data: Path,
                                                                      server: FakeOpenAIServer) -> None:
    assert llmc(home, data, "-m", "cb", "-p", "asked chat-b").returncode == 0
    result = llmc(home, data, "-C", "-p", "and again")  # config.toml's model is chat-a
    assert result.returncode == 0 and result.stderr == "" and last_model_sent(server) == "chat-b"
    assert ChatStore(data).summaries()[0][0].model == "fake/chat-b"
    assert llmc(home, data, "-C", "-m", "ca", "-p", "now chat-a").returncode == 0
    assert last_model_sent(server) == "chat-a"
    assert llmc(home, data, "-C", "-p", "which now?").returncode == 0  # the last reply was chat-a's
    assert last_model_sent(server) == "chat-a"


def test_a_resumed_chat_whose_model_is_gone_goes_on_with_the_configured_one(home: Path, data: Path,
                                                                           server: FakeOpenAIServer) -> None:
    assert llmc(home, data, "-m", "cb", "-p", "asked chat-b").returncode == 0
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})}, 'model = "fake/ca"')
    result = llmc(home, data, "-C", "-p", "and again")
    assert result.returncode == 0 and last_model_sent(server) == "chat-a"
    assert result.stderr.splitlines() == [f"Note: chat {ChatStore(data).summaries()[0][0].chat_id} was with "
                                          "fake/chat-b, but it is not a known valid model now; going on with fake/ca."]


def test_list_chats_newest_first_with_title_date_model_and_count(home: Path, data: Path) -> None:
    empty = llmc(home, data, "--list-chats")
    assert empty.returncode == 0 and empty.stdout == ""
    assert empty.stderr == f"No saved chats in {data / 'chats'}.\n"
    llmc(home, data, "-p", "explain git rebase")
    llmc(home, data, "-m", "fake/cb", "-p", "second\nprompt, on two lines")
    llmc(home, data, "-C", "-m", "ca", "-p", "third")
    result = llmc(home, data, "--list-chats")
    assert result.returncode == 0 and result.stderr == ""
    header, newest, oldest = result.stdout.splitlines()
    assert header.split() == ["#", "id", "updated", "model", "msgs", "title"]
    assert newest.startswith("1  ") and newest.endswith("   4  second prompt, on two lines")
    assert "fake/chat-a" in newest  # the model of the last reply
    assert oldest.startswith("2  ") and oldest.endswith("   2  explain git rebase") and "fake/chat-a" in oldest


def test_a_broken_chat_file_is_named_and_the_others_listed(home: Path, data: Path) -> None:
    llmc(home, data, "-p", "fine")
    (data / "chats" / "broken.jsonl").write_text("{oops\n")
    result = llmc(home, data, "--list-chats")
    assert result.returncode == 0 and result.stdout.splitlines()[1].endswith("fine")
    assert result.stderr == (f"Warning: {data / 'chats' / 'broken.jsonl'}: not a chat file: the first line is "
                             "not an llmc chat header\n")
    follow = llmc(home, data, "-C", "-p", "on")  # the broken file is named, the newest good chat goes on
    assert follow.returncode == 0 and follow.stderr.startswith(f"Warning: {data / 'chats' / 'broken.jsonl'}: ")
    assert saved(data)[0][-2:] == ["on", "echo: on"]
    bad = llmc(home, data, "--chat", "broken", "-p", "x")
    assert bad.returncode == 2
    assert error_line(bad).startswith(f"llmc: error: {data / 'chats' / 'broken.jsonl'}: not a chat file: ")


def test_the_list_follows_other_llmcs_and_hands_and_outlives_its_index(home: Path, data: Path) -> None:
    def titles() -> List[str]:
        result = llmc(home, data, "--list-chats")
        assert result.returncode == 0 and result.stderr == ""
        return [line.split("  ")[-1].strip() for line in result.stdout.splitlines()[1:]]

    llmc(home, data, "-p", "first question")
    llmc(home, data, "-p", "second question")
    assert titles() == ["second question", "first question"]
    assert (data / "chats-index.sqlite3").is_file()
    first = next(path for path in (data / "chats").iterdir() if "first" in path.read_text())
    first.write_text(first.read_text().replace('"title": "first question"', '"title": "edited by hand"'))
    assert titles() == ["second question", "edited by hand"]
    assert llmc(home, data, "--title", "renamed", "--chat", "1").returncode == 0
    first.rename(first.with_name("20990101-000000-abcd.jsonl"))  # renamed by hand: the same chat under a new id
    assert "20990101-000000-abcd" in llmc(home, data, "--list-chats").stdout.splitlines()[2]
    (data / "chats-index.sqlite3").unlink()
    assert titles() == ["renamed", "edited by hand"]  # listed from the files alone, and the index made again
    assert (data / "chats-index.sqlite3").is_file() and titles() == ["renamed", "edited by hand"]
    first.with_name("20990101-000000-abcd.jsonl").unlink()
    assert titles() == ["renamed"]


@pytest.mark.parametrize("args, message", [
    (["--chat", "nope", "-p", "x"], "no saved chat 'nope' in {chats} (llmc --list-chats or /chats lists them)"),
    (["--chat", "7", "-p", "x"], "no saved chat number 7 (the list holds none yet; llmc --list-chats or /chats "
                                 "shows it)"),
    (["--chat", "../config", "-p", "x"], "no saved chat '../config' in {chats} (llmc --list-chats or /chats "
                                         "lists them)"),
    (["--chat", " ", "-p", "x"], "--chat needs a value, not an empty one"),
    (["-C", "--chat", "1"], "-C/--continue and --chat cannot be used together: pick one chat to start from"),
    (["-C", "-f", "x.json"], "-C/--continue and -f/--history-file cannot be used together: pick one chat to "
                             "start from"),
    (["--list-chats", "-C"], "--list-chats and -C/--continue cannot be used together: pick one"),
    (["--list-chats", "--no-save"], "--list-chats and --no-save cannot be used together: pick one"),
    (["--list-chats", "-l"], "-l/--list-models and --list-chats cannot be used together: pick one"),
])
def test_bad_resume_flags_are_one_line_and_exit_2(home: Path, data: Path, args: list, message: str) -> None:
    result = llmc(home, data, *args)
    assert result.returncode == 2
    assert error_line(result) == "llmc: error: " + message.format(chats=data / "chats")


def test_continue_with_nothing_saved_starts_a_new_chat_and_says_so(home: Path, data: Path,
                                                                    server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "-C", "-p", "hello")
    assert result.returncode == 0 and result.stdout == "echo: hello\n"
    assert result.stderr == f"No saved chat in {data / 'chats'} to continue; starting a new one.\n"
    assert last_sent(server) == ["hello"] and saved(data) == [["hello", "echo: hello"]]


def test_no_save_leaves_no_trace(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    before = snapshot(data)
    assert llmc(home, data, "--no-save", "-p", "a secret").returncode == 0
    assert last_sent(server) == ["a secret"]
    assert snapshot(data) == before
    llmc(home, data, "-p", "kept")
    after_first = snapshot(data)
    assert llmc(home, data, "-C", "--no-save", "-p", "secret follow-up").returncode == 0
    assert last_sent(server) == ["kept", "echo: kept", "secret follow-up"]
    assert snapshot(data) == after_first


def test_a_system_prompt_flag_replaces_the_resumed_chats(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    llmc(home, data, "-s", "be terse", "-p", "one")
    llmc(home, data, "-C", "-p", "two")
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": "be terse"}
    llmc(home, data, "-C", "-s", "be chatty", "-p", "three")
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": "be chatty"}
    assert [m["content"] for m in sent[1:]] == ["one", "echo: one", "two", "echo: two", "three"]


def test_a_cut_reply_is_saved_marked_incomplete(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=False, reply="0123456789abcdefghij")
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 8})
    result = llmc(home, data, "-p", "tell")
    assert result.returncode == 1
    assert saved(data) == [["tell", "01234567\n\n[reply incomplete]"]]
    llmc(home, data, "-C", "-p", "go on")
    assert last_sent(server) == ["tell", "01234567", "go on"]  # the marker is for the user, not the model


def test_a_saved_chat_file_is_json_lines_with_the_answering_model(home: Path, data: Path) -> None:
    llmc(home, data, "-p", "q1")
    llmc(home, data, "-C", "-m", "fake/cb", "-p", "q2")
    (path,) = (data / "chats").iterdir()
    header, *messages = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["llmc_chat"] == 1 and header["title"] == "q1" and header["messages"] == 4
    assert header["model"] == "fake/chat-b"
    assert [m.get("model") for m in messages] == [None, None, "fake/chat-a", None, "fake/chat-b"]


# The chat in a real terminal

def test_chats_are_saved_as_they_go_and_continue_resumes_the_latest(data: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data)
    child.expect_exact("ca >")
    echo_turn(child, "first turn", "ca *>")
    assert saved(data) == [["first turn", "echo: first turn"]]  # saved before the next prompt, not at exit
    echo_turn(child, "second turn", "ca *>")
    finish(child)

    again = spawn(data, "-C")
    again.expect_exact(f"Continuing the saved chat {ChatStore(data).latest()}.")
    again.expect_exact("echo: second turn")
    again.expect_exact("ca *>")
    send(again, "third turn")
    again.expect_exact("echo: third turn")
    again.expect_exact("ca *>")
    finish(again)
    assert last_sent(server) == ["first turn", "echo: first turn", "second turn", "echo: second turn", "third turn"]
    assert len(saved(data)) == 1 and saved(data)[0][-1] == "echo: third turn"


def test_chats_and_load_n_in_the_chat(data: Path, server: FakeOpenAIServer, home: Path) -> None:
    llmc(home, data, "-p", "older chat")
    llmc(home, data, "-p", "newer chat")
    child = spawn(data)
    child.expect_exact("ca >")
    send(child, "/chats")
    child.expect_exact("newer chat")
    child.expect_exact("older chat")
    child.expect_exact("/load N opens chat N.")
    child.expect_exact("ca >")
    send(child, "/load 2")
    child.expect_exact("Opened the saved chat")
    child.expect_exact("echo: older chat")
    child.expect_exact("ca *>")
    send(child, "/load 9")
    child.expect_exact("ERROR: no saved chat number 9 (the list holds 1 to 2;")
    child.expect_exact("ca *>")
    send(child, "/chats everything")
    child.expect_exact("ERROR: usage: /chats [all] (got 'everything')")
    child.expect_exact("ca *>")
    echo_turn(child, "back to it", "ca *>")
    finish(child)
    assert last_sent(server) == ["older chat", "echo: older chat", "back to it"]
    assert saved(data)[0] == ["older chat", "echo: older chat", "back to it", "echo: back to it"]


def test_load_n_goes_on_with_the_model_of_that_chat(data: Path, server: FakeOpenAIServer, home: Path) -> None:
    llmc(home, data, "-m", "cb", "-p", "a chat-b chat")
    llmc(home, data, "-p", "a chat-a chat")
    child = spawn(data)
    child.expect_exact("ca >")
    send(child, "/load 2")
    child.expect_exact("echo: a chat-b chat")
    child.expect_exact("Model set to fake/chat-b (the model of its last reply).")
    child.expect_exact("cb *>")
    echo_turn(child, "more", "cb *>")
    finish(child)
    assert last_model_sent(server) == "chat-b"


def test_chat_id_interactive_and_a_bad_id(data: Path, home: Path, server: FakeOpenAIServer) -> None:
    llmc(home, data, "-p", "remember me")
    chat_id = ChatStore(data).latest()
    child = spawn(data, "--chat", chat_id)
    child.expect_exact(f"Continuing the saved chat {chat_id}.")
    child.expect_exact("echo: remember me")
    child.expect_exact("ca *>")
    echo_turn(child, "and now", "ca *>")
    finish(child)
    assert last_sent(server) == ["remember me", "echo: remember me", "and now"]
    llmc(home, data, "-m", "cb", "-p", "asked chat-b")
    child = spawn(data, "-C")
    child.expect_exact("echo: asked chat-b")
    child.expect_exact("cb *>")  # the chat goes on with the model of its last reply
    echo_turn(child, "still b?", "cb *>")
    finish(child)
    assert last_model_sent(server) == "chat-b"
    bad = spawn(data, "--chat", "no-such-chat")
    bad.expect(pexpect.EOF)
    bad.close()
    assert bad.exitstatus == 2
    assert bad.logfile_read.getvalue().strip() == (
        f"llmc: error: no saved chat 'no-such-chat' in {data / 'chats'} (llmc --list-chats or /chats lists them)")


def test_no_save_and_autosave_off_leave_no_trace(data: Path, server: FakeOpenAIServer) -> None:
    before = snapshot(data)
    child = spawn(data, "--no-save")
    child.expect_exact("ca >")
    echo_turn(child, "incognito", "ca *>")
    send(child, "/autosave")
    child.expect_exact("Autosave is off: this chat is not saved")
    child.expect_exact("ca *>")
    finish(child)
    assert snapshot(data) == before  # no chat file, no input history file

    child = spawn(data)
    child.expect_exact("ca >")
    send(child, "/autosave off")
    child.expect_exact("Autosave is off")
    child.expect_exact("ca >")
    echo_turn(child, "hidden prompt", "ca *>")
    child.send("\x1b[A")  # Up still recalls it in this chat
    child.expect_exact("hidden prompt")
    child.send("\x15")  # Ctrl-U
    send(child, "/autosave bogus")
    child.expect_exact("ERROR: usage: /autosave [on|off] (got 'bogus')")
    child.expect_exact("ca *>")
    finish(child)
    assert not (data / "chats").exists()
    assert "hidden prompt" not in (data / "chat_history.txt").read_text()


def test_ctrl_c_keeps_the_partial_reply_in_the_saved_chat(data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=False, reply="\n\n".join(f"Paragraph {i}." for i in range(300)), stream_delay=0.02,
               chunk_size=8)
    try:
        child = spawn(data)
        child.expect_exact("ca >")
        send(child, "long story")
        child.expect_exact("Paragraph 2.")
        child.sendintr()
        child.expect_exact("Keyboard interrupt.")
        child.expect_exact("ca *>")
        finish(child)
    finally:
        server.set(stream_delay=0.0)
    (contents,) = saved(data)
    assert contents[0] == "long story" and contents[1].startswith("Paragraph 0.")
    assert contents[1].endswith("[reply incomplete]") and "Paragraph 299." not in contents[1]


def test_md_header_names_the_model_that_answered(data: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data)
    child.expect_exact("ca >")
    echo_turn(child, "question", "ca *>")
    send(child, "/mod cb")
    child.expect_exact("Model set to fake/chat-b.")
    child.expect_exact("cb *>")
    server.set(echo=False, reply='{"title": "Asked", "filename": "asked"}')
    send(child, "/md")
    child.expect_exact(f"Chat exported to {data / 'asked.md'}.")
    child.expect_exact("cb *>")
    finish(child)
    assert (data / "asked.md").read_text().startswith("# Asked\n(fake/chat-a)\n")


def test_an_image_attachment_is_saved_and_goes_again_with_the_follow_up(home: Path, data: Path, tmp_path: Path,
                                                                         server: FakeOpenAIServer) -> None:
    (tmp_path / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    assert llmc(home, data, "-a", str(tmp_path / "shot.png"), "-p", "describe").returncode == 0
    first = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["messages"][1]
    listed = llmc(home, data, "--list-chats").stdout.splitlines()[1]
    assert listed.endswith("   2  describe")
    result = llmc(home, data, "-C", "-p", "and the colours?")
    assert result.returncode == 0, result.stderr
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["messages"]
    assert sent[1] == first and isinstance(first["content"], list)
    assert sent[3] == {"role": "user", "content": "and the colours?"}


def test_list_chats_shows_bidirectional_overrides_in_titles_and_models_as_symbols(home: Path, data: Path) -> None:
    llmc(home, data, "-p", "invoice \u202egnp.exe\u202c done")
    header = json.loads((next((data / "chats").iterdir())).read_text().splitlines()[0])
    assert header["title"] == "invoice \u202egnp.exe\u202c done"  # kept as typed; only the screen is guarded
    result = llmc(home, data, "--list-chats")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].endswith("invoice <U+202E>gnp.exe<U+202C> done")
    assert "\u202e" not in result.stdout and "\u202c" not in result.stdout
