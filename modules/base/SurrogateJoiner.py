"""Text decoded from JSON may hold UTF-16 surrogate halves: pairs are joined, lone halves shown as U+FFFD."""
from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """`text` with surrogate pairs joined into their character and lone halves replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class SurrogateJoiner:
    """Joins a surrogate pair split across stream events (JavaScript servers cut text in UTF-16 units)."""

    def __init__(self) -> None:
        self._held = ""  # a high surrogate that ended the last piece, waiting for its low half

    def feed(self, text: str) -> str:
        """The text of one piece, ready to print; a trailing high surrogate waits for the next piece."""
        if not self._held and (text.isascii() or not _SURROGATE.search(text)):
            return text
        text, self._held = self._held + text, ""
        if text and "\ud800" <= text[-1] <= "\udbff":
            text, self._held = text[:-1], text[-1]
        return without_lone_surrogates(text)

    def close(self) -> str:
        """What is still held at the end of the stream: a lone half, shown as U+FFFD."""
        held, self._held = self._held, ""
        return REPLACEMENT if held else ""
