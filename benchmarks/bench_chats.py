"""Saved chats: a data directory holding 10,000 of them (--chats) must not slow llmc down.

Figures (each with its reference, in one run):
- chat start: launch to the first prompt in a pty with 10,000 saved chats, and with none, their runs taking
  turns (target <= 0.2 s);
- `llmc --list-chats` with 10,000 saved chats, and `llmc --version` (target < 0.3 s);
- `llmc --search TEXT` over 10,000 saved chats with the index up to date (target <= 0.3 s), beside the first
  search, which builds the index from the chat files;
- streaming: `llmc -p` streaming the 2,471-line markdown reply of bench_streaming.py into a pty and
  saving the exchange as the 1,001st chat, against the plain client (target <= 2x); `--no-save` beside
  it shows what the save costs;
- the interactive chat: submit to the next prompt (the reply shown, then saved) with 1,000 chats.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (MAIN, PYTHON, fake_server, isolated_env, median, pty_dialog, report,  # noqa: E402
                     run_in_pty, run_timed, strip_ansi, work_dir, write_data_dir)
from bench_streaming import LAST_LINE, PLAIN_CLIENT, chat_seconds, markdown_reply  # noqa: E402

from llmc.store.ChatSession import format_chat_lines  # noqa: E402
from llmc.store.ChatStore import ChatStore, derive_title  # noqa: E402

CHATS = 10000
SEARCH = "4242 why"  # every word must match: one chat of the 10,000
TURNS = 10  # user + assistant pairs per saved chat (about 12 KB a file)


def fill_chats(data: Path, count: int = CHATS) -> None:
    """`count` saved chats of TURNS exchanges each, written as llmc writes them (dated a minute apart)."""
    store = ChatStore(data)
    store.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for number in range(count):
        messages = [{"role": "system", "content": "You are a helpful assistant."}]
        for turn in range(TURNS):
            messages.append({"role": "user", "content": f"Question {turn} of saved chat {number}: " + "why? " * 20})
            messages.append({"role": "assistant", "content": f"Answer {turn}. " + "Because. " * 100,
                             "model": "fake/bench-chat"})
        when = (start + timedelta(minutes=number)).isoformat(timespec="microseconds")
        header = {"title": derive_title(messages), "created": when, "updated": when,
                  "model": "fake/bench-chat", "messages": len(messages) - 1}
        path = store.path_of(f"20260101-{number:06d}-beef")
        path.write_text(format_chat_lines(header, messages), encoding="utf-8")
        os.chmod(path, 0o600)


def prompt_seconds(data_dirs: List[Path], env: dict, repeat: int) -> List[float]:
    """Median seconds from launching `llmc -d DIR` in a pty to its first prompt ("bench >"), for each
    directory; their runs take turns, so a machine whose load changes meanwhile weighs on each alike."""
    times: List[List[float]] = [[] for _ in data_dirs]
    for _ in range(repeat):
        for data, measured in zip(data_dirs, times):
            seconds, output = run_in_pty([PYTHON, MAIN, "-d", str(data)], env,
                                         until=lambda text: "bench >" in strip_ansi(text), timeout=30,
                                         send=b"\x04")
            if "bench >" not in strip_ansi(output):
                raise RuntimeError(f"the chat showed no prompt: {strip_ansi(output)[-300:]!r}")
            measured.append(seconds)
    return [median(measured) for measured in times]


def submit_to_next_prompt(data: Path, env: dict, repeat: int) -> float:
    """Median seconds from submitting a prompt in the chat to the next prompt (reply shown, chat saved)."""
    times = []
    for _ in range(repeat):
        seen = pty_dialog([PYTHON, MAIN, "-d", str(data)], env,
                          [("bench >", b"go\x0f"), (LAST_LINE, b""), ("bench *>", b"\x04")])
        if seen is None:
            raise RuntimeError("the chat did not show the prompt, the reply's last line and the next prompt")
        times.append(seen[2] - seen[0])
    return median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (the median is reported)")
    parser.add_argument("--chats", type=int, default=CHATS, help="saved chats to fill the data directory with")
    args = parser.parse_args()
    chats = args.chats
    work = work_dir("llmc-bench-chats-")
    env = isolated_env(work / "home")
    reply = markdown_reply()
    with fake_server(chat_models=["bench-chat"], non_chat_models=[], reply=reply, chunk_size=4) as url:
        empty = write_data_dir(work / "empty", url, model="fake/bench-chat", models={"bench-chat": "bench"})
        full = write_data_dir(work / "full", url, model="fake/bench-chat", models={"bench-chat": "bench"})
        fill_chats(full, chats)
        run_timed([PYTHON, MAIN, "-d", str(full), "--list-chats"], env)  # warm-up: bytecode caches
        first_search = median(run_timed([PYTHON, MAIN, "-d", str(full), "--search", SEARCH], env))
        search = median(run_timed([PYTHON, MAIN, "-d", str(full), "--search", SEARCH], env, args.repeat))
        start_empty, start_full = prompt_seconds([empty, full], env, args.repeat)
        listing = median(run_timed([PYTHON, MAIN, "-d", str(full), "--list-chats"], env, args.repeat))
        version = median(run_timed([PYTHON, MAIN, "--version"], env, args.repeat))
        plain, _ = chat_seconds([PYTHON, PLAIN_CLIENT, url, "bench-chat", "go"], env, args.repeat)
        saving, saving_out = chat_seconds([PYTHON, MAIN, "-d", str(full), "-p", "go"], env, args.repeat)
        unsaved, _ = chat_seconds([PYTHON, MAIN, "-d", str(full), "--no-save", "-p", "go"], env, args.repeat)
        chat_turn = submit_to_next_prompt(full, env, max(3, args.repeat // 2))
        saved_now = len(list((full / "chats").iterdir()))
    results = [
        report(f"Chat start with {chats:,} saved chats (launch to first prompt, pty)",
               f"llmc, {chats:,} saved chats", start_full, "llmc, no saved chats", start_empty,
               "absolute <= 0.2 s", start_full <= 0.2),
        report(f"--list-chats with {chats:,} saved chats", "llmc --list-chats", listing,
               "llmc --version", version, "absolute < 0.3 s", listing < 0.3),
        report(f"--search with {chats:,} saved chats (index up to date)", f"llmc --search {SEARCH!r}", search,
               "llmc --version", version, "absolute <= 0.3 s", search <= 0.3),
        report(f"Streaming {reply.count(chr(10)) + 1} markdown lines with autosave, {chats:,} chats saved",
               "llmc -p (saves the exchange)", saving, "plain client (requests, unrendered)", plain,
               "<= 2", saving <= 2 * plain)]
    print(f"  llmc --no-save -p {unsaved:.3f} s: saving the exchange costs {saving - unsaved:+.3f} s "
          f"(noise included); the reply's last line shown: {'yes' if LAST_LINE in strip_ansi(saving_out) else 'NO'}")
    print(f"  the first --search, building the index from {chats:,} chat files: {first_search:.3f} s")
    print(f"  start-up added by {chats:,} saved chats: {start_full - start_empty:+.3f} s")
    print(f"Interactive chat, {chats:,} chats saved: submit to the next prompt (reply shown, then saved) "
          f"{chat_turn:.3f} s; chats on disk after the runs: {saved_now:,}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
