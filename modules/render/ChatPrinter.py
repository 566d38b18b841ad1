"""A whole chat on the screen: each message under its heading, replies as Markdown on a colour terminal."""
from __future__ import annotations

from typing import List, Tuple

from ..base.Terminal import Terminal, visible_text


def print_turns(terminal: Terminal, turns: List[Tuple[str, str]]) -> None:
    """Print (role, text) turns; "The chat is empty." when there are none. A saved chat is not trusted
    to drive the terminal: its control characters are made visible."""
    if not turns:
        terminal.print("The chat is empty.")
        return
    for role, content in turns:
        _print_message(terminal, role, visible_text(content))


def _print_message(terminal: Terminal, role: str, content: str) -> None:
    heading = {"user": "User", "tool": "Tool"}.get(role, "Assistant")
    if not terminal.color:
        terminal.print(f"{heading}:\n{content}\n")
        return
    from rich.markdown import Markdown  # noqa: PLC0415 - rich: only a colour terminal shows Markdown
    from rich.text import Text  # noqa: PLC0415 - rich
    console = terminal.console()
    if role == "user":
        console.print(Text("User:", style="bold cyan"))
        console.print(Text(content))
    else:
        console.print(Text(f"{heading}:", style="bold green" if role == "assistant" else "dim"))
        console.print(Markdown(content))
    console.print()
