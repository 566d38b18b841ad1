"""What the keys do at the chat's prompt: Enter sends (or adds a line), the newline keys, \"\"\" blocks,
and the editor (Ctrl-X Ctrl-E)."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.key_binding import KeyBindings

from ..base.Errors import ConfigError
from .ExternalEditor import edit_text

FENCE = '"""'


def keys_line(enter_sends: bool) -> str:
    """The one line of keys the chat's first screen shows."""
    if enter_sends:
        return "Enter sends · Alt-Enter or Ctrl-J: new line · /help: commands · Ctrl-D or /exit: leave"
    return "Alt-Enter or Ctrl-O sends · Enter: new line · /help: commands · Ctrl-D or /exit: leave"


STAR_LINE = "A * in the prompt (model *>) means the model sees this chat's earlier messages; /reset forgets them."


def input_key_bindings(enter_sends: bool, environ: Mapping[str, str],
                       on_error: Callable[[str], None]) -> KeyBindings:
    """The editing keys of a multi-line prompt: with `enter_sends`, Enter sends and Alt-Enter, Esc Enter
    and Ctrl-J add a line; without it Enter adds a line and Alt-Enter sends. Ctrl-O always sends, and
    Ctrl-X Ctrl-E opens the text in the editor (`on_error` tells why it could not)."""
    bindings = KeyBindings()
    bindings.add("c-o")(_send)
    bindings.add("c-x", "c-e")(lambda event: _edit_in_editor(event.current_buffer, environ, on_error))
    if enter_sends:
        bindings.add("enter")(_enter)
        bindings.add("escape", "enter")(_newline)
        bindings.add("c-j")(_newline)
    return bindings


def _send(event: Any) -> None:
    event.current_buffer.validate_and_handle()


def _newline(event: Any) -> None:
    event.current_buffer.newline(copy_margin=False)


def _enter(event: Any) -> None:
    """Send; in a \"\"\" block add a line, and a closing \"\"\" line sends the block without its fences;
    with a completion picked from the menu, take it and close the menu."""
    buffer = event.current_buffer
    state = buffer.complete_state
    if state is not None and state.current_completion is not None:
        buffer.complete_state = None
        return
    inside = closed_block_text(buffer.text)
    if inside is not None:
        buffer.text = inside
        buffer.validate_and_handle()
    elif buffer.text.split("\n", 1)[0].strip() == FENCE:
        buffer.newline(copy_margin=False)
    else:
        buffer.validate_and_handle()


def closed_block_text(text: str) -> Optional[str]:
    """The text between a first and a last line that are only \"\"\"; None unless `text` is such a block."""
    lines = text.split("\n")
    if len(lines) > 1 and lines[0].strip() == FENCE and lines[-1].strip() == FENCE:
        return "\n".join(lines[1:-1])
    return None


def _edit_in_editor(buffer: Any, environ: Mapping[str, str], on_error: Callable[[str], None]) -> None:
    """Ctrl-X Ctrl-E: the text being typed goes to the editor and comes back to the line, not sent."""
    def edit() -> None:
        try:
            buffer.text = edit_text(buffer.text, environ)
        except ConfigError as exc:
            on_error(f"ERROR: {exc}")
            return
        buffer.cursor_position = len(buffer.text)
    run_in_terminal(edit)
