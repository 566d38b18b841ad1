"""File helpers that never lose data: atomic writes, advisory locks, checked reads."""
from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

from modules.Errors import ConfigError

PRIVATE_MODE = 0o600


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to `path` via a temp file in the same directory, fsync and rename.

    The file keeps its current mode; a new file gets `mode` (default 0600).
    """
    path = Path(os.path.realpath(path))  # write through a symlink instead of replacing it
    new_mode = _existing_mode(path)
    if new_mode is None:
        new_mode = PRIVATE_MODE if mode is None else mode
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), new_mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(path.parent)


def remove_stale_temp_files(path: Path) -> None:
    """Delete temp files a killed writer of `path` left behind; call only while holding its lock."""
    path = Path(os.path.realpath(path))
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _existing_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `<path>.lock` for a read-merge-write of `path`."""
    lock_path = Path(path).with_name(Path(path).name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_text_file(path: Path, what: str = "file") -> str | None:
    """Return the text of `path`, None if it does not exist; ConfigError if it cannot be read."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, expected a {what}")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied reading the {what}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def ensure_directory(path: Path) -> Path:
    """Create the data directory (0700) if needed; ConfigError if it cannot be created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"data directory {path} is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data directory {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ConfigError(f"data directory {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"data directory {path} is not writable")
    return path


def is_readable_by_others(path: Path) -> bool:
    """True when group or others may read `path`."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False
