"""SseParser: events from bytes split anywhere, CRLF, comments and multi-line data."""
from __future__ import annotations

import random
from typing import List

import pytest

from llmc.transport.SseParser import SseParser

STREAM = ('data: {"a": "héllo 世界 🎉"}\n\n'
          ": keep-alive\n\n"
          "event: message\nid: 7\nretry: 100\ndata: first\ndata: second\n\n"
          "data:no-space\n\n"
          "data: [DONE]\n\n").encode()
EXPECTED = ['{"a": "héllo 世界 🎉"}', "first\nsecond", "no-space", "[DONE]"]


def parse(chunks: List[bytes]) -> List[str]:
    parser = SseParser()
    events: List[str] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def test_whole_stream_at_once() -> None:
    assert parse([STREAM]) == EXPECTED


def test_one_byte_at_a_time_splits_inside_utf8_characters() -> None:
    assert parse([STREAM[i:i + 1] for i in range(len(STREAM))]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, 40))
def test_every_two_way_split(cut: int) -> None:
    assert parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_random_splits() -> None:
    rng = random.Random(1234)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)])]
        assert parse(pieces) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_line_endings(newline: bytes) -> None:
    stream = STREAM.replace(b"\n", newline)
    assert parse([stream]) == EXPECTED
    assert parse([stream[i:i + 1] for i in range(len(stream))]) == EXPECTED


def test_crlf_split_between_cr_and_lf() -> None:
    assert parse([b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]) == ["a", "b"]


def test_events_are_returned_as_soon_as_they_complete() -> None:
    parser = SseParser()
    assert parser.feed(b"data: one\n") == []
    assert parser.feed(b"\ndata: tw") == ["one"]
    assert parser.feed(b"o\n\n") == ["two"]


def test_comments_and_other_fields_are_ignored() -> None:
    assert parse([b": comment\n\nevent: ping\n\nid: 1\n\ndata: x\n\n"]) == ["x"]


def test_final_event_without_blank_line_is_flushed_on_close() -> None:
    assert parse([b"data: last"]) == ["last"]
    assert parse([b"data: last\n"]) == ["last"]


def test_long_line_in_many_pieces() -> None:
    body = "x" * 100_000
    chunks = [b"data: "] + [b"x" * 100] * 1000 + [b"\n\n"]
    assert parse(chunks) == [body]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert parse([b"data: \xff\xfeok\n\n"]) == ["\ufffd\ufffdok"]


def test_truncated_utf8_at_the_end() -> None:
    assert parse(["data: é".encode()[:-1]]) == ["\ufffd"]


def test_a_byte_order_mark_at_the_start_is_dropped_even_when_split() -> None:
    stream = "\ufeff".encode() + STREAM
    assert parse([stream]) == EXPECTED
    assert parse([stream[i:i + 1] for i in range(len(stream))]) == EXPECTED
    assert parse([b"data: a\n\n", "\ufeff".encode() + b"data: b\n\n"]) == ["a"]  # only at the very start
