"""Finding saved chats end to end: --search, --show, --delete, --title and --chat N from the command line,
/search and /title in the chat, rows cut to the terminal (a real pty), against the loopback server."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import pexpect
import pytest

from llmc.store.ChatStore import ChatStore
from tests.e2e.cli_support import MAIN, ROOT, clean_env, fake_provider, run_llmc_in_process, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

MODELS = {"chat-a": "ca"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=list(MODELS), echo=True) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, home: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(server.base_url, valid_models=MODELS)}, 'model = "fake/ca"')
    for prompt in ("how do I rebase in git", "python decorators please", "git bisect a flaky test"):
        assert llmc(home, directory, "-p", prompt).returncode == 0
    return directory


def llmc(home: Path, data: Path, *args: str, **kwargs):
    return run_llmc_in_process(["-d", str(data), *args], home, **kwargs)


def test_search_lists_hits_with_number_date_model_title_and_a_marked_snippet(home: Path, data: Path) -> None:
    result = llmc(home, data, "--search", "git")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and "llmc --chat N opens chat N" in result.stderr
    assert lines[0].startswith("   1. ") and lines[0].endswith("fake/chat-a  git bisect a flaky test")
    assert lines[1].strip().startswith("[git] bisect a flaky test")
    assert lines[2].startswith("   3. ") and "how do I rebase in [git]" in lines[3]
    none = llmc(home, data, "--search", "nowhere to be found")
    assert none.returncode == 1 and none.stdout == "" and none.stderr == "No saved chat holds 'nowhere to be found'.\n"


def test_chat_n_of_a_search_opens_that_chat(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    number = llmc(home, data, "--search", "decorators").stdout.split(".")[0].strip()
    assert number == "2"
    result = llmc(home, data, "--chat", number, "-p", "more")
    assert result.returncode == 0
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["messages"]
    assert [m["content"] for m in sent[1:]] == ["python decorators please", "echo: python decorators please", "more"]


def test_show_prints_a_chat_plain_when_piped_and_leaves_it_as_it_was(home: Path, data: Path) -> None:
    store = ChatStore(data)
    before = [(c.chat_id, c.updated) for c in store.summaries()[0]]
    result = llmc(home, data, "--show", "3")
    assert result.returncode == 0
    assert result.stdout.splitlines()[2:] == ["User:", "how do I rebase in git", "", "Assistant:",
                                              "echo: how do I rebase in git", ""]
    assert [(c.chat_id, c.updated) for c in store.summaries()[0]] == before
    bad = llmc(home, data, "--show", "9")
    assert bad.returncode == 2 and "no saved chat number 9 (the list holds 1 to 3" in bad.stderr


def test_delete_asks_refuses_without_a_terminal_and_deletes_with_yes(home: Path, data: Path) -> None:
    refused = llmc(home, data, "--delete", "1")
    assert refused.returncode == 1 and "--yes deletes without asking" in refused.stderr
    assert len(ChatStore(data).summaries()[0]) == 3
    deleted = llmc(home, data, "--delete", "1", "--yes")
    assert deleted.returncode == 0 and deleted.stdout.startswith("Deleted ")
    assert [c.title for c in ChatStore(data).summaries()[0]] == ["python decorators please", "how do I rebase in git"]
    assert llmc(home, data, "--search", "bisect").returncode == 1
    assert llmc(home, data, "--yes").returncode == 2  # --yes alone is still refused


def test_title_with_a_chat_and_no_prompt_renames_it(home: Path, data: Path) -> None:
    result = llmc(home, data, "--title", "Rebasing notes", "--chat", "3")
    assert result.returncode == 0 and result.stdout.endswith("is now titled 'Rebasing notes'.\n")
    assert ChatStore(data).summaries()[0][2].title == "Rebasing notes"
    assert llmc(home, data, "--search", "notes").stdout.splitlines()[0].endswith("Rebasing notes")


def saved_header(data: Path, number: int = 1) -> dict:
    store = ChatStore(data)
    path = store.path_of(store.summaries()[0][number - 1].chat_id)
    return json.loads(path.read_text().splitlines()[0])


def test_title_names_the_new_chat_a_prompt_saves_and_later_saves_keep_it(home: Path, data: Path,
                                                                         server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "--title", "  Release   checklist ", "-p", "what goes in a release?")
    assert result.returncode == 0 and result.stdout == "echo: what goes in a release?\n"
    header = saved_header(data)
    assert (header["title"], header["title_given"], header["messages"]) == ("Release checklist", True, 2)
    assert llmc(home, data, "-C", "-p", "and after it?").returncode == 0
    assert saved_header(data)["title"] == "Release checklist" and saved_header(data)["messages"] == 4
    assert llmc(home, data, "--search", "checklist").stdout.splitlines()[0].endswith("Release checklist")
    assert len(ChatStore(data).summaries()[0]) == 4  # a new chat: the three others are as they were


def test_title_with_a_resumed_chat_and_a_prompt_names_that_chat(home: Path, data: Path,
                                                                 server: FakeOpenAIServer) -> None:
    assert llmc(home, data, "--title", "Bisecting", "-C", "-p", "and then?").returncode == 0
    header = saved_header(data)
    assert header["title"] == "Bisecting" and header["messages"] == 4
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]["messages"]
    assert [m["content"] for m in sent[1:]] == ["git bisect a flaky test", "echo: git bisect a flaky test", "and then?"]
    assert len(ChatStore(data).summaries()[0]) == 3


@pytest.mark.parametrize("args, message", [
    (["--no-save", "-p", "x"], "--title names the chat this run saves: not with --no-save or -e, which save none"),
    (["-e", "-p", "x"], "--title names the chat this run saves: not with --no-save or -e, which save none"),
    (["--list-chats"], "--list-chats and --title cannot be used together: pick one"),
    (["--chat", "1", "--no-save"], "--title and --no-save cannot be used together: pick one"),
])
def test_title_refuses_what_saves_no_chat(home: Path, data: Path, args: list, message: str) -> None:
    result = llmc(home, data, "--title", "x", *args)
    assert result.returncode == 2 and result.stderr == f"llmc: error: {message}\n"


def test_title_names_the_chat_started_in_a_terminal(data: Path) -> None:
    child = spawn(data, "--title", "Typed in a terminal")
    child.expect_exact("ca >")
    send(child, "hello there")
    child.expect_exact("echo: hello there")
    child.expect_exact("ca *>")
    send(child, "/title")
    child.expect_exact("Title: Typed in a terminal. Usage: /title TEXT")
    finish(child)
    header = saved_header(data)
    assert header["title"] == "Typed in a terminal" and header["title_given"] is True


def test_delete_asks_in_a_terminal(data: Path) -> None:
    child = spawn(data, "--delete", "1")
    child.expect_exact("Delete the saved chat ")
    child.expect_exact("(git bisect a flaky test)? [y/N]")
    child.sendline("y")
    child.expect_exact("Deleted ")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and len(ChatStore(data).summaries()[0]) == 2


def test_list_chats_rows_are_cut_to_the_terminal(data: Path) -> None:
    env = clean_env(data.parent / "home", {"TERM": "xterm-256color", "PYTHONPATH": str(ROOT)})
    child = pexpect.spawn(sys.executable, [str(MAIN), "-d", str(data), "--list-chats"], env=env,
                          dimensions=(24, 60), encoding="utf-8", timeout=15)
    output = child.read()
    child.close()
    rows = [line for line in output.replace("\r", "").splitlines() if line]
    assert len(rows) == 4 and all(len(row) <= 60 for row in rows) and rows[1].endswith("…")


def test_search_and_title_in_the_chat(data: Path) -> None:
    child = spawn(data, "--chat", "3")
    child.expect_exact("ca *>")
    send(child, "/title")
    child.expect_exact("Title: how do I rebase in git. Usage: /title TEXT")
    send(child, "/title Git rebasing")
    child.expect_exact("Title set to 'Git rebasing'.")
    send(child, "/search rebasing")
    child.expect_exact("Git rebasing")
    child.expect_exact("/load N opens chat N.")
    send(child, "/search decorators")
    child.expect_exact("[7mdecorators")
    send(child, "/load 2")
    child.expect_exact("Opened the saved chat")
    child.expect_exact("python decorators please")
    finish(child)
    assert ChatStore(data).summaries()[0][2].title == "Git rebasing"
