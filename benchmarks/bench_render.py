"""Benchmark: streaming a long markdown reply through MarkdownStreamRenderer.

Feeds a generated 2,471-line reply in 4-character chunks (as an LLM stream would arrive,
only as fast as possible) to:
  (a) MarkdownStreamRenderer,
  (b) a naive renderer: rich Live updated with Markdown(full_text) on every chunk
      (quadratic; stopped after a time budget and extrapolated),
  (c) a plain writer that prints the deltas unrendered,
first on a Console writing to /dev/null, then in a real pseudo-terminal whose output is
drained by this process.  Also prints our per-line cost for a 20-line and a 2,000-line reply.

Run: python3 benchmarks/bench_render.py [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import random
import struct
import subprocess
import sys
import termios
import threading
import time
from fcntl import ioctl
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.live import Live  # noqa: E402
from rich.markdown import Markdown  # noqa: E402

from llmc.render.MarkdownStreamRenderer import MarkdownStreamRenderer  # noqa: E402

WIDTH, HEIGHT, CHUNK, LINES = 100, 40, 4, 2471

_WORDS = (
    "the stream renderer splits markdown into blocks at stable boundaries so that each finished "
    "block is printed once while only the open block is redrawn in a small live region which keeps "
    "the cost linear in the length of the reply even for very long answers with code and tables"
).split()


def _sentence(rnd: random.Random) -> str:
    words = [rnd.choice(_WORDS) for _ in range(rnd.randint(10, 24))]
    if rnd.random() < 0.3:
        words[rnd.randrange(len(words))] = f"`{rnd.choice(_WORDS)}()`"
    if rnd.random() < 0.3:
        words[rnd.randrange(len(words))] = f"**{rnd.choice(_WORDS)}**"
    return " ".join(words).capitalize() + "."


def _paragraph(rnd: random.Random) -> list[str]:
    return [" ".join(_sentence(rnd) for _ in range(rnd.randint(2, 4)))]


def _python(rnd: random.Random, lines: int) -> list[str]:
    out = ["```python", '"""A module generated for the benchmark."""', "", "import os", ""]
    index = 0
    while len(out) < lines:
        index += 1
        out += [
            "",
            f"class Worker{index}:",
            f'    """Handles job number {index}."""',
            "",
            "    def __init__(self, name: str, size: int = 4) -> None:",
            "        self.name = name  # the worker's name",
            f"        self.size = size * {index}",
            "",
            "    def run(self, items: list[str]) -> dict[str, int]:",
            "        counts: dict[str, int] = {}",
            "        for item in items:",
            "            if item.startswith('#'):",
            "                continue",
            "            counts[item] = counts.get(item, 0) + len(item)",
            f'        print(f"{{self.name}} done: {{len(counts)}} keys")',
            "        return counts",
        ]
    return out[:lines] + ["```"]


def _small_code(rnd: random.Random) -> list[str]:
    kind = rnd.choice(["js", "bash", "json"])
    if kind == "js":
        body = [f"const v{k} = items.map((x) => x * {k}); // step {k}" for k in range(rnd.randint(5, 15))]
    elif kind == "bash":
        body = [f"echo \"step {k}\" && ls -la /tmp/dir{k} | grep -v '^total'" for k in range(rnd.randint(4, 10))]
    else:
        body = ["{"] + [f'  "key{k}": {{"value": {k}, "name": "item {k}"}},' for k in range(rnd.randint(4, 10))]
        body += ['  "last": true', "}"]
    return [f"```{kind}", *body, "```"]


def _section(rnd: random.Random, number: int) -> list[str]:
    out = [f"## {number}. {_sentence(rnd)[:40].rstrip('.')}", ""]
    out += _paragraph(rnd) + [""]
    out += [f"- {_sentence(rnd)}" for _ in range(rnd.randint(3, 6))] + [""]
    out += _small_code(rnd) + [""]
    out += [f"{k}. {_sentence(rnd)}" for k in range(1, rnd.randint(3, 5))] + [""]
    out += _paragraph(rnd) + [""]
    return out


def make_reply(lines: int = LINES, seed: int = 42) -> str:
    """A realistic markdown reply of exactly `lines` lines."""
    rnd = random.Random(seed)
    out = ["# Streaming markdown report", ""] + _paragraph(rnd) + [""]
    if lines >= 1200:
        out += _python(rnd, 800) + [""]
        out += ["| Renderer | Cost | Layout |", "|---|---|---|"]
        out += [f"| r{k} | {rnd.randint(1, 99)} ms | {rnd.choice(_WORDS)} |" for k in range(12)] + [""]
    number = 0
    while len(out) < lines - 45:
        number += 1
        out += _section(rnd, number)
    while len(out) < lines:
        out.append(_sentence(rnd) if out[-1] == "" else "")
    return "\n".join(out[:lines]) + "\n"


def chunks(text: str) -> list[str]:
    return [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]


def devnull_console() -> Console:
    return Console(file=open(os.devnull, "w"), force_terminal=True, width=WIDTH, height=HEIGHT)


def sse_events(parts: list[str]) -> list[bytes]:
    """The deltas as the OpenAI-style server-sent events a real client would receive."""
    def event(part: str) -> bytes:
        chunk = {"object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": part}}]}
        return b"data: " + json.dumps(chunk).encode()

    return [event(part) for part in parts]


def decoded(events: list[bytes]):
    for event in events:
        yield json.loads(event[6:])["choices"][0]["delta"]["content"]


def run_ours(console: Console, deltas) -> float:
    start = time.perf_counter()
    renderer = MarkdownStreamRenderer(console)
    for delta in deltas:
        renderer.on_content(delta)
    renderer.finish()
    return time.perf_counter() - start


def run_plain(console: Console, deltas) -> float:
    file = console.file
    start = time.perf_counter()
    for delta in deltas:
        file.write(delta)
        file.flush()
    return time.perf_counter() - start


def run_naive(console: Console, parts: list[str], budget: float) -> tuple[float, int]:
    """Live(Markdown(full_text)) refreshed per chunk; returns (seconds, chunks actually fed).

    Past the time budget, the remaining chunks are estimated by timing the same refresh at
    evenly spaced later prefixes and integrating (per-chunk cost grows with the text).
    """
    start = time.perf_counter()
    text = ""
    with Live(console=console, transient=True, auto_refresh=False) as live:
        for done, part in enumerate(parts, 1):
            text += part
            live.update(Markdown(text), refresh=True)
            if time.perf_counter() - start > budget and done < len(parts):
                elapsed = time.perf_counter() - start
                return elapsed + _estimate_rest(live, parts, done), done
    return time.perf_counter() - start, len(parts)


def _estimate_rest(live: Live, parts: list[str], done: int, samples: int = 24) -> float:
    full = "".join(parts)
    step = (len(parts) - done) / samples
    costs = []
    for i in range(samples):
        prefix = full[: int(done + (i + 0.5) * step) * CHUNK]
        start = time.perf_counter()
        live.update(Markdown(prefix), refresh=True)
        costs.append(time.perf_counter() - start)
    return sum(costs) * step


# -- pseudo-terminal runs -----------------------------------------------------------------


def child(mode: str) -> None:
    """Run one renderer on this process's stdout (a pty) and report seconds on stderr."""
    parts = chunks(make_reply())
    deltas = decoded(sse_events(parts)) if mode.endswith("-sse") else parts
    console = Console(width=WIDTH, height=HEIGHT)
    seconds = run_ours(console, deltas) if mode.startswith("ours") else run_plain(console, deltas)
    print(f"{seconds:.6f}", file=sys.stderr)


