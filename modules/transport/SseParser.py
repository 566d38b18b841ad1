"""Incremental parser for server-sent events: bytes in, `data` payloads out, in O(n)."""
from __future__ import annotations

import codecs
from typing import List


class SseParser:
    """Splits a byte stream into SSE events; chunk boundaries may fall anywhere, even inside a character."""

    def __init__(self) -> None:
        # utf-8-sig drops a byte-order mark at the very start, as the SSE standard asks
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._pending = ""        # text after the last complete line
        self._long_line: List[str] = []  # pieces of a line still waiting for its end
        self._long_chars = 0
        self._data_lines: List[str] = []
        self._data_chars = 0

    @property
    def unfinished(self) -> int:
        """Characters held for the line and the event not yet ended (a caller bounds them)."""
        return len(self._pending) + self._long_chars + self._data_chars

    def feed(self, chunk: bytes) -> List[str]:
        """Return the data payloads of the events completed by `chunk`."""
        decoded = self._decoder.decode(chunk)
        if "\n" not in decoded and "\r" not in decoded and not self._pending.endswith("\r"):
            self._long_line.append(decoded)  # no line ends here: keep it cheap for long lines
            self._long_chars += len(decoded)
            return []
        text = self._take_pending() + decoded
        carry = ""
        if text.endswith("\r"):  # may be the first half of "\r\n"
            text, carry = text[:-1], "\r"
        *lines, rest = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = rest + carry
        events: List[str] = []
        for line in lines:
            self._take_line(line, events)
        return events

    def close(self) -> List[str]:
        """Flush a final event that was not followed by a blank line."""
        events: List[str] = []
        tail = self._take_pending() + self._decoder.decode(b"", final=True)
        for line in tail.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            self._take_line(line, events)
        self._take_line("", events)
        return events

    def _take_pending(self) -> str:
        text = self._pending + "".join(self._long_line)
        self._pending, self._long_line, self._long_chars = "", [], 0
        return text

    def _take_line(self, line: str, events: List[str]) -> None:
        if not line:
            if self._data_lines:
                events.append("\n".join(self._data_lines))
                self._data_lines, self._data_chars = [], 0
            return
        if line.startswith(":"):
            return  # comment, e.g. ": keep-alive"
        field, _, value = line.partition(":")
        if field == "data":
            value = value[1:] if value.startswith(" ") else value
            self._data_lines.append(value)
            self._data_chars += len(value)
