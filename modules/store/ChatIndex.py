"""A full-text index of the saved chats (SQLite FTS5): derived from the chat files, never the only copy.

It lives beside the chats directory as `chats-index.sqlite3`; each search first brings it up to date with the files
(a chat saved, changed by hand or deleted since is indexed again or dropped), so a missing, stale or
broken index rebuilds itself."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Iterable, List, NamedTuple, Tuple

from ..base.Errors import ConfigError

INDEX_FILE_NAME = "chats-index.sqlite3"  # in the data directory, beside chats/
SCHEMA_VERSION = 2
MARK_START, MARK_END = "\x02", "\x03"  # around a match in a snippet; the caller shows them as it can
SNIPPET_TOKENS = 12
HITS_SHOWN = 20
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, chat_id TEXT UNIQUE NOT NULL, stamp TEXT NOT NULL, "
    "updated TEXT NOT NULL, model TEXT NOT NULL, title TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS files_by_time ON files (updated, chat_id)",
    # a chat's text row has its files row's id as rowid: found and dropped by rowid, never by a scan
    "CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2')",
)


class SearchHit(NamedTuple):
    """One chat that matches: its number in the list of chats (newest first), id, the time it was saved,
    model, title and a snippet with the matches marked."""

    number: int
    chat_id: str
    updated: str
    model: str
    title: str
    snippet: str


class ChatIndex:
    """The index of the chats in `directory` (the chat files are `<id><suffix>`)."""

    def __init__(self, directory: Path, suffix: str) -> None:
        self.directory = Path(directory)
        self.suffix = suffix
        self.path = self.directory.parent / INDEX_FILE_NAME

    def search(self, text: str, limit: int = HITS_SHOWN) -> List[SearchHit]:
        """The chats whose title or messages hold every word of `text`, best matches first (the newest
        first among equals); ConfigError if the index cannot be kept."""
        query = fts_query(text)
        if not query or not self.directory.is_dir():
            return []
        with self._open() as connection:
            self._sync(connection)
            rows = connection.execute(
                "SELECT (SELECT count(*) FROM files AS newer WHERE (newer.updated, newer.chat_id) > "
                "(files.updated, files.chat_id)) + 1, files.chat_id, files.updated, files.model, files.title, "
                "snippet(texts, 1, ?, ?, '…', ?) FROM texts JOIN files ON files.id = texts.rowid "
                "WHERE texts MATCH ? ORDER BY round(bm25(texts), 1), files.updated DESC LIMIT ?",
                (MARK_START, MARK_END, SNIPPET_TOKENS, query, limit)).fetchall()
        return [SearchHit(*row) for row in rows]

    def update(self, chat_id: str, text: str) -> None:
        """Index one chat just saved as `text` (best effort: a later search catches up on any failure)."""
        try:
            with self._open() as connection:
                self._index(connection, chat_id, text, _stamp(self.directory / f"{chat_id}{self.suffix}"))
        except (ConfigError, sqlite3.Error, OSError, ValueError):
            pass

    def forget(self, chat_id: str) -> None:
        """Drop a deleted chat (best effort, as update)."""
        try:
            with self._open() as connection:
                _drop(connection, [chat_id])
        except (ConfigError, sqlite3.Error, OSError):
            pass

    # Keeping it
    def _open(self) -> contextlib.closing[sqlite3.Connection]:
        """The index, created (or re-created when unreadable or of another schema) as needed."""
        for attempt in (1, 2):
            try:
                connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
                if connection.execute("PRAGMA user_version").fetchone()[0] not in (0, SCHEMA_VERSION):
                    raise sqlite3.DatabaseError("another schema")
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                os.chmod(self.path, 0o600)
                return contextlib.closing(connection)
            except sqlite3.DatabaseError as exc:
                if attempt == 2:
                    raise ConfigError(f"{self.path}: cannot keep the search index: {exc}") from None
                _remove_quietly(self.path)  # only derived data is lost: it is built again from the chats
            except OSError as exc:
                raise ConfigError(f"{self.path}: cannot keep the search index: {exc.strerror}") from None
        raise AssertionError("unreachable")

    def _sync(self, connection: sqlite3.Connection) -> None:
        """Index the chat files that are new or changed since, drop those that are gone."""
        on_disk = {}
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry.name.endswith(self.suffix) and not entry.name.startswith("."):
                on_disk[entry.name[: -len(self.suffix)]] = (entry.path, _stamp_of(entry.stat()))
        known = dict(connection.execute("SELECT chat_id, stamp FROM files").fetchall())
        _drop(connection, [chat_id for chat_id in known if chat_id not in on_disk])
        stale = [(chat_id, path, stamp) for chat_id, (path, stamp) in on_disk.items() if known.get(chat_id) != stamp]
        if not stale:
            return
        connection.execute("BEGIN")
        try:
            for chat_id, path, stamp in stale:
                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        text = handle.read()
                except OSError:
                    continue
                self._index(connection, chat_id, text, stamp)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    @staticmethod
    def _index(connection: sqlite3.Connection, chat_id: str, text: str, stamp: str) -> None:
        header, body = searchable(text)
        title, body = _encodable(str(header.get("title", ""))), _encodable(body)
        _drop(connection, [chat_id])
        row = connection.execute("INSERT INTO files (chat_id, stamp, updated, model, title) VALUES (?, ?, ?, ?, ?)",
                                 (chat_id, stamp, str(header.get("updated", "")), str(header.get("model", "")),
                                  title))
        connection.execute("INSERT INTO texts (rowid, title, body) VALUES (?, ?, ?)", (row.lastrowid, title, body))


def searchable(text: str) -> Tuple[dict, str]:
    """(the header, the messages' text) of a chat file's text."""
    header: dict = {}
    parts = []
    for number, line in enumerate(text.splitlines()):
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        if number == 0:
            header = item
        elif item.get("role") in ("user", "assistant"):
            parts.append(_content_text(item.get("content")))
    return header, "\n".join(parts)


def _content_text(content: object) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def fts_query(text: str) -> str:
    """`text`'s words as an FTS5 query that every word must match (each quoted: no query syntax)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def _encodable(text: str) -> str:
    """`text` as SQLite can store it: a lone surrogate (a chat may hold one) becomes U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _stamp_of(status: os.stat_result) -> str:
    return f"{status.st_mtime_ns}:{status.st_size}"


def _stamp(path: Path) -> str:
    try:
        return _stamp_of(path.stat())
    except OSError:
        return ""


def _drop(connection: sqlite3.Connection, chat_ids: Iterable[str]) -> None:
    for chat_id in chat_ids:
        found = connection.execute("SELECT id FROM files WHERE chat_id = ?", (chat_id,)).fetchone()
        if found is not None:
            connection.execute("DELETE FROM texts WHERE rowid = ?", found)
            connection.execute("DELETE FROM files WHERE id = ?", found)


def _remove_quietly(path: Path) -> None:
    for name in (path, Path(f"{path}-journal"), Path(f"{path}-wal")):
        try:
            os.unlink(name)
        except OSError:
            pass
