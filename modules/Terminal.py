"""The one object all terminal output goes through: answers on stdout, messages on stderr."""
from __future__ import annotations

import os
import sys
from typing import Any, Mapping, Optional, TextIO


class Terminal:
    """Wraps stdout/stderr; plain (no colour or control codes) when not a terminal or NO_COLOR is set."""

    def __init__(self, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.environ = os.environ if environ is None else environ
        self._console: Any = None

    @property
    def is_interactive(self) -> bool:
        """True when stdout is a terminal."""
        return is_terminal(self.stdout)

    @property
    def color(self) -> bool:
        """True when colour and control codes may be written to stdout."""
        return (self.is_interactive and "NO_COLOR" not in self.environ
                and self.environ.get("TERM") != "dumb")

    @property
    def stderr_is_terminal(self) -> bool:
        """True when stderr is a terminal (progress displays may redraw)."""
        return is_terminal(self.stderr)

    def write(self, text: str) -> None:
        """Write answer text to stdout as is."""
        self.stdout.write(text)
        self.stdout.flush()

    def print(self, text: str = "") -> None:
        """Write a line to stdout."""
        self.write(text + "\n")

    def message(self, text: str) -> None:
        """Write a line to stderr (notices, warnings, errors)."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def console(self) -> Any:
        """A rich Console on stdout (created on first use; rich is imported only here)."""
        if self._console is None:
            from rich.console import Console
            self._console = Console(file=self.stdout, force_terminal=self.color,
                                    no_color=not self.color, highlight=False,
                                    soft_wrap=False, emoji=False)
        return self._console


# Control characters a reply might carry could drive the terminal (clear it, retitle it, write the
# clipboard with OSC 52): each is shown as its visible Unicode symbol instead. Tabs and newlines stay,
# carriage returns go (CRLF becomes LF).
_VISIBLE_CONTROLS = {code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
_VISIBLE_CONTROLS.update({0x0D: None, 0x7F: "\u2421"})
_VISIBLE_CONTROLS.update({code: "\ufffd" for code in range(0x80, 0xA0)})


def visible_text(text: str) -> str:
    """`text` safe to print: terminal control characters replaced by visible symbols."""
    return text.translate(_VISIBLE_CONTROLS)


def is_terminal(stream: Optional[TextIO]) -> bool:
    """True when `stream` is an open terminal (False for None, files, pipes and closed streams)."""
    try:
        return bool(stream and stream.isatty())
    except (AttributeError, ValueError):
        return False
