"""InputHistory: the input-history file in a real temp data directory."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import List

from prompt_toolkit.history import FileHistory, InMemoryHistory

from llmc.chat.InputHistory import HISTORY_ENTRIES_KEPT, HISTORY_FILE_NAME, InputHistory


def entries(count: int) -> str:
    return "".join(f"\n# 2026-01-01 00:00:{i % 60:02d}\n+entry {i}\n" for i in range(count))


def test_open_creates_a_private_file(data_dir: Path) -> None:
    history = InputHistory(data_dir, warn=lambda text: None).open()
    path = data_dir / HISTORY_FILE_NAME
    assert isinstance(history, FileHistory) and path.read_text() == ""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_open_trims_to_the_newest_entries_and_keeps_the_file_private(data_dir: Path) -> None:
    path = data_dir / HISTORY_FILE_NAME
    path.write_text(entries(HISTORY_ENTRIES_KEPT + 20))
    path.chmod(0o644)
    history = InputHistory(data_dir, warn=lambda text: None).open()
    text = path.read_text()
    assert text.count("\n# ") == HISTORY_ENTRIES_KEPT and "+entry 19\n" not in text and "+entry 20\n" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(history.load_history_strings())[0] == f"entry {HISTORY_ENTRIES_KEPT + 19}"


def test_an_unusable_file_is_a_warning_and_the_history_lives_in_memory(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    warnings: List[str] = []
    history = InputHistory(not_a_directory, warn=warnings.append).open()
    assert isinstance(history, InMemoryHistory)
    assert warnings[-1] == (f"Warning: {not_a_directory / HISTORY_FILE_NAME}: Not a directory; "
                            "input history is not saved this time")


def test_clear_empties_the_file(data_dir: Path) -> None:
    path = data_dir / HISTORY_FILE_NAME
    path.write_text(entries(3))
    history = InputHistory(data_dir, warn=lambda text: None).clear()
    assert path.read_text() == "" and list(history.load_history_strings()) == []


def test_not_kept_the_file_is_read_but_never_created_trimmed_or_written(data_dir: Path) -> None:
    path = data_dir / HISTORY_FILE_NAME
    history = InputHistory(data_dir, warn=lambda text: None, keep=False)
    assert isinstance(history.open(), InMemoryHistory) and not path.exists()
    path.write_text(entries(HISTORY_ENTRIES_KEPT + 5))
    before = path.read_text()
    walked = history.open()
    walked.append_string("a secret prompt")
    history.trim()
    assert path.read_text() == before
    newest_first = list(walked.load_history_strings())
    assert newest_first[0] == "a secret prompt" and newest_first[-1] == "entry 0"
    assert list(history.open(walked).load_history_strings()) == newest_first  # switching keeps what Up walks


def test_a_full_disk_is_one_warning_and_history_returns_with_the_space(data_dir: Path, monkeypatch) -> None:
    """Simulated at the OS boundary: os.write into the history file fails with ENOSPC after a few bytes
    (as on a full disk), then works again. Proves: one warning, no torn entry, memory keeps the lines."""
    import errno
    import os
    warnings: List[str] = []
    input_history = InputHistory(data_dir, warn=warnings.append)
    history = input_history.open()
    history.append_string("before")
    real_write, disk = os.write, {"full": True}

    def write(fd: int, data: bytes) -> int:
        if disk["full"]:
            real_write(fd, data[:5])  # a part gets in before the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", write)
    for line in ("full 1", "full 2", "full 3"):
        history.append_string(line)  # never raises: prompt_toolkit would show a traceback
        input_history.say_notices()  # what the chat does once the prompt returned
    path = data_dir / HISTORY_FILE_NAME
    assert warnings == [f"Warning: {path}: No space left on device; input history is kept in memory only "
                        "until it can be written again (the chat goes on)"]
    assert list(history.get_strings()) == ["before", "full 1", "full 2", "full 3"]
    disk["full"] = False
    history.append_string("after")
    input_history.say_notices()
    assert warnings[1:] == [f"{path}: input history is saved again"]
    assert list(FileHistory(str(path)).load_history_strings())[::-1] == ["before", "after"]  # no torn entry
