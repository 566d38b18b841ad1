"""The names tools go by: `server.tool` for the user, and a unique OpenAI-valid function name for the model."""
from __future__ import annotations

import re
from typing import Set

MAX_NAME = 64  # OpenAI's limit for a function name
VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,%d}" % MAX_NAME)
_INVALID_RUN = re.compile(r"[^A-Za-z0-9_-]+")


def display_name(server: str, tool: str) -> str:
    """What the user types and reads: `server.tool`."""
    return f"{server}.{tool}"


def function_name(server: str, tool: str, taken: Set[str]) -> str:
    """`server_tool` made valid for the OpenAI format (letters, digits, `_`, `-`, at most 64) and unique
    among `taken` (compared without case: some providers fold it), which it joins. A clash gets `_2`, `_3`…"""
    base = _INVALID_RUN.sub("_", f"{server}_{tool}")[:MAX_NAME] or "tool"
    name, number = base, 1
    while name.lower() in taken:
        number += 1
        suffix = f"_{number}"
        name = base[:MAX_NAME - len(suffix)] + suffix
    taken.add(name.lower())
    return name
