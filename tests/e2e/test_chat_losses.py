"""No chat is lost (issue 17, items 5-12): what `llmc -p` and the chat could not keep is said with a status a
script can tell, and what they wrote they read back. Real processes, real pipes, a real full disk."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

from llmc.base.Errors import INCOMPLETE_MARKER
from llmc.store.ChatStore import ChatStore
from tests.e2e.cli_support import MAIN, clean_env, fake_provider, fill, run_llmc, write_config
from tests.fake_openai_server import FakeOpenAIServer

MODELS = {"chat-a": "ca"}
LONG_REPLY = "line of text\n" * 20000


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=list(MODELS), reply="The answer.") as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: FakeOpenAIServer) -> None:
    server.set(reply="The answer.", echo=False)


def configure(data: Path, server: FakeOpenAIServer) -> Path:
    write_config(data, {"fake": fake_provider(server.base_url, valid_models=MODELS)}, 'model = "fake/ca"')
    return data


def saved(data: Path) -> List[List[str]]:
    """The contents of every saved chat, newest first (system message left out)."""
    store = ChatStore(data)
    return [[m["content"] for m in store.load(c.chat_id)[1][1:]] for c in store.summaries()[0]]


def last_sent(server: FakeOpenAIServer) -> List[str]:
    chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    return [m["content"] for m in chats[-1]["json"]["messages"][1:]]


# ----- item 9: a -p whose chat could not be saved --------------------------------------------------------

def test_a_prompt_whose_chat_cannot_be_saved_on_a_full_disk_exits_74(small_disk: Path, home: Path,
                                                                      server: FakeOpenAIServer) -> None:
    data = configure(small_disk / "data", server)
    fill(small_disk)
    result = run_llmc(["-d", str(data), "-p", "hello"], home)
    assert result.stdout == "The answer.\n"  # the answer is out; the script is told it was not kept
    assert result.returncode == 74, result.stderr
    assert result.stderr.startswith(f"Warning: {data / 'chats'}")
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr


# ----- item 10: a -p whose reader went away -----------------------------------------------------------

def test_a_prompt_whose_reader_went_away_keeps_what_arrived_and_continue_resumes_it(
        tmp_path: Path, home: Path, server: FakeOpenAIServer) -> None:
    data = configure(tmp_path / "data", server)
    assert run_llmc(["-d", str(data), "-p", "an older chat"], home).returncode == 0
    server.set(reply=LONG_REPLY)
    command = f"{sys.executable} {MAIN} -d {data} -p 'the question' | head -n 1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=clean_env(home),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.stdout == "line of text\n"
    assert result.returncode == 141 and "Traceback" not in result.stderr
    newest = saved(data)[0]
    assert newest[0] == "the question"
    assert newest[1].startswith("line of text\n") and newest[1].endswith(INCOMPLETE_MARKER)
    server.set(reply="The answer.")
    again = run_llmc(["-d", str(data), "-C", "-p", "go on"], home)
    assert again.returncode == 0, again.stderr
    sent = last_sent(server)
    assert sent[0] == "the question" and sent[1].startswith("line of text\n") and sent[2] == "go on"


# ----- item 5: code points that some readers take for line breaks ---------------------------------------

def test_a_chat_with_line_separators_in_prompt_and_reply_resumes(tmp_path: Path, home: Path,
                                                                 server: FakeOpenAIServer) -> None:
    data = configure(tmp_path / "data", server)
    server.set(reply="reply \u2028 with breaks \u2029 in it")  # (a reply's C1 controls are shown as symbols)
    first = run_llmc(["-d", str(data), "-p", "hello \u2028 world \x85 and \u2029"], home)
    assert first.returncode == 0, first.stderr
    server.set(reply="The answer.")
    again = run_llmc(["-d", str(data), "-C", "-p", "again"], home)
    assert again.returncode == 0 and again.stderr == ""
    assert last_sent(server) == ["hello \u2028 world \x85 and \u2029", "reply \u2028 with breaks \u2029 in it",
                                 "again"]


# ----- items 7 and 8: special files and bad dates among the chats ------------------------------------------

def test_a_fifo_among_the_chats_blocks_neither_the_list_nor_continue(tmp_path: Path, home: Path,
                                                                      server: FakeOpenAIServer) -> None:
    import os
    data = configure(tmp_path / "data", server)
    assert run_llmc(["-d", str(data), "-p", "kept chat"], home).returncode == 0
    fifo = data / "chats" / "zzz-newest.jsonl"
    os.mkfifo(fifo)
    listed = run_llmc(["-d", str(data), "--list-chats"], home, timeout=30)
    assert listed.returncode == 0 and "kept chat" in listed.stdout
    assert listed.stderr == f"Warning: {fifo}: not a regular file (a FIFO), expected a chat file\n"
    resumed = run_llmc(["-d", str(data), "-C", "-p", "more"], home, timeout=30)
    assert resumed.returncode == 0, resumed.stderr
    assert last_sent(server) == ["kept chat", "The answer.", "more"]
    named = run_llmc(["-d", str(data), "--chat", "zzz-newest", "-p", "more"], home, timeout=30)
    assert named.returncode == 2 and "zzz-newest" in named.stderr and "Traceback" not in named.stderr


def test_dates_out_of_range_in_a_chat_header_show_as_unknown(tmp_path: Path, home: Path,
                                                             server: FakeOpenAIServer) -> None:
    data = configure(tmp_path / "data", server)
    (data / "chats").mkdir()
    for name, stamp in (("late", "9999-12-31T23:59:59-14:00"), ("early", "0001-01-01T00:00:00+14:00"),
                        ("words", "last tuesday")):
        (data / "chats" / f"{name}.jsonl").write_text(
            f'{{"llmc_chat": 1, "title": "{name}", "created": "{stamp}", "updated": "{stamp}", '
            '"model": "fake/chat-a", "messages": 0}\n{"role": "system", "content": "s"}\n')
    listed = run_llmc(["-d", str(data), "--list-chats"], home)
    assert listed.returncode == 0 and listed.stderr == ""
    rows = listed.stdout.splitlines()[1:]
    assert len(rows) == 3 and all("  unknown  " in row for row in rows), listed.stdout


# ----- item 6: what llmc accepts as an attachment it reads back in the chat ----------------------------------

def test_a_chat_with_a_16_mib_image_resumes(tmp_path: Path, home: Path, server: FakeOpenAIServer) -> None:
    data = configure(tmp_path / "data", server)
    image = tmp_path / "big.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16 * 1024 * 1024))
    first = run_llmc(["-d", str(data), "-a", str(image), "-p", "describe"], home)
    assert first.returncode == 0, first.stderr
    again = run_llmc(["-d", str(data), "-C", "-p", "again"], home)
    assert again.returncode == 0 and again.stderr == ""
    chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert chats[-1]["json"]["messages"][1] == chats[-2]["json"]["messages"][1]  # the image went again
    assert last_sent(server)[1:] == ["The answer.", "again"]
