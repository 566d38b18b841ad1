"""Writes a streamed reply as plain text: the answer to stdout, reasoning to stderr."""
from __future__ import annotations

from typing import List, Optional, TextIO

from ..base.Terminal import is_terminal


class PlainReplyWriter:
    """The reply renderer for pipes and NO_COLOR: same interface as MarkdownStreamRenderer."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self._parts: List[str] = []
        self._in_reasoning = False
        self._reasoning_ended_line = True
        self._answer_ended_line = True
        self._held_notices: List[str] = []  # shown once the answer's line is complete (shared screen)

    def on_reasoning(self, text: str) -> None:
        """Reasoning goes to stderr under a REASONING: heading."""
        if not self._in_reasoning and not self._parts:
            self.stderr.write("REASONING:\n")
            self._in_reasoning = True
        self.stderr.write(text)
        self.stderr.flush()
        self._reasoning_ended_line = text.endswith("\n")

    def on_waiting(self, text: str) -> None:
        """Plain output shows no transient status: nothing to do."""

    def on_warning(self, text: str) -> None:
        """A notice about the stream: stderr, on a line of its own."""
        if self._in_reasoning and not self._reasoning_ended_line:
            self.stderr.write("\n")
            self._reasoning_ended_line = True
        if not self._answer_ended_line and is_terminal(self.stdout):
            self._held_notices.append(text)  # on a shared screen it would split the answer's line
            return
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def _release_notices(self) -> None:
        notices, self._held_notices = self._held_notices, []
        for text in notices:
            self.on_warning(text)

    def on_content(self, text: str) -> None:
        """Answer text goes to stdout as it arrives."""
        if self._in_reasoning:
            self.stderr.write("\n\nANSWER:\n")
            self.stderr.flush()
            self._in_reasoning = False
        self._parts.append(text)
        self.stdout.write(text)
        self.stdout.flush()
        if text:
            self._answer_ended_line = text.endswith("\n")
        if self._answer_ended_line:
            self._release_notices()

    def finish(self) -> None:
        """End the answer with a newline."""
        self._end_line()

    def abort(self, note: Optional[str] = None) -> None:
        """Stop where the stream stopped; `note` goes to stderr."""
        self._end_line()
        if note:
            self.stderr.write(note + "\n")
            self.stderr.flush()

    def _end_line(self) -> None:
        if self._in_reasoning:
            self.stderr.write("\n")
            self._in_reasoning = False
        if not self._answer_ended_line:
            self.stdout.write("\n")
            self._answer_ended_line = True
        self.stdout.flush()
        self._release_notices()

    @property
    def text(self) -> str:
        """The answer received so far."""
        return "".join(self._parts)
