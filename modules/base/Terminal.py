"""The one object all terminal output goes through: answers on stdout, messages on stderr."""
from __future__ import annotations

import contextlib
import os
import sys
import termios
import textwrap
from typing import TYPE_CHECKING, Any, Dict, Iterator, Mapping, Optional, TextIO

if TYPE_CHECKING:
    from rich.console import Console

    from ..render.RenderProcess import RenderProcess

DIM, NORMAL = "\x1b[2m", "\x1b[0m"  # what rich writes around a faint line


class Terminal:
    """Wraps stdout/stderr; plain (no colour or control codes) when not a terminal or NO_COLOR is set."""

    def __init__(self, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.environ = os.environ if environ is None else environ
        self._console: Any = None
        self.assume_yes = False  # --yes: questions are answered yes without asking
        self.render_process: Optional[RenderProcess] = None  # -p: the process that draws replies, when one runs

    @property
    def is_interactive(self) -> bool:
        """True when stdout is a terminal."""
        return is_terminal(self.stdout)

    @property
    def color(self) -> bool:
        """True when colour and control codes may be written to stdout."""
        return (self.is_interactive and not self.environ.get("NO_COLOR")  # set but empty: colour stays
                and self.environ.get("TERM") != "dumb")

    @property
    def stderr_is_terminal(self) -> bool:
        """True when stderr is a terminal (progress displays may redraw)."""
        return is_terminal(self.stderr)

    def size(self) -> os.terminal_size:
        """Columns and rows of stdout's terminal; 80x24 when stdout is no terminal."""
        if self.is_interactive:
            try:
                return os.get_terminal_size(self.stdout.fileno())
            except (OSError, ValueError, AttributeError):
                pass
        return os.terminal_size((80, 24))

    def write(self, text: str) -> None:
        """Write answer text to stdout as is."""
        self.stdout.write(text)
        self.stdout.flush()

    def print(self, text: str = "") -> None:
        """Write a line to stdout; control characters (say, in a provider's model id) are made visible."""
        self.write(visible_text(text) + "\n")

    def print_dim(self, text: str) -> None:
        """A line on stdout in a faint style on a colour terminal, wrapped between words at its width
        (plain elsewhere). Written as is, not with rich: the chat's first lines are dim, and drawing them
        with rich would add its import to every chat's start."""
        if not self.color:
            self.print(text)
            return
        width = self.size().columns
        lines = [part for line in visible_text(text).split("\n") for part in textwrap.wrap(line, width) or [""]]
        self.write("".join(f"{DIM}{line}{NORMAL}\n" for line in lines))

    def message(self, text: str) -> None:
        """Write a line to stderr (notices, warnings, errors); control characters are made visible."""
        self.stderr.write(visible_text(text) + "\n")
        self.stderr.flush()

    def confirm(self, question: str, stdin: Optional[TextIO] = None) -> bool:
        """Ask a yes/no question on stderr and read the answer; no unless answered yes.

        With `assume_yes` the answer is yes without asking; without a terminal to ask in, it is no."""
        if self.assume_yes:
            return True
        stdin = stdin or sys.stdin
        if not (is_terminal(stdin) and self.stderr_is_terminal):
            return False
        self.stderr.write(visible_text(question) + " [y/N] ")
        self.stderr.flush()
        answer = stdin.readline()
        if not answer.endswith("\n"):
            self.stderr.write("\n")  # end of input: the next line starts on its own
        return answer.strip().lower() in ("y", "yes")

    def ask(self, question: str, stdin: Optional[TextIO] = None) -> Optional[str]:
        """Ask on stderr and read one line of answer from stdin; None at the end of input."""
        stdin = stdin or sys.stdin
        self.stderr.write(visible_text(question))
        self.stderr.flush()
        answer = stdin.readline()
        if not answer.endswith("\n"):
            self.stderr.write("\n")  # end of input: the next line starts on its own
            return None
        return answer.rstrip("\n")

    @contextlib.contextmanager
    def keys_not_echoed(self, stdin: Optional[TextIO] = None) -> Iterator[None]:
        """While a reply streams, keys typed (Ctrl-C's ^C too) are not echoed into the rendered text.

        Typed-ahead keys stay queued for the next prompt byte for byte, as the line editor reads them (no
        line editing, Enter stays Enter, not Ctrl-J's new line: a prompt typed meanwhile is sent); Ctrl-C
        still interrupts.
        """
        saved = None
        stdin = stdin or sys.stdin
        try:
            # A background job touching the terminal's modes would be stopped (SIGTTOU): leave it be.
            if is_terminal(stdin) and os.tcgetpgrp(stdin.fileno()) == os.getpgrp():
                saved = termios.tcgetattr(stdin.fileno())
                quiet = list(saved)
                quiet[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR)
                quiet[3] &= ~(termios.ECHO | termios.ECHOCTL | termios.ICANON | termios.IEXTEN)
                termios.tcsetattr(stdin.fileno(), termios.TCSANOW, quiet)
        except (OSError, termios.error, ValueError):
            saved = None
        try:
            yield
        finally:
            if saved is not None:
                with contextlib.suppress(OSError, termios.error, ValueError):
                    termios.tcsetattr(stdin.fileno(), termios.TCSANOW, saved)

    def console(self) -> Console:
        """A rich Console on stdout (created on first use; rich is imported only here)."""
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415 - rich: only what is drawn needs it
            self._console = Console(file=self.stdout, force_terminal=self.color,
                                    no_color=not self.color, highlight=False,
                                    soft_wrap=False, emoji=False)
        return self._console


# Control characters a reply might carry could drive the terminal (clear it, retitle it, write the
# clipboard with OSC 52): each is shown as its visible Unicode symbol instead. Tabs and newlines stay,
# carriage returns go (CRLF becomes LF).
_VISIBLE_CONTROLS: Dict[int, Optional[str]] = {
    code: chr(0x2400 + code) for code in range(0x20) if code not in (0x09, 0x0A)}
_VISIBLE_CONTROLS.update({0x0D: None, 0x7F: "\u2421"})
_VISIBLE_CONTROLS.update({code: "\ufffd" for code in range(0x80, 0xA0)})
_VISIBLE_CONTROLS.update({code: "\ufffd" for code in range(0xD800, 0xE000)})  # lone surrogates cannot be printed
# Bidirectional embeddings, overrides and isolates can make text read backwards ("gnp.exe" as "exe.png"):
# each is shown as its code point.
_VISIBLE_CONTROLS.update({code: f"<U+{code:04X}>" for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def visible_text(text: str) -> str:
    """`text` safe to print: terminal control characters and bidirectional overrides replaced by visible symbols."""
    if text.isprintable():  # each character replaced is one isprintable refuses: the common case is quick
        return text
    return text.translate(_VISIBLE_CONTROLS)


def is_terminal(stream: Optional[TextIO]) -> bool:
    """True when `stream` is an open terminal (False for None, files, pipes and closed streams)."""
    try:
        return bool(stream and stream.isatty())
    except (AttributeError, ValueError):
        return False
