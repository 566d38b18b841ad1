"""Streaming into a real pty: `llmc -p` (live markdown) vs a plain client printing the deltas unrendered.

A 2,471-line markdown reply is streamed by the fake server in 4-character chunks (~27,000 SSE events).
Targets: `llmc -p` takes at most 1.5x the plain client's time (issue 16), the interactive chat at most 2x
(issue 11; the streaming spec asked 3x), and both show the reply's last line.
Also: the time from the server sending the first answer text to it showing in the pty, for both clients.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (MAIN, PYTHON, ROOT, fake_server, isolated_env, median, pty_dialog,  # noqa: E402
                     report, run_in_pty, strip_ansi, work_dir, write_data_dir)

LINES = 2471
LAST_LINE = "Final line of the benchmark reply: all 2471 lines arrived."
PLAIN_CLIENT = str(Path(__file__).resolve().parent / "plain_client.py")


def markdown_reply(lines: int = LINES) -> str:
    """A deterministic markdown document of exactly `lines` lines: headings, prose, lists, code, tables."""
    out: list[str] = []
    section = 0
    while len(out) < lines - 1:
        section += 1
        out += [f"## Section {section}: streaming and rendering", "",
                f"Paragraph {section} explains **bold ideas**, `inline code` and *emphasis* in a line "
                "that is long enough to be wrapped by the terminal,",
                "and goes on onto a second line of ordinary prose that the renderer has to reflow as well, "
                "word by word.", "",
                f"- item one of list {section}, which carries a short explanation of its own",
                "- item two with `code` and a [link](https://example.com/docs) to somewhere",
                "  - a nested item that says a little more about the item above it", "",
                "```python", f"def handler_{section}(event: dict, default: str = '') -> str:",
                '    """Return the text of an event, or the default when the event carries none."""',
                "    return str(event.get('text', default)).strip()  # strip the padding providers add",
                "```", "",
                "| column | value | comment |", "|---|---|---|",
                f"| row {section} | {section * 7} | a comment that makes the table wide enough to matter |", "",
                f"> A quoted remark number {section}, quoted because someone important once said it "
                "and it stuck.", ""]
    out = out[: lines - 1]
    while out and out[-1].startswith(("```", "|", "  ", "- ", "def ", "    ")):
        out[-1] = "Plain filler line."
    if sum(1 for line in out if line.startswith("```")) % 2:  # never leave a fence open
        out[-1] = "```"
    out.append(LAST_LINE)
    return "\n".join(out)


def chat_seconds(cmd: list, env: dict, repeat: int) -> tuple[float, str]:
    times, output = [], ""
    for _ in range(repeat):
        seconds, output = run_in_pty(cmd, env, timeout=300)
        times.append(seconds)
    return median(times), output


def first_token_seconds(cmd: list, env: dict, marker: str) -> float:
    seconds, _ = run_in_pty(cmd, env, until=lambda text: marker in strip_ansi(text), timeout=60)
    return seconds


def profile_llmc(data: Path, env: dict) -> None:
    """Where `llmc -p` spends its time (cProfile of an in-process run writing to a pty)."""
    import os
    import pty
    master, slave = pty.openpty()
    stdout = os.fdopen(slave, "w", encoding="utf-8", closefd=True)
    import threading
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
    threading.Thread(target=drain, daemon=True).start()
    old = sys.stdout
    os.environ.update(HOME=env["HOME"], TERM="xterm-256color", COLUMNS="100", LINES="40")
    sys.stdout = stdout
    profiler = cProfile.Profile()
    try:
        from llmc.cli import CommandLine as main
        profiler.runcall(main.main, ["-d", str(data), "-p", "go"])
    finally:
        sys.stdout = old
        stop.set()
        stdout.close()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def rich_floor(reply: str) -> float:
    """Seconds rich needs to import and render the whole reply once (no streaming): the renderer's floor."""
    import os
    import subprocess
    code = ("import os, sys, time\nstarted = time.perf_counter()\n"
            "from rich.console import Console\nfrom rich.markdown import Markdown\n"
            "Console(file=open(os.devnull, 'w'), force_terminal=True, width=100).print(Markdown(sys.stdin.read()))\n"
            "print(time.perf_counter() - started)")
    result = subprocess.run([PYTHON, "-c", code], input=reply, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return float(result.stdout.strip())


def interactive_chat_seconds(data: Path, env: dict, repeat: int) -> float | None:
    """Median seconds from submitting a prompt in the chat (pty) to the reply's last line on screen."""
    if not (ROOT / "modules" / "chat" / "ChatInterface.py").exists():
        print("SKIPPED: modules/chat/ChatInterface.py does not exist yet; no interactive chat figure")
        return None
    times = []
    for _ in range(repeat):
        # Ctrl-O submits; Ctrl-D at the next prompt ends the chat.
        seen = pty_dialog([PYTHON, MAIN, "-d", str(data)], env,
                          [("bench >", b"go\x0f"), (LAST_LINE, b""), ("bench *>", b"\x04")])
        if seen is None:
            print("SKIPPED: the chat did not show the prompt, the reply's last line and the next prompt")
            return None
        times.append(seen[1] - seen[0])
    return median(times)


def first_token_lag(work: Path, env: dict, delay: float = 0.5) -> tuple[float, float]:
    """Seconds from the server sending the first answer text to that text showing in the pty.

    The server runs in this process so its send time and the pty's read time share one clock:
    it answers at once with the role event, then sends the first text `delay` seconds later.
    """
    import time
    from tests.fake_openai_server import FakeOpenAIServer
    marker = "FIRST-TOKEN"
    lags = []
    with FakeOpenAIServer(chat_models=["bench-chat"], non_chat_models=[], reply=marker + " and the rest",
                          chunk_size=64, stream_delay=delay) as srv:
        arrivals: list = []
        log_request = srv.log_request
        srv.log_request = lambda *a: (arrivals.append(time.perf_counter()), log_request(*a))[1]
        data = write_data_dir(work / "ttft", srv.base_url, model="fake/bench-chat",
                              models={"bench-chat": "bench"})
        for cmd in ([PYTHON, MAIN, "-d", str(data), "-p", "go"],
                    [PYTHON, PLAIN_CLIENT, srv.base_url, "bench-chat", "go"]):
            arrivals.clear()
            launched = time.perf_counter()
            seconds, _ = run_in_pty(cmd, env, until=lambda text: marker in strip_ansi(text), timeout=60)
            lags.append(launched + seconds - (arrivals[0] + delay))
    return lags[0], lags[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of `llmc -p`")
    args = parser.parse_args()
    reply = markdown_reply()
    assert reply.count("\n") + 1 == LINES
    work = work_dir("llmc-bench-stream-")
    env = isolated_env(work / "home")
    events = (len(reply) + 3) // 4
    with fake_server(chat_models=["bench-chat"], non_chat_models=[], reply=reply, chunk_size=4) as url:
        data = write_data_dir(work / "data", url, model="fake/bench-chat", models={"bench-chat": "bench"})
        llmc_cmd = [PYTHON, MAIN, "-d", str(data), "-p", "go"]
        plain_cmd = [PYTHON, PLAIN_CLIENT, url, "bench-chat", "go"]
        plain, plain_out = chat_seconds(plain_cmd, env, args.repeat)
        llmc, llmc_out = chat_seconds(llmc_cmd, env, args.repeat)
        unrendered, _ = chat_seconds(llmc_cmd, dict(env, NO_COLOR="1"), args.repeat)
        chat = interactive_chat_seconds(data, env, args.repeat)
        if args.profile:
            profile_llmc(data, env)
    shown = LAST_LINE in strip_ansi(llmc_out)
    ok = report(f"Streaming {LINES} markdown lines, {len(reply):,} characters in {events:,} SSE events, "
                "into a pty (launch to exit)", "llmc -p (rendered markdown)", llmc,
                "plain client (requests, unrendered)", plain, "<= 1.5", llmc <= 1.5 * plain)
    print(f"  where llmc's time goes: `NO_COLOR=1 llmc -p` (same stream, plain writer, no rich) "
          f"{unrendered:.3f} s, so markdown rendering costs {llmc - unrendered:.3f} s")
    print(f"  rich alone, importing and rendering the whole reply once (no streaming): {rich_floor(reply):.3f} s")
    print(f"  llmc shows the reply's last line: {'yes' if shown else 'NO'}; "
          f"plain client shows it: {'yes' if LAST_LINE in strip_ansi(plain_out) else 'NO'}")

    if chat is not None:
        chat_ok = report("The same reply in the interactive chat (pty; submit to last line on screen)",
                         "llmc chat", chat, "plain client (launch to exit)", plain, "<= 2", chat <= 2 * plain)
        ok = ok and chat_ok
    llmc_lag, plain_lag = first_token_lag(work, env)
    print(f"Time to first token: from the server sending the first text to it showing in the pty: "
          f"llmc {llmc_lag * 1000:.0f} ms, plain client {plain_lag * 1000:.0f} ms, "
          f"difference {(llmc_lag - plain_lag) * 1000:+.0f} ms")
    return 0 if ok and shown else 1


if __name__ == "__main__":
    sys.exit(main())