def in_pty(mode: str) -> tuple[float, int]:
    """Seconds the child took with its output drained from a real pty, and bytes written."""
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode], stdout=slave, stderr=subprocess.PIPE, env=env
    )
    os.close(slave)
    received = [0]

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            received[0] += len(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    _, err = proc.communicate()
    reader.join(timeout=5)
    os.close(master)
    return float(err.decode().strip().splitlines()[-1]), received[0]


# -- report -------------------------------------------------------------------------------


def one_shot(reply: str) -> float:
    console = devnull_console()
    start = time.perf_counter()
    console.print(Markdown(reply))
    return time.perf_counter() - start


def per_line_cost(lines: int, repeats: int) -> float:
    parts = chunks(make_reply(lines))
    best = min(run_ours(devnull_console(), parts) for _ in range(repeats))
    return best / lines


def compare_in_pty(title: str, ours_mode: str, plain_mode: str, show_bytes: bool) -> None:
    """Print best-of-3 pty timings of our renderer and the plain writer, and their ratio."""
    print("\n" + title)
    ours, ours_bytes = min(in_pty(ours_mode) for _ in range(3))
    plain, plain_bytes = min(in_pty(plain_mode) for _ in range(3))
    ours_note = f"   {ours_bytes:>9} bytes written" if show_bytes else ""
    plain_note = f"   {plain_bytes:>9} bytes written" if show_bytes else ""
    print(f"  (a) ours   {ours:8.3f} s{ours_note}")
    print(f"  (c) plain  {plain:8.3f} s{plain_note}")
    print(f"  ours/plain {ours / plain:8.1f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=20.0, help="time budget for the naive renderer (s)")
    parser.add_argument("--child", choices=["ours", "plain", "ours-sse", "plain-sse"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return

    reply = make_reply()
    parts = chunks(reply)
    print(f"reply: {reply.count(chr(10))} lines, {len(reply)} chars, {len(parts)} chunks of {CHUNK} chars")
    print(f"console: {WIDTH}x{HEIGHT}, force_terminal")

    print("\n/dev/null:")
    ours = min(run_ours(devnull_console(), parts) for _ in range(3))
    plain = min(run_plain(devnull_console(), parts) for _ in range(3))
    naive, fed = run_naive(devnull_console(), parts, args.budget)
    note = ""
    if fed < len(parts):
        note = f" (estimated: fed {fed} of {len(parts)} chunks in {args.budget:.0f} s, rest sampled)"
    print(f"  (a) ours   {ours:8.3f} s")
    print(f"  (-) rich's Console.print(Markdown(reply)) once, for reference: {one_shot(reply):.3f} s")
    print(f"  (b) naive  {naive:8.3f} s{note}")
    print(f"  (c) plain  {plain:8.3f} s")
    print(f"  ours/plain {ours / plain:8.1f} x    naive/ours {naive / ours:8.1f} x")

    compare_in_pty("pseudo-terminal (output drained by the parent):", "ours", "plain", show_bytes=True)
    compare_in_pty("pseudo-terminal, each delta decoded from an SSE JSON event first (as a real client):",
                   "ours-sse", "plain-sse", show_bytes=False)

    print("\nlinearity (ours, /dev/null, best of several runs):")
    small, big = per_line_cost(20, 20), per_line_cost(2000, 5)
    print(f"  20-line reply    {small * 1e6:8.1f} us/line")
    print(f"  2,000-line reply {big * 1e6:8.1f} us/line   ratio {big / small:.2f}")


if __name__ == "__main__":
    main()
