"""The chat's input-history file (Up/Down at the prompt): private, trimmed, never fatal."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Optional

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from .ChatSession import MAX_SESSION_BYTES
from .Errors import ConfigError
from .SafeFiles import PRIVATE_MODE, atomic_write_text, read_text_file

HISTORY_FILE_NAME = "chat_history.txt"
HISTORY_ENTRIES_KEPT = 100
_HISTORY_ENTRY_START = re.compile(r"^# ", re.MULTILINE)


class InputHistory:
    """`chat_history.txt` in the data directory: created 0600 (prompt_toolkit appends to it) and trimmed
    to the last HISTORY_ENTRIES_KEPT entries; a file that cannot be used is a warning, not an error."""

    def __init__(self, data_directory: Path, warn: Callable[[str], None], keep: bool = True) -> None:
        """`keep` off (--no-save, /autosave off): the file is read, never written."""
        self.path = Path(data_directory) / HISTORY_FILE_NAME
        self.warn = warn
        self.keep = keep

    def open(self, current: Optional[History] = None) -> History:
        """The history for the prompt: the trimmed file, or an in-memory one if the file is unusable;
        with `keep` off, the entries so far (`current`'s, else the file's) in memory only."""
        if not self.keep:
            return self._in_memory(current)
        self.trim()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_MODE)
            os.close(fd)
            os.chmod(self.path, PRIVATE_MODE)
        except OSError as exc:
            self.warn(f"Warning: {self.path}: {exc.strerror}; input history is not saved this time")
            return InMemoryHistory()
        return FileHistory(str(self.path))

    def _in_memory(self, current: Optional[History]) -> History:
        try:
            newest_first = list((current or FileHistory(str(self.path))).load_history_strings())
        except (OSError, UnicodeDecodeError) as exc:
            self.warn(f"Warning: {self.path}: cannot read the input history: {exc}")
            newest_first = []
        return InMemoryHistory(newest_first[::-1])

    def trim(self) -> None:
        """Keep the last HISTORY_ENTRIES_KEPT entries of the file (atomic rewrite; never with `keep` off)."""
        if not self.keep:
            return
        try:
            text = read_text_file(self.path, "chat history file", max_bytes=MAX_SESSION_BYTES)
            starts = [m.start() for m in _HISTORY_ENTRY_START.finditer(text or "")]
            if len(starts) > HISTORY_ENTRIES_KEPT:
                atomic_write_text(self.path, "\n" + text[starts[-HISTORY_ENTRIES_KEPT]:], mode=PRIVATE_MODE)
        except ConfigError as exc:
            self.warn(f"Warning: {exc}")
        except OSError as exc:
            self.warn(f"Warning: {self.path}: cannot trim: {exc.strerror}")

    def clear(self) -> History:
        """Empty the file; the fresh (empty) history to walk from now on."""
        atomic_write_text(self.path, "", mode=PRIVATE_MODE)
        return FileHistory(str(self.path))
