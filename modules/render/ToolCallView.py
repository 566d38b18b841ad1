"""How a tool call and its result look on screen: the call with its arguments pretty-printed (one line when
short), the result as a dim, cut summary. What a model or a tool sends is shown, never obeyed: control
characters are made visible."""
from __future__ import annotations

import json
from typing import List

from ..base.Secrets import without_known_keys
from ..base.Terminal import visible_text
from ..base.Text import one_line

ONE_LINE_ARGUMENTS = 60  # characters of compact JSON shown on the call's own line
MAX_ARGUMENT_LINES = 20  # of pretty-printed arguments; the chat file keeps them all
RESULT_SUMMARY_CHARS = 160
CALL_MARK = "⚙"


def call_lines(display: str, arguments: str) -> List[str]:
    """The lines showing a call of tool `display` with `arguments` (JSON text as the model sent it); a key
    the model puts in them is masked, as in its reply."""
    arguments = without_known_keys(arguments)
    head = f"{CALL_MARK} {one_line(display, 120)}"
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except (ValueError, RecursionError):
        return [f"{head} {one_line(arguments, ONE_LINE_ARGUMENTS)} (not JSON)"]
    compact = json.dumps(value, ensure_ascii=False)
    if value in ({}, None):
        return [f"{head}()"]
    if len(compact) <= ONE_LINE_ARGUMENTS:
        return [f"{head} {visible_text(compact)}"]
    pretty = json.dumps(value, ensure_ascii=False, indent=2).splitlines()
    shown = [f"  {visible_text(line)}" for line in pretty[:MAX_ARGUMENT_LINES]]
    if len(pretty) > MAX_ARGUMENT_LINES:
        shown.append(f"  … {len(pretty) - MAX_ARGUMENT_LINES} more lines")
    return [head, *shown]


def result_line(text: str, is_error: bool) -> str:
    """A tool's result as one cut line, or what went wrong."""
    summary = one_line(without_known_keys(text), RESULT_SUMMARY_CHARS) or "(no output)"
    return f"  {'✗' if is_error else '→'} {summary}"
