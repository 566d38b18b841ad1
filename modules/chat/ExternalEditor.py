"""Editing text in the user's editor ($VISUAL, $EDITOR): Ctrl-X Ctrl-E, /edit-prompt and /edit."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from typing import List, Mapping

from ..base.Errors import ConfigError
from ..base.SafeFiles import PRIVATE_MODE

FALLBACK_EDITORS = ("editor", "nano", "vi")


def editor_command(environ: Mapping[str, str]) -> List[str]:
    """$VISUAL, else $EDITOR (split as a shell would), else the first of FALLBACK_EDITORS on PATH."""
    for variable in ("VISUAL", "EDITOR"):
        value = environ.get(variable, "").strip()
        if value:
            try:
                return shlex.split(value)
            except ValueError as exc:
                raise ConfigError(f"${variable} ({value!r}) cannot be read as a command: {exc}") from None
    for name in FALLBACK_EDITORS:
        found = shutil.which(name, path=environ.get("PATH"))
        if found:
            return [found]
    raise ConfigError("no editor found: set $VISUAL or $EDITOR (e.g. export EDITOR=nano)")


def edit_text(text: str, environ: Mapping[str, str]) -> str:
    """`text` as the user left it in their editor (a private temporary .md file); ConfigError if the
    editor cannot be started or fails (the text is then unchanged)."""
    command = editor_command(environ)
    handle, path = tempfile.mkstemp(prefix="llmc-prompt-", suffix=".md")
    try:
        os.fchmod(handle, PRIVATE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        try:
            status = subprocess.call([*command, path], env=dict(environ))
        except OSError as exc:
            raise ConfigError(f"cannot start the editor {command[0]!r}: {exc.strerror}") from None
        if status != 0:
            raise ConfigError(f"the editor {command[0]!r} exited with status {status}; the prompt is unchanged")
        with open(path, encoding="utf-8", errors="replace") as stream:
            edited = stream.read()
    finally:
        os.unlink(path)
    return edited[:-1] if edited.endswith("\n") and not text.endswith("\n") else edited
