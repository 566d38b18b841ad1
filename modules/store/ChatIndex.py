"""An index of the saved chats (SQLite, with FTS5): each chat's summary for the list and its text for a
search, derived from the chat files and never the only copy.

It lives beside the chats directory as `chats-index.sqlite3`. Each listing and search first brings it up to date
with the files the caller scanned (each with a stamp of its inode, size and times): a chat new or changed since,
by this llmc, another one or by hand, is read again (its first line for the list, all of it for a search), one
gone is dropped; a missing, stale or broken index rebuilds itself."""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Tuple, TypeVar

from .ChatSession import MAX_CHAT_FILE_BYTES
from .Alternatives import ALTERNATIVES_KEY
from .SavedChat import MARK_END, MARK_START, ChatFile, ChatSummary, SearchHit
from ..base.Errors import ConfigError
from ..base.SafeFiles import read_regular_file
from ..base.SurrogateJoiner import without_lone_surrogates

INDEX_FILE_NAME = "chats-index.sqlite3"  # in the data directory, beside chats/
SCHEMA_VERSION = 3
SNIPPET_TOKENS = 12
HITS_SHOWN = 20
LOCK_WAIT = 5.0  # seconds a listing or a search waits while another llmc writes the index (a first build, say)
BEST_EFFORT_WAIT = 0.2  # a save's update gives up sooner: the chat must not stall, the next listing catches up
_SCHEMA = (
    # stamp: the file as its summary was read; text_stamp: as its text was indexed (a search catches up)
    "CREATE TABLE files (id INTEGER PRIMARY KEY, chat_id TEXT UNIQUE NOT NULL, stamp TEXT NOT NULL, "
    "text_stamp TEXT NOT NULL, title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL, "
    "model TEXT NOT NULL, messages INTEGER NOT NULL)",
    "CREATE INDEX files_by_time ON files (updated, chat_id)",
    # a chat's text row has its files row's id as rowid: found and dropped by rowid, never by a scan
    "CREATE VIRTUAL TABLE texts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2')",
)
_UPSERT = ("INSERT INTO files (chat_id, stamp, text_stamp, title, created, updated, model, messages) "
           "VALUES (?, ?, '', ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET stamp = excluded.stamp, "
           "title = excluded.title, created = excluded.created, updated = excluded.updated, "
           "model = excluded.model, messages = excluded.messages")


_T = TypeVar("_T")
SummaryReader = Callable[[Path], ChatSummary]  # a chat file's summary; ConfigError naming a file that is none


