"""SurrogateJoiner: surrogate halves from JSON escapes joined into characters, lone ones made U+FFFD."""
from __future__ import annotations

from llmc.base.SurrogateJoiner import SurrogateJoiner, without_lone_surrogates

EMOJI = "\U0001F600"
HIGH, LOW = "\ud83d", "\ude00"  # EMOJI as the two UTF-16 halves a JavaScript server may cut it into


def test_a_pair_split_across_pieces_is_joined() -> None:
    joiner = SurrogateJoiner()
    assert [joiner.feed("smile " + HIGH), joiner.feed(LOW + " done"), joiner.close()] == ["smile ", EMOJI + " done", ""]


def test_a_piece_that_is_only_a_half_waits_for_the_other() -> None:
    joiner = SurrogateJoiner()
    assert [joiner.feed(HIGH), joiner.feed(""), joiner.feed(LOW)] == ["", "", EMOJI]


def test_lone_halves_become_replacement_characters() -> None:
    joiner = SurrogateJoiner()
    assert joiner.feed("a" + LOW + "b") == "a\ufffdb"
    assert joiner.feed(HIGH) == "" and joiner.feed("c") == "\ufffdc"  # the low half never came
    assert joiner.feed("end" + HIGH) == "end" and joiner.close() == "\ufffd"


def test_every_result_can_be_encoded_as_utf8() -> None:
    for text in (HIGH, LOW, HIGH + HIGH + LOW, LOW + HIGH, "x" + HIGH + "y" + LOW, EMOJI, "plain", ""):
        fixed = without_lone_surrogates(text)
        fixed.encode("utf-8")
        assert fixed.replace("\ufffd", "") == text.replace(HIGH + LOW, EMOJI).replace(HIGH, "").replace(LOW, "")
