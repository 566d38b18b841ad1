"""File helpers that never lose data: atomic writes, advisory locks, checked reads."""
from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import glob
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional

from .Errors import ConfigError, WriteError

PRIVATE_MODE = 0o600
MAX_TEXT_FILE_BYTES = 5 * 1024 * 1024  # config and providers files; callers may pass their own limit
STALE_TEMP_SECONDS = 5.0  # a temp file no writer holds and untouched this long was left by a killed one
_TEMP_FILE_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # what atomic_write_text's mkstemp names look like
UNUSABLE_PATH_ERRNOS = {errno.ENAMETOOLONG, errno.ELOOP}  # a path the system refuses whatever the file


def atomic_write_text(path: Path, text: str, mode: int | None = None) -> None:
    """Write `text` to `path` via a temp file in the same directory, fsync and rename.

    The file keeps its current mode; a new file gets `mode` (default 0600).
    """
    path = Path(os.path.realpath(path))  # write through a symlink instead of replacing it
    new_mode = _existing_mode(path)
    if new_mode is None:
        new_mode = PRIVATE_MODE if mode is None else mode
    remove_stale_temp_files(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # held until renamed: the temp file is not stale
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


def refuse_read_only(path: Path) -> None:
    """WriteError naming `path` and its mode when its owner may not write it: a file made read-only is
    never rewritten (a rename would replace it all the same, and root may write anything)."""
    mode = _existing_mode(Path(os.path.realpath(path)))
    if mode is not None and not mode & stat.S_IWUSR:
        raise WriteError(f"{path} is read-only (mode {mode:04o}); not changed (chmod u+w it to let llmc write it)")


def remove_stale_temp_files(path: Path, min_age: float = STALE_TEMP_SECONDS) -> None:
    """Delete the temp files a killed writer of `path` left behind (never one a live writer holds).

    `min_age` 0 is for callers holding `path`'s lock: no writer can be between creating and locking one."""
    path = Path(os.path.realpath(path))
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        _remove_if_stale(leftover, min_age)


def remove_stale_temp_files_in(directory: Path) -> None:
    """Delete every temp file killed writers left in `directory` (saved chats, history, config, YAML)."""
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if _TEMP_FILE_NAME.match(entry.name):
                _remove_if_stale(Path(entry.path), STALE_TEMP_SECONDS)


def _remove_if_stale(leftover: Path, min_age: float) -> None:
    """Unlink a temp file whose writer is gone: no lock on it, and not touched for `min_age` seconds."""
    try:
        fd = os.open(leftover, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < min_age:
            return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while its writer lives
        os.unlink(leftover)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    """Hold an exclusive advisory lock on `<path>.lock` for a read-merge-write of `path`.

    The lock sits beside the file a symlink points to: two links to one file share one lock."""
    real = Path(os.path.realpath(path))
    lock_path = real.with_name(real.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_text_file(path: Path, what: str = "file", max_bytes: int = MAX_TEXT_FILE_BYTES) -> str | None:
    """Return the text of `path` (a leading UTF-8 BOM dropped), None if it does not exist.

    ConfigError if it is not a regular file, holds more than `max_bytes` or cannot be read.
    """
    data = read_regular_file(path, what, max_bytes)
    if data is None:
        return None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + bom})") from None


def read_regular_file(path: Path, what: str = "file", max_bytes: int = MAX_TEXT_FILE_BYTES) -> bytes | None:
    """The bytes of `path`, None if it does not exist; ConfigError naming it (and `what` it should be)
    if it is not a regular file, holds more than `max_bytes` or cannot be read."""
    path = Path(path)
    return _read_or_none(path, what, lambda: _read_regular_file(path, what, max_bytes))


def read_first_line(path: Path, what: str = "file", max_bytes: int = MAX_TEXT_FILE_BYTES) -> bytes | None:
    """The first line of `path` (at most `max_bytes` of it), None if it does not exist; ConfigError as
    read_regular_file's if it is not a regular file or cannot be read."""
    path = Path(path)

    def first_line() -> bytes:
        with _regular_file(path, what) as handle:
            return handle.readline(max_bytes)
    return _read_or_none(path, what, first_line)


def _read_or_none(path: Path, what: str, read: Callable[[], bytes]) -> bytes | None:
    """What `read` gives, None if `path` does not exist; any other failure a ConfigError naming the file."""
    try:
        return read()
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied reading the {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def _read_regular_file(path: Path, what: str, max_bytes: int) -> bytes:
    """At most `max_bytes` of a regular file; never blocks on a FIFO nor reads a device."""
    with _regular_file(path, what) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: too large for a {what} (more than {max_bytes:,} bytes)")
    return data


@contextlib.contextmanager
def _regular_file(path: Path, what: str) -> Iterator[BinaryIO]:
    """`path` open for reading if it is a regular file (opened without blocking: a FIFO never holds it
    up); ConfigError naming it and `what` it should be otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        kind = _special_kind(os.fstat(fd).st_mode)
        if kind:
            problem = "is a directory" if kind == "a directory" else f"not a regular file ({kind})"
            raise ConfigError(f"{path}: {problem}, expected a {what}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            yield handle
    finally:
        os.close(fd)


def _special_kind(mode: int) -> str:
    """What a non-regular file is ("a FIFO", "a device", ...); "" for a regular file."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    if stat.S_ISREG(mode):
        return ""
    return next((name for test, name in kinds if test(mode)), "an unknown kind")


def check_usable_path(value: str, what: str) -> None:
    """ConfigError naming `what` when the system refuses `value` as a path at all (too long, a loop of links)."""
    try:
        os.stat(os.path.expanduser(value))
    except OSError as exc:
        if exc.errno in UNUSABLE_PATH_ERRNOS:
            raise ConfigError(unusable_path_text(exc, value, what)) from None


def unusable_path_text(exc: OSError, path: object, what: str = "") -> str:
    """One line for a path the system refuses; a long one is shown by its start."""
    shown = str(path)
    shown = shown if len(shown) <= 60 else f"{shown[:60]}… ({len(shown):,} characters)"
    return f"{what + ': ' if what else ''}{shown}: {exc.strerror or exc}"


def ensure_directory(path: Path, what: str = "data directory") -> Path:
    """Create the data directory (or another `what`), 0700, if needed; ConfigError if it cannot be
    created or written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {path}: {exc.strerror}") from None
    if not path.is_dir():
        raise ConfigError(f"{what} {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {path} is not writable")
    remove_stale_temp_files_in(path)
    return path


def file_stamp(path: Path) -> Optional[tuple]:
    """What tells one version of a file from another (inode, size, mtime); None if it is absent."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def is_readable_by_others(path: Path) -> bool:
    """True when group or others may read `path`."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False
