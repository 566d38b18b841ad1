"""The chat's input-history file (Up/Down at the prompt): private, trimmed, never fatal."""
from __future__ import annotations

import datetime
import os
import re
from pathlib import Path
from typing import Callable, List, Optional

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from ..store.ChatSession import MAX_SESSION_BYTES
from ..base.Errors import ConfigError
from ..base.SafeFiles import PRIVATE_MODE, atomic_write_text, read_text_file
from ..base.Secrets import mask_urls_in

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
        self._notices: List[str] = []  # said after the prompt returns, not over the line being accepted

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
        return _AppendingHistory(self.path, self._notices.append)

    def say_notices(self) -> None:
        """Tell what happened to the file while the last line was stored (a full disk, space back)."""
        notices, self._notices[:] = list(self._notices), []
        for notice in notices:
            self.warn(notice)

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
            text = read_text_file(self.path, "chat history file", max_bytes=MAX_SESSION_BYTES) or ""
            starts = [m.start() for m in _HISTORY_ENTRY_START.finditer(text)]
            if len(starts) > HISTORY_ENTRIES_KEPT:
                atomic_write_text(self.path, "\n" + text[starts[-HISTORY_ENTRIES_KEPT]:], mode=PRIVATE_MODE)
        except ConfigError as exc:
            self.warn(f"Warning: {exc}")
        except OSError as exc:
            self.warn(f"Warning: {self.path}: cannot trim: {exc.strerror}")

    def clear(self) -> History:
        """Empty the file; the fresh (empty) history to walk from now on."""
        atomic_write_text(self.path, "", mode=PRIVATE_MODE)
        return _AppendingHistory(self.path, self._notices.append)


class _AppendingHistory(FileHistory):
    """prompt_toolkit's FileHistory, but a line that cannot be appended (a full disk) is one warning and
    history in memory only until a later line can be written again; a torn entry is cut off."""

    def __init__(self, path: Path, warn: Callable[[str], None]) -> None:
        super().__init__(str(path))
        self.path = path
        self.warn = warn
        self.failing = False

    def store_string(self, string: str) -> None:
        if string.startswith("/"):  # a command's URL (/add-provider NAME URL) is written without its secrets
            string = mask_urls_in(string)
        entry = f"\n# {datetime.datetime.now()}\n" + "".join(f"+{line}\n" for line in string.split("\n"))
        try:
            _append_whole(self.path, entry.encode("utf-8", errors="replace"))
        except OSError as exc:
            if not self.failing:
                self.warn(f"Warning: {self.path}: {exc.strerror}; input history is kept in memory only "
                          "until it can be written again (the chat goes on)")
            self.failing = True
            return
        if self.failing:
            self.failing = False
            self.warn(f"{self.path}: input history is saved again")


def _append_whole(path: Path, data: bytes) -> None:
    """Append `data` to `path`, or nothing of it: a partial write is truncated away."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_MODE)
    try:
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)
