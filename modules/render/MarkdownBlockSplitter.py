"""Splits a streamed markdown reply into top-level blocks as its lines arrive (markdown-it decides)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

__all__ = ["Block", "BlockSplitter", "Fence", "LineAssembler", "is_blank", "is_table_head",
           "starts_top_level_block"]

_FENCE_OPEN = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_FENCE_CLOSE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")
_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
# After a blank line, these usually continue the list or quote above rather than start anew.
_LIST_OR_QUOTE = re.compile(r">|[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)")
_TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")


def is_blank(line: str) -> bool:
    return not line.strip(" \t")


@dataclass
class Fence:
    """An open fenced code block: ``` or ~~~ of some length, and its info string."""

    char: str
    length: int
    info: str

    @classmethod
    def opened_by(cls, line: str) -> Fence | None:
        """The fence `line` opens (indent up to 3, as in CommonMark), or None."""
        match = _FENCE_OPEN.fullmatch(line)
        if match is None:
            return None
        marker, info = match.group(2), match.group(3)
        if marker[0] == "`" and "`" in info:
            return None
        return cls(marker[0], len(marker), info.strip())

    def closed_by(self, line: str) -> bool:
        """True when `line` closes this fence: same character, at least as long, nothing after."""
        match = _FENCE_CLOSE.fullmatch(line)
        return match is not None and match.group(1)[0] == self.char and len(match.group(1)) >= self.length

    @property
    def language(self) -> str:
        """The lexer name rich would use: the first word of the info string."""
        return self.info.partition(" ")[0] or "text"


@dataclass
class Block:
    """Complete source lines of one block; `fence` is set when the block is a top-level code fence."""

    lines: list[str] = field(default_factory=list)
    fence: Fence | None = None
    closed: bool = False  # the fence's closing line has arrived
    printed: int = 0  # code lines already printed to scrollback (renderer bookkeeping)
    may_hold_html: bool = False  # a line holds "<": an HTML block may run on past blank lines

    def add(self, line: str) -> None:
        self.lines.append(line)
        self.may_hold_html = self.may_hold_html or "<" in line

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def code_count(self) -> int:
        """Number of complete code lines (fence blocks only)."""
        return max(0, len(self.lines) - 1 - self.closed)

    def code(self, start: int, end: int) -> list[str]:
        """Code lines start..end (fence blocks only)."""
        return self.lines[1 + start : 1 + min(end, self.code_count)]


class LineAssembler:
    """Joins streamed text into complete lines without quadratic string concatenation."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def feed(self, text: str) -> list[str]:
        """Add text; return the lines it completed."""
        if "\n" not in text:
            if text:
                self._parts.append(text)
            return []
        pieces = text.split("\n")
        self._parts.append(pieces[0])
        lines = ["".join(self._parts), *pieces[1:-1]]
        self._parts = [pieces[-1]] if pieces[-1] else []
        return [line[:-1] if line.endswith("\r") else line for line in lines]

    @property
    def partial(self) -> str:
        """The incomplete last line."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def flush(self) -> list[str]:
        """End of text: the partial line, if any, as a complete line."""
        partial, self._parts = self.partial, []
        return [partial] if partial else []


@functools.lru_cache(maxsize=1)
def _block_parser() -> MarkdownIt:
    parser = MarkdownIt().enable("strikethrough").enable("table")  # as rich's Markdown
    parser.core.ruler.disable("inline")  # block structure is all we need
    return parser


def starts_top_level_block(lines: list[str], line: str) -> bool:
    """True when markdown-it parses `line`, after `lines`, as the start of a new top-level block."""
    index = len(lines)
    tokens = _block_parser().parse("\n".join([*lines, line]))
    return any(t.level == 0 and t.nesting >= 0 and t.map and t.map[0] == index for t in tokens)


class BlockSplitter:
    """Cuts streamed markdown into blocks at boundaries that later text cannot change.

    Candidate cuts: an unindented line after a blank line outside any fence (list items and
    quote lines there continue their list or quote), a fence opener, an ATX heading, or the
    line after a heading or closing fence.  markdown-it confirms each candidate (the line must
    begin a top-level block), so the cost is one parse per block.  A top-level code fence is
    complete at its closing line.
    """

    def __init__(self) -> None:
        self.open = Block()
        self._done: list[Block] = []
        self._lines = LineAssembler()
        self._fence: Fence | None = None  # the fence we are inside, at any depth
        self._after_blank = False
        self._after_block_end = False  # previous line was a heading or a closing fence

    @property
    def partial(self) -> str:
        """The incomplete last line, which belongs to the open block."""
        return self._lines.partial

    def feed(self, text: str) -> None:
        for line in self._lines.feed(text):
            self._add_line(line)

    def close(self) -> None:
        """End of stream: the partial line and the open block are complete."""
        for line in self._lines.flush():
            self._add_line(line)
        if self.open.lines:
            self._complete()

    def pending_blocks(self) -> list[Block]:
        """Blocks completed but not yet popped."""
        return self._done

    def pop_done(self) -> list[Block]:
        """Blocks completed since the last call, in order."""
        done, self._done = self._done, []
        return done

    def _complete(self) -> None:
        self._done.append(self.open)
        self.open = Block()
        self._after_blank = self._after_block_end = False

    def _add_line(self, line: str) -> None:
        if self._fence is not None:
            self._add_fenced_line(line)
            return
        blank = is_blank(line)
        if blank and not self.open.lines:
            return  # blank lines between blocks render as nothing
        if not blank and self.open.lines and self._may_start_block(line):
            if self._surely_starts_block(line) or starts_top_level_block(self.open.lines, line):
                self._complete()
        fence = Fence.opened_by(line)
        if fence is not None and not self.open.lines and not line.startswith(" "):
            self.open.fence = fence
        self.open.add(line)
        self._fence = fence
        self._after_blank = blank
        self._after_block_end = bool(_ATX_HEADING.match(line))

    def _add_fenced_line(self, line: str) -> None:
        assert self._fence is not None
        self.open.add(line)
        if not self._fence.closed_by(line):
            return
        self._fence = None
        if self.open.fence is not None:
            self.open.closed = True
            self._complete()
        else:
            self._after_blank, self._after_block_end = False, True

    def _surely_starts_block(self, line: str) -> bool:
        """A likely cut markdown-it need not confirm: after a blank line (the line is unindented and no
        list item or quote line) only an HTML block of the kinds that span blank lines continues, and a
        link reference definition ("[") makes no block of its own."""
        return self._after_blank and not self.open.may_hold_html and line[0] != "["

    def _may_start_block(self, line: str) -> bool:
        """Cheap pre-check, so that markdown-it only confirms likely cuts."""
        if line[0] in " \t":
            return False  # continues a list item, quote or indented code
        if self._after_blank:
            return not _LIST_OR_QUOTE.match(line)
        return self._after_block_end or bool(Fence.opened_by(line) or _ATX_HEADING.match(line))


def is_table_head(lines: list[str]) -> bool:
    return len(lines) > 1 and "|" in lines[0] and bool(_TABLE_DELIMITER.fullmatch(lines[1]))
