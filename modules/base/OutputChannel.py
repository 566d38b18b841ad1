"""What the lower layers tell the user goes through one channel that is passed in (httpie's Environment
style): they never print on their own."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from .Terminal import Terminal

ProgressCallback = Callable[[str, int, int], None]


def _discard(text: str) -> None:
    """Where a channel nobody asked for sends text: nowhere."""


class OutputChannel:
    """Three kinds of telling: `result` (what was asked for, e.g. a discovery's per-provider line),
    `notice` (warnings, failures, skips, rate-limit waits) and `progress` (provider, done, total).
    A layer given no channel tells nothing; the command line makes one of its Terminal."""

    def __init__(self, result: Callable[[str], None] = _discard, notice: Callable[[str], None] = _discard,
                 progress: Optional[ProgressCallback] = None) -> None:
        self.result = result
        self.notice = notice
        self.progress = progress

    @classmethod
    def of_terminal(cls, terminal: Terminal) -> "OutputChannel":
        """Results on the terminal's stdout, notices on its stderr, no progress."""
        return cls(terminal.print, terminal.message)
