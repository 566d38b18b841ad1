"""A minimal terminal emulator for tests: what the user sees once rich's output (live region and all) stops."""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x1b\x07]*(?:\x1b\\|\x07)|\r|\n|[^\x1b\r\n]+")
UP_ERASE = "\x1b[1A\x1b[2K"  # how rich's live region takes back a line


class Screen:
    """A minimal terminal with unlimited scrollback: what the user sees once output stops.

    Supports what rich's live display emits: CR, LF, cursor up, erase line, SGR, cursor
    visibility and hyperlinks.  Cells keep their SGR so colours can be compared too.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: list[list[tuple[str, str]]] = [[]]
        self.row = self.col = 0
        self.sgr = ""

    def feed(self, data: str) -> "Screen":
        for match in _TOKEN.finditer(data):
            token, args, command = match.group(0), match.group(1), match.group(2)
            if token == "\n":
                self._newline()
            elif token == "\r":
                self.col = 0
            elif command == "m":
                self.sgr = "" if args in ("", "0") else args
            elif command == "A":
                self.row = max(0, self.row - int(args or 1))
            elif command == "K":
                assert args == "2", token
                self.rows[self.row] = []
            elif command in ("h", "l") or token.startswith("\x1b]"):
                pass
            elif command:
                raise AssertionError(f"unexpected escape {token!r}")
            else:
                for char in token:
                    self._put(char)
        return self

    def _newline(self) -> None:
        self.row, self.col = self.row + 1, 0
        while len(self.rows) <= self.row:
            self.rows.append([])

    def _put(self, char: str) -> None:
        if self.col >= self.width:
            self._newline()
        line = self.rows[self.row]
        line.extend([(" ", "")] * (self.col - len(line)))
        if self.col < len(line):
            line[self.col] = (char, self.sgr)
        else:
            line.append((char, self.sgr))
        self.col += 1

    def lines(self, styled: bool = False) -> list[str]:
        out = ["".join(f"{{{sgr}}}{c}" if styled and sgr else c for c, sgr in row).rstrip() for row in self.rows]
        while out and not out[-1]:
            out.pop()
        return out

    def text(self) -> str:
        return "\n".join(self.lines())
