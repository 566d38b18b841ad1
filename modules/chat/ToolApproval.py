"""Whether a tool call the model asks for may run: the user decides, or a rule they set does."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Callable, Iterable, Optional, Set

QUESTION_CHOICES = "[y] run once, [n] refuse, [a] always allow this tool in this chat"
APPROVE_ALL_NOTICE = "--approve-tools: every tool call of this run runs without asking"


def how_to_allow(display: str) -> str:
    """The one line telling a user without a terminal how a refused call could run."""
    return (f"Refused the call of {display}: no terminal to ask in. To allow it, give --approve-tools, or "
            f"list it in config.toml's allowed_tools (e.g. allowed_tools = [\"{display}\"])")


class ToolApproval:
    """Decides each call: allowed by --approve-tools, a config.toml pattern (`time.*`) or an earlier
    "always"; else asked in a terminal; else refused, with one line on how to allow it."""

    def __init__(self, allowed_patterns: Iterable[str] = (), approve_all: bool = False,
                 ask: Optional[Callable[[str], Optional[str]]] = None,
                 notice: Callable[[str], None] = lambda line: None) -> None:
        """`ask` puts a question to the user and returns the answer (None at the end of input); None when
        there is no terminal to ask in. `notice` hears the refusals nobody was asked about."""
        self.allowed_patterns = tuple(allowed_patterns)
        self.approve_all = approve_all
        self.ask = ask
        self.notice = notice
        self.always: Set[str] = set()  # tools the user allowed for this chat
        if approve_all:
            notice(APPROVE_ALL_NOTICE)

    def is_allowed(self, display: str) -> bool:
        """True when `display` (`server.tool`) may run without asking."""
        return (self.approve_all or display in self.always
                or any(fnmatchcase(display, pattern) for pattern in self.allowed_patterns))

    def decide(self, display: str) -> bool:
        """True when the call of `display` may run. Ctrl-C while asking is raised (it stops the loop)."""
        if self.is_allowed(display):
            return True
        if self.ask is None:
            self.notice(how_to_allow(display))
            return False
        choice = ""
        while choice not in ("y", "n", "a"):  # anything else is asked again; the end of input refuses
            answer = self.ask(f"Run {display}? {QUESTION_CHOICES}: ")
            choice = (answer or "n").strip().lower()[:1] or "n"
        if choice == "a":
            self.always.add(display)
        return choice in ("y", "a")
