"""A saved chat as the list and a search show it: its summary, its file as a directory scan finds it, a
search hit; what the chat store and its index (store/ChatIndex) share, without the index's sqlite3."""
from __future__ import annotations

import os
from typing import NamedTuple, Optional

MARK_START, MARK_END = "\x02", "\x03"  # around a match in a snippet; the caller shows them as it can


class ChatSummary(NamedTuple):
    """A saved chat as the list shows it, read from its first line only."""

    chat_id: str
    title: str
    created: str
    updated: str  # ISO 8601 in UTC, so newest first is a plain sort
    model: str  # the model of the last reply
    message_count: int  # user and assistant messages


class ChatFile(NamedTuple):
    """A chat file as a directory scan found it: its path and stamp (None if it could not be looked at)."""

    path: str  # made a Path only when the file is read: a Path for each of 10,000 files slowed the listing
    stamp: Optional[str]


class SearchHit(NamedTuple):
    """One chat that matches: its number in the list of chats (newest first), id, the time it was saved,
    model, title and a snippet with the matches marked."""

    number: int
    chat_id: str
    updated: str
    model: str
    title: str
    snippet: str


def stamp_of(status: os.stat_result) -> str:
    """What tells one version of a chat file from another: inode, size, modification and change times (a
    chmod changes the last, so a file made unreadable is looked at again)."""
    return f"{status.st_ino}:{status.st_size}:{status.st_mtime_ns}:{status.st_ctime_ns}"