class ChatIndex:
    """The index of the chats in `directory`; `read_summary` reads the summary of a chat file."""

    def __init__(self, directory: Path, read_summary: SummaryReader) -> None:
        self.directory = Path(directory)
        self.read_summary = read_summary
        self.path = self.directory.parent / INDEX_FILE_NAME

    def summaries(self, files: Dict[str, ChatFile]) -> Tuple[List[ChatSummary], List[str]]:
        """The summaries of the chats `files` holds (id: file), in no order, and one line per file that is
        not a chat (such a file is read again each time); ConfigError if the index cannot be kept."""
        return self._using(lambda connection: self._sync(connection, files))

    def search(self, text: str, files: Dict[str, ChatFile], limit: int = HITS_SHOWN) -> List[SearchHit]:
        """The chats of `files` whose title or messages hold every word of `text`, best matches first (the
        newest first among equals); ConfigError if the index cannot be kept."""
        query = fts_query(text)
        if not query or not files:
            return []

        def find(connection: sqlite3.Connection) -> List[SearchHit]:
            self._sync(connection, files)
            self._sync_texts(connection, files)
            rows = connection.execute(
                "SELECT (SELECT count(*) FROM files AS newer WHERE (newer.updated, newer.chat_id) > "
                "(files.updated, files.chat_id)) + 1, files.chat_id, files.updated, files.model, files.title, "
                "snippet(texts, 1, ?, ?, '…', ?) FROM texts JOIN files ON files.id = texts.rowid "
                "WHERE texts MATCH ? ORDER BY round(bm25(texts), 1), files.updated DESC LIMIT ?",
                (MARK_START, MARK_END, SNIPPET_TOKENS, query, limit)).fetchall()
            return [SearchHit(*row) for row in rows]
        return self._using(find)

    def update(self, summary: ChatSummary, text: str, stamp: str) -> None:
        """Index one chat just saved as `text`, its file stamped `stamp` (best effort: the next listing or
        search catches up)."""
        def store(connection: sqlite3.Connection) -> None:
            with _transaction(connection):
                _store_summaries(connection, [(summary, stamp)])
                found = connection.execute("SELECT id FROM files WHERE chat_id = ?", (summary.chat_id,)).fetchone()
                if found is not None:
                    _store_text(connection, found[0], summary.title, searchable(text)[1], stamp)
        try:
            self._using(store, wait=BEST_EFFORT_WAIT)
        except (ConfigError, OSError, ValueError):
            pass

    def forget(self, chat_id: str) -> None:
        """Drop a deleted chat (best effort, as update)."""
        def drop(connection: sqlite3.Connection) -> None:
            with _transaction(connection):
                _drop(connection, [chat_id])
        try:
            self._using(drop, wait=BEST_EFFORT_WAIT)
        except (ConfigError, OSError, ValueError):
            pass

    # Keeping it
    def _using(self, operation: Callable[[sqlite3.Connection], _T], wait: float = LOCK_WAIT) -> _T:
        """What `operation` gives on the index, opened (and made) for it, waiting at most `wait` seconds for
        another llmc's write; an index found damaged on the way is removed and built again once; any other
        failure a ConfigError naming it."""
        for attempt in (1, 2):
            try:
                connection = self._connect(wait)
                try:
                    return operation(connection)
                finally:
                    connection.close()
            except sqlite3.Error as exc:
                # damaged (a crash while writing without fsync, say) or of another llmc version is a DatabaseError
                # of no subclass; locked, read-only or full (OperationalError) is never a reason to build it again
                if type(exc) is not sqlite3.DatabaseError or attempt == 2:
                    raise ConfigError(f"{self.path}: cannot keep the chats index: {exc}") from None
            _remove_quietly(self.path)  # only derived data is lost: it is built again from the chats
        raise AssertionError("unreachable")

    def _connect(self, wait: float) -> sqlite3.Connection:
        """The index open; its tables made if it is new; DatabaseError if it is not one of this schema,
        ConfigError if its file cannot be made."""
        if not self.path.exists():
            try:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))  # private from the start
            except OSError as exc:
                raise ConfigError(f"{self.path}: cannot keep the chats index: {exc.strerror}") from None
        connection = sqlite3.connect(self.path, timeout=wait, isolation_level=None)
        try:
            # derived data, never the only copy: no fsync per write (a save waited on several); an index a
            # crash damaged is unreadable, removed and built again (_using)
            connection.execute("PRAGMA synchronous = OFF")
            if _schema_version(connection) != SCHEMA_VERSION:
                with _transaction(connection):
                    version = _schema_version(connection)  # again, now that no other llmc is making it
                    if version not in (0, SCHEMA_VERSION):
                        raise sqlite3.DatabaseError("an index of another llmc version")
                    if version == 0:
                        for statement in _SCHEMA:
                            connection.execute(statement)
                        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            connection.close()
            raise
        return connection

    def _sync(self, connection: sqlite3.Connection,
              files: Dict[str, ChatFile]) -> Tuple[List[ChatSummary], List[str]]:
        """The summaries of `files`, each read again where the index has none of that version (and kept
        for the next time), and the problems of the files that are not chats; chats gone are dropped."""
        known = {row[0]: row for row in connection.execute(
            "SELECT chat_id, stamp, title, created, updated, model, messages FROM files")}
        gone = [chat_id for chat_id in known if chat_id not in files]
        chats: List[ChatSummary] = []
        problems: List[str] = []
        fresh: List[Tuple[ChatSummary, str]] = []
        for chat_id, (path, stamp) in files.items():
            row = known.get(chat_id)
            if row is not None and stamp is not None and row[1] == stamp:
                chats.append(ChatSummary(chat_id, *row[2:]))
                continue
            try:
                summary = self.read_summary(Path(path))
            except ConfigError as exc:
                problems.append(str(exc))
                if row is not None:
                    gone.append(chat_id)
                continue
            chats.append(summary)
            if stamp is not None:
                fresh.append((summary, stamp))
        if gone or fresh:
            with _transaction(connection):
                _drop(connection, gone)
                _store_summaries(connection, fresh)
        return chats, problems

    def _sync_texts(self, connection: sqlite3.Connection, files: Dict[str, ChatFile]) -> None:
        """Index the text of each chat whose text is older than its summary."""
        stale = connection.execute("SELECT id, chat_id, title, stamp FROM files WHERE text_stamp != stamp").fetchall()
        if not stale:
            return
        with _transaction(connection):
            for row_id, chat_id, title, stamp in stale:
                try:
                    data = read_regular_file(Path(files[chat_id].path), "chat file", MAX_CHAT_FILE_BYTES)
                except (ConfigError, KeyError):
                    continue
                if data is not None:
                    text = searchable(data.decode("utf-8", errors="replace"))[1]
                    _store_text(connection, row_id, title, text, stamp)


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """A write transaction: the lock is taken at once (a second writer waits its turn), undone on failure."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _schema_version(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA user_version").fetchone()[0]


def _store_summaries(connection: sqlite3.Connection, summaries: Iterable[Tuple[ChatSummary, str]]) -> None:
    """Keep each (summary, stamp): a chat known before keeps its row (and its text, stale until a search)."""
    for summary, stamp in summaries:
        chat_id, title, created, updated, model, count = summary
        try:
            connection.execute(_UPSERT, (chat_id, stamp, *map(without_lone_surrogates, (title, created, updated,
                                                                                         model)), count))
        except UnicodeEncodeError:  # an id from a file name that is not UTF-8: listed from its file each time
            continue


def _store_text(connection: sqlite3.Connection, row_id: int, title: str, body: str, stamp: str) -> None:
    """The text of the chat of files row `row_id` (its texts row has that rowid), as of `stamp`."""
    connection.execute("DELETE FROM texts WHERE rowid = ?", (row_id,))
    connection.execute("INSERT INTO texts (rowid, title, body) VALUES (?, ?, ?)",
                       (row_id, without_lone_surrogates(title), without_lone_surrogates(body)))
    connection.execute("UPDATE files SET text_stamp = ? WHERE id = ?", (stamp, row_id))


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
        else:
            parts += _message_texts(item)
    return header, "\n".join(parts)


def _message_texts(message: dict) -> List[str]:
    """The text of a prompt or reply, and of those it replaced (its alternatives: they are found too)."""
    texts = [_content_text(message.get("content"))] if message.get("role") in ("user", "assistant") else []
    alternatives = message.get(ALTERNATIVES_KEY)
    for tail in alternatives if isinstance(alternatives, list) else []:
        for replaced in tail if isinstance(tail, list) else []:
            texts += _message_texts(replaced) if isinstance(replaced, dict) else []
    return texts


def _content_text(content: object) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def fts_query(text: str) -> str:
    """`text`'s words as an FTS5 query that every word must match (each quoted: no query syntax)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


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
