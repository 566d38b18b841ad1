"""The SSE parser is O(n): parse time for n and 10n bytes, cut at random chunk boundaries.

Two shapes: a chat stream (many small events, text with multi-byte UTF-8 characters) and one huge
`data:` line (the worst case for a parser that re-scans its buffer). The reference figure is 10x the
time for n bytes (what linear cost predicts); target: the 10n time is at most 1.5x that prediction.
Payloads are checked against the expected ones, so a boundary inside a character or a CRLF is proven too.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

from llmc.transport.SseParser import SseParser  # noqa: E402

WORDS = ["stream", "événement", "テキスト", "λόγος", "data", "emoji 🚀", "chunk", "naïve"]


def chat_stream(size: int, seed: int = 1) -> Tuple[bytes, List[str]]:
    """SSE bytes of about `size` bytes of chat.completion.chunk events, and their payloads."""
    rng = random.Random(seed)
    parts, payloads, total = [], [], 0
    while total < size:
        payload = json.dumps({"choices": [{"index": 0, "delta": {"content": rng.choice(WORDS) + " "}}]},
                             ensure_ascii=False)
        newline = "\r\n" if rng.random() < 0.1 else "\n"
        event = (f"data: {payload}{newline}{newline}" if rng.random() > 0.05
                 else f": keep-alive{newline}{newline}data: {payload}{newline}{newline}")
        data = event.encode()
        parts.append(data)
        payloads.append(payload)
        total += len(data)
    return b"".join(parts), payloads


def long_line(size: int) -> Tuple[bytes, List[str]]:
    """One event whose single data line is about `size` bytes long."""
    text = ("ü" * (size // 2))
    return f"data: {text}\n\n".encode(), [text]


def random_chunks(data: bytes, seed: int, largest: int) -> List[bytes]:
    rng = random.Random(seed)
    chunks, at = [], 0
    while at < len(data):
        step = rng.randint(1, largest)
        chunks.append(data[at:at + step])
        at += step
    return chunks


def parse_seconds(data: bytes, expected: List[str], largest_chunk: int, rounds: int) -> float:
    """Best-of-`rounds` seconds to parse `data` fed in random chunks; checks the payloads."""
    chunks = random_chunks(data, seed=len(data), largest=largest_chunk)
    best = float("inf")
    for _ in range(rounds):
        parser = SseParser()
        payloads: List[str] = []
        started = time.perf_counter()
        for chunk in chunks:
            payloads.extend(parser.feed(chunk))
        payloads.extend(parser.close())
        best = min(best, time.perf_counter() - started)
        if payloads != expected:
            raise AssertionError("the parser returned different payloads than were sent")
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000, help="n in bytes (default 1 MB)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = []
    for title, make, largest in (("chat stream, chunks of 1-64 bytes", chat_stream, 64),
                                 ("one long data line, chunks of 1-16 bytes", lambda n: long_line(n), 16)):
        small = parse_seconds(*make(args.size), largest, args.rounds)
        large = parse_seconds(*make(10 * args.size), largest, max(1, args.rounds - 1))
        results.append(report(f"SSE parser, {title}: {args.size:,} vs {10 * args.size:,} bytes",
                              f"time for 10n bytes", large, "10 x time for n bytes (linear)", 10 * small,
                              "<= 1.5", large <= 1.5 * 10 * small))
        print(f"  n: {small * 1000:.1f} ms ({args.size / small / 1e6:.1f} MB/s); "
              f"10n: {large * 1000:.1f} ms ({10 * args.size / large / 1e6:.1f} MB/s)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
