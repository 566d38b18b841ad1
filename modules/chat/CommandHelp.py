"""/help as the terminal can show it: the commands in groups, one line each at 80 columns, wrapped at
word boundaries when narrower, paged when taller than the screen; /help CMD for one command."""
from __future__ import annotations

import textwrap
from typing import Callable, Iterable, List, Optional, Protocol, Sequence, Tuple

from ..base.Terminal import Terminal
from .InputKeys import STAR_LINE

GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("The chat", ("help", "exit", "clear", "reset", "print", "edit-prompt", "regenerate", "edit",
                  "alternatives", "fork", "role")),
    ("Saved chats", ("chats", "search", "load", "title", "autosave", "save", "md", "clear_history")),
    ("Files and the clipboard", ("attach", "copy")),
    ("Models and settings", ("mod", "dm", "set-default", "list", "models", "sp", "temperature",
                             "max-tokens", "tools", "config")),
    ("Providers", ("discover-models", "add-provider")),
)
OTHER_GROUP = "More"
SYNOPSIS_COLUMN_LIMIT = 26
MORE_QUESTION = "-- more: Enter for the next page, q to stop -- "


class HelpEntry(Protocol):
    """What /help shows of a command (CommandHandler's Command)."""

    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> Tuple[str, ...]: ...
    @property
    def args(self) -> str: ...
    @property
    def help(self) -> str: ...
    @property
    def details(self) -> str: ...


def synopsis(command: HelpEntry) -> str:
    """`/name, /alias ARGS` of a command."""
    names = ", ".join("/" + name for name in (command.name, *command.aliases))
    return f"{names} {command.args}" if command.args else names


def grouped(commands: Sequence[HelpEntry]) -> List[Tuple[str, List[HelpEntry]]]:
    """The commands under their group's title, in GROUPS' order; commands of no group come last."""
    by_name = {command.name: command for command in commands}
    groups = [(title, [by_name[name] for name in names if name in by_name]) for title, names in GROUPS]
    placed = {name for _, names in GROUPS for name in names}
    groups.append((OTHER_GROUP, [command for command in commands if command.name not in placed]))
    return [(title, members) for title, members in groups if members]


def help_lines(commands: Sequence[HelpEntry], width: int, enter_sends: bool) -> List[str]:
    """The whole /help text for a terminal `width` columns wide."""
    lines = ["Commands (/help CMD for more about one):"]
    for title, members in grouped(commands):
        lines.append(title)
        rows = [(synopsis(command), command.help) for command in members]
        column = min(max(len(left) for left, _ in rows), SYNOPSIS_COLUMN_LIMIT)
        for left, text in rows:
            lines += _wrapped(f"  {left.ljust(column)}  {text}", width, " " * (column + 4))
    lines.append("Keys")
    for paragraph in keys_paragraphs(enter_sends):
        lines += _wrapped("  " + paragraph, width, "    ")
    return lines


def keys_paragraphs(enter_sends: bool) -> List[str]:
    """What the keys at the prompt do, a paragraph per theme."""
    if enter_sends:
        typing = ('Enter sends; Alt-Enter, Esc Enter or Ctrl-J adds a line; a line of only """ opens '
                  "and closes a block of lines; pasted text keeps its lines (enter_sends = false in "
                  "config.toml: Enter adds a line, Alt-Enter sends).")
    else:
        typing = ("Enter adds a line; Alt-Enter, Esc Enter or Ctrl-O sends (enter_sends = false in "
                  "config.toml); pasted text keeps its lines.")
    return [typing,
            "Ctrl-X Ctrl-E edits the prompt in $VISUAL or $EDITOR; Tab completes; Ctrl-C clears the line; "
            "Ctrl-D on an empty line leaves.",
            "Up/Down: input history; Shift-Up/Down: this chat's prompts (sending an edited one restarts "
            "the chat there); Ctrl-Shift-Up/Down: replies; Ctrl-B copies the line, Ctrl-L the last reply.",
            STAR_LINE]


def command_details(command: HelpEntry, width: int) -> List[str]:
    """/help CMD: the synopsis, the one-line help and the details, wrapped to `width`."""
    lines = [synopsis(command)]
    for paragraph in (command.help[:1].upper() + command.help[1:] + ".", command.details):
        if paragraph:
            lines += _wrapped("  " + paragraph, width, "  ")
    return lines


def _wrapped(line: str, width: int, indent: str) -> List[str]:
    """`line` cut at word boundaries to `width`, later lines indented by `indent`."""
    if len(line) <= width:
        return [line]
    return textwrap.wrap(line, width=max(width, len(indent) + 20), subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [line]


def show_paged(lines: Iterable[str], terminal: Terminal, ask: Callable[[str], Optional[str]]) -> None:
    """Print `lines`; on a terminal shorter than them, a screenful at a time (Enter goes on, q stops)."""
    lines = list(lines)
    page = max(terminal.size().lines - 1, 1)
    if not terminal.is_interactive or len(lines) <= page:
        terminal.print("\n".join(lines))
        return
    for start in range(0, len(lines), page):
        terminal.print("\n".join(lines[start:start + page]))
        if start + page >= len(lines):
            return
        answer = ask(MORE_QUESTION)
        if answer is None or answer.strip().lower() == "q":
            return
