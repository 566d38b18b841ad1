"""Chats saved as they go: one JSON Lines file per chat in `<data dir>/chats`, its summary on line one."""
from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from .Attachment import typed_prompt
from .ChatSession import (CHAT_FORMAT_KEY, MAX_CHAT_FILE_BYTES, check_chat_size, format_chat_lines,
                          parse_chat_lines)
from .SavedChat import MARK_END, MARK_START, ChatFile, ChatSummary, SearchHit, stamp_of
from ..base.Errors import ConfigError, file_write_error
from ..base.SafeFiles import atomic_write_text, ensure_directory, file_stamp, read_first_line, read_text_file
from ..base.Terminal import visible_text

if TYPE_CHECKING:
    from .ChatIndex import ChatIndex
    from ..ProviderManager import ProviderManager

CHATS_DIRECTORY = "chats"
CHAT_SUFFIX = ".jsonl"
HEADER_MAX_BYTES = 16 * 1024  # a header line is a few hundred bytes; more is not one of ours
TITLE_CHARS = 80
UNTITLED = "(no title)"
UNKNOWN_TIME = "unknown"
TITLE_GIVEN_KEY = "title_given"  # in a header: the title was given by the user, not taken from the chat


class ChatStore:
    """Reads and writes the saved chats; a chat another llmc changed since is never overwritten."""

    def __init__(self, data_directory: Path) -> None:
        self.directory = Path(data_directory) / CHATS_DIRECTORY
        self._stamps: Dict[str, Optional[tuple]] = {}  # each chat file as this store last wrote or read it
        self._created: Dict[str, str] = {}
        self._titles: Dict[str, str] = {}  # titles given with /title or --title, kept on each save
        self._chat_index: Optional[ChatIndex] = None

    @property
    def index(self) -> ChatIndex:
        """The index of these chats, its module (and sqlite3) imported on first use: a chat's start needs neither."""
        if self._chat_index is None:
            from .ChatIndex import ChatIndex  # noqa: PLC0415 - sqlite3: only when the index is used
            self._chat_index = ChatIndex(self.directory, read_summary)
        return self._chat_index

    def path_of(self, chat_id: str) -> Path:
        """The file of a chat."""
        return self.directory / f"{chat_id}{CHAT_SUFFIX}"

    # Listing
    def summaries(self) -> Tuple[List[ChatSummary], List[str]]:
        """The saved chats, newest first, and one line per file that could not be read: from the index,
        brought up to date with the files first, or from the files alone when it cannot be kept."""
        files = self._chat_files()
        if not files:
            return [], []
        try:
            chats, problems = self.index.summaries(files)
        except ConfigError:  # a read-only data directory, a full disk, a locked index: the files say it all
            chats, problems = read_summaries(files)
        chats.sort(key=lambda chat: (chat.updated, chat.chat_id), reverse=True)
        return chats, problems

    def _chat_files(self) -> Dict[str, ChatFile]:
        """Each chat file (by id) with its stamp, from one scan of the directory."""
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"{self.directory}: cannot list the saved chats: {exc.strerror}") from None
        files = {}
        for entry in entries:
            if entry.name.endswith(CHAT_SUFFIX) and not entry.name.startswith("."):
                try:
                    stamp: Optional[str] = stamp_of(entry.stat())
                except OSError:  # a dangling link, say: reading it says what is wrong
                    stamp = None
                files[entry.name[: -len(CHAT_SUFFIX)]] = ChatFile(entry.path, stamp)
        return files

    def find(self, reference: str, listed: Optional[List[str]] = None) -> str:
        """The id of the chat `reference` names: its id, or its number in the list (`listed`, else a fresh one)."""
        reference = reference.strip()
        if reference.isdigit():
            ids = listed if listed is not None else [chat.chat_id for chat in self.summaries()[0]]
            number = int(reference)
            if not 1 <= number <= len(ids):
                span = f"1 to {len(ids)}" if ids else "none yet"
                raise ConfigError(f"no saved chat number {number} (the list holds {span}; "
                                  "llmc --list-chats or /chats shows it)")
            return ids[number - 1]
        if reference and os.sep not in reference and not reference.startswith(".") \
                and self.path_of(reference).is_file():
            return reference
        raise ConfigError(f"no saved chat {reference!r} in {self.directory} "
                          "(llmc --list-chats or /chats lists them)")

    def latest(self, warn: Optional[Callable[[str], None]] = None) -> Optional[str]:
        """The id of the most recently saved chat, None if there is none; `warn` hears of files that
        are not chats (one of them may have been the newest)."""
        chats, problems = self.summaries()
        if warn is not None:
            for problem in problems:
                warn(f"Warning: {problem}")
        return chats[0].chat_id if chats else None

    # Reading and writing
    def load(self, chat_id: str) -> Tuple[ChatSummary, List[dict]]:
        """A saved chat's summary and messages; ConfigError naming the file if it is not one."""
        path = self.path_of(chat_id)
        stamp = file_stamp(path)
        text = read_text_file(path, "chat file", max_bytes=MAX_CHAT_FILE_BYTES)
        if text is None:
            raise ConfigError(f"{path}: no such chat file")
        header, messages = parse_chat_lines(text, path)
        summary = summary_from_header(chat_id, header, path)
        self._stamps[chat_id], self._created[chat_id] = stamp, summary.created
        if header.get(TITLE_GIVEN_KEY) is True:
            self._titles[chat_id] = summary.title
        return summary, messages

    def save(self, messages: List[dict], chat_id: Optional[str] = None, title: Optional[str] = None) -> str:
        """Write a chat (atomic, 0600) as `chat_id`, or as a new chat when it is None or another llmc
        changed that file since; the id it was written as. `title`: one given to the chat (--title), kept by
        later saves as /title's is. A WriteError (the disk failed) or ConfigError naming the file on failure."""
        title = given_title(title) if title is not None else self._titles.get(chat_id or "")
        if chat_id is not None and file_stamp(self.path_of(chat_id)) != self._stamps.get(chat_id):
            chat_id = None  # resumed elsewhere meanwhile: both versions are kept
        if chat_id is None:
            ensure_directory(self.directory, "chats directory")
            chat_id = self._new_id()
        if title:
            self._titles[chat_id] = title
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        created = self._created.setdefault(chat_id, now)
        header = {"title": self._titles.get(chat_id) or derive_title(messages), "created": created,
                  "updated": now, "model": last_model(messages), "messages": len(messages) - 1}
        if chat_id in self._titles:
            header[TITLE_GIVEN_KEY] = True
        path = self.path_of(chat_id)
        text = format_chat_lines(header, messages)
        check_chat_size(text, path)
        try:
            atomic_write_text(path, text, mode=0o600)
        except OSError as exc:
            raise file_write_error(f"{path}: cannot save the chat: {exc.strerror or exc}", exc) from None
        except ValueError as exc:  # text that cannot be encoded
            raise ConfigError(f"{path}: cannot save the chat: {exc}") from None
        self._stamps[chat_id] = file_stamp(path)
        self._update_index(chat_id, header, text)
        return chat_id

    def rename(self, chat_id: str, title: str) -> None:
        """Give a saved chat the title `title` (kept by later saves); ConfigError naming the file on failure."""
        title = given_title(title)
        summary, messages = self.load(chat_id)
        self._titles[chat_id] = title
        self._created[chat_id] = summary.created
        path = self.path_of(chat_id)
        header = {"title": self._titles[chat_id], "created": summary.created, "updated": summary.updated,
                  "model": summary.model, "messages": summary.message_count, TITLE_GIVEN_KEY: True}
        text = format_chat_lines(header, messages)
        try:
            atomic_write_text(path, text, mode=0o600)
        except OSError as exc:
            raise file_write_error(f"{path}: cannot rename the chat: {exc.strerror or exc}", exc) from None
        self._stamps[chat_id] = file_stamp(path)
        self._update_index(chat_id, header, text)

    def delete(self, chat_id: str) -> Path:
        """Remove a saved chat's file (and its index entry); the path it had."""
        path = self.path_of(chat_id)
        try:
            path.unlink()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot delete the chat: {exc.strerror}") from None
        self.index.forget(chat_id)
        return path

    def search(self, text: str) -> List[SearchHit]:
        """The saved chats that hold every word of `text`, best matches first (see ChatIndex)."""
        return self.index.search(text, self._chat_files())

    def _update_index(self, chat_id: str, header: dict, text: str) -> None:
        """Bring the index up to date with a chat just written as `text` (best effort, as ChatIndex.update)."""
        path = self.path_of(chat_id)
        try:
            stamp = stamp_of(path.stat())
        except OSError:
            return
        self.index.update(summary_from_header(chat_id, header, path), text, stamp)

    def _new_id(self) -> str:
        while True:
            chat_id = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
            if not self.path_of(chat_id).exists():
                return chat_id


def read_summaries(files: Dict[str, ChatFile]) -> Tuple[List[ChatSummary], List[str]]:
    """The summaries of `files` read from each one (in no order), and the problems of those that are not chats."""
    chats, problems = [], []
    for chat_file in files.values():
        try:
            chats.append(read_summary(Path(chat_file.path)))
        except ConfigError as exc:
            problems.append(str(exc))
    return chats, problems


def read_summary(path: Path) -> ChatSummary:
    """The summary on a chat file's first line (the rest is never read); ConfigError if it is not one."""
    first = read_first_line(path, "chat file", HEADER_MAX_BYTES)  # a FIFO or device is refused, never read
    if first is None:
        raise ConfigError(f"{path}: no such chat file")
    try:
        header = json.loads(first.decode("utf-8"))
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get(CHAT_FORMAT_KEY), int):
        raise ConfigError(f"{path}: not a chat file: the first line is not an llmc chat header")
    return summary_from_header(path.name[: -len(CHAT_SUFFIX)], header, path)


def summary_from_header(chat_id: str, header: dict, path: Path) -> ChatSummary:
    """The summary a header line holds; ConfigError naming the file and field of a wrong one."""
    fields = {"title": str, "created": str, "updated": str, "model": str, "messages": int}
    for name, kind in fields.items():
        if not isinstance(header.get(name), kind) or isinstance(header.get(name), bool):
            raise ConfigError(f"{path}: not a chat file: the header's {name!r} is missing or not "
                              f"{'text' if kind is str else 'a number'}")
    return ChatSummary(chat_id, header["title"], header["created"], header["updated"], header["model"],
                       header["messages"])


def given_title(text: str) -> str:
    """A title the user gave, on one line and at most TITLE_CHARS long; ConfigError if it has no words."""
    title = " ".join(text.split())
    if not title:
        raise ConfigError("a title needs some words")
    return title[:TITLE_CHARS]


def derive_title(messages: List[dict]) -> str:
    """The first user message's first words, on one line (no model is asked); never an attached file's."""
    first = next((m["content"] for m in messages if m["role"] == "user"), "")
    if isinstance(first, list):  # content parts: the first text one is the prompt
        first = next((part.get("text", "") for part in first if part.get("type") == "text"), "")
    title = " ".join(typed_prompt(str(first)).split())
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def last_model(messages: List[dict]) -> str:
    """The model of the last reply that names one, else ""."""
    return next((m["model"] for m in reversed(messages) if m.get("model")), "")


def model_to_resume(providers: ProviderManager, saved_model: str, current: str,
                    chat_id: str) -> Tuple[Optional[str], str]:
    """The model a reopened chat goes on with: its last reply's, if it can chat now (None: stay with
    `current`), and a note for the user when it cannot ("" when there is nothing to say)."""
    if not saved_model or saved_model == current:
        return None, ""
    why = providers.why_cannot_chat(saved_model)
    if why is None:
        return saved_model, ""
    return None, f"Note: chat {chat_id} was with {visible_text(saved_model)}, but {why}; going on with {current}."


def format_chat_list(chats: List[ChatSummary], current: Optional[str] = None,
                     width: Optional[int] = None) -> List[str]:
    """The list's lines: number, id, date (local time), model, messages, title; `current` starred; each
    cut to `width` columns when given (a terminal's)."""
    if not chats:
        return []
    number_width = len(str(len(chats)))
    model_width = min(32, max(len("model"), *(len(chat.model) for chat in chats)))
    lines = [f"{'#':>{number_width}}  {'id':<20}  {'updated':<16}  {'model':<{model_width}}  msgs  title"]
    for number, chat in enumerate(chats, 1):
        mark = "*" if chat.chat_id == current else " "
        model = chat.model if len(chat.model) <= model_width else chat.model[: model_width - 1] + "…"
        title = visible_text(chat.title) or UNTITLED
        lines.append(f"{number:>{number_width}}{mark} {visible_text(chat.chat_id):<20}  "
                     f"{local_time(chat.updated):<16}  {visible_text(model):<{model_width}}  "
                     f"{chat.message_count:>4}  {title}")
    return [cut_to_width(line, width) for line in lines]


def cut_to_width(line: str, width: Optional[int]) -> str:
    """`line` cut to `width` columns with an ellipsis (as it is when `width` is None)."""
    if width is None or len(line) <= width:
        return line
    return line[: max(width - 1, 0)] + "…"


def format_search_hits(hits: List[SearchHit], color: bool, width: Optional[int] = None) -> List[str]:
    """Two lines a hit: number, date, model and title, then the snippet indented, its matches marked
    (reverse video on a colour terminal, [brackets] elsewhere)."""
    lines = []
    start, end = ("\x1b[7m", "\x1b[27m") if color else ("[", "]")
    for hit in hits:
        head = f"{hit.number:>4}. {local_time(hit.updated)}  {visible_text(hit.model) or '-'}  " \
               f"{visible_text(hit.title) or UNTITLED}"
        lines.append(cut_to_width(head, width))
        lines.append("      " + _marked(hit.snippet, start, end, width))
    return lines


def _marked(snippet: str, start: str, end: str, width: Optional[int]) -> str:
    """A snippet on one line, its marks shown as `start`/`end`, cut to `width` (less the indent)."""
    shown_start, shown_end = visible_text(MARK_START), visible_text(MARK_END)
    text = " ".join(visible_text(snippet).split())
    limit = None if width is None else max(width - 7, 10)
    if limit is not None and len(text.replace(shown_start, "").replace(shown_end, "")) > limit:
        out, seen = [], 0
        for ch in text:
            if ch not in (shown_start, shown_end):
                if seen == limit:
                    break
                seen += 1
            out.append(ch)
        text = "".join(out).removesuffix(shown_start)
        if text.count(shown_start) > text.count(shown_end):
            text += shown_end
        text += "…"
    return text.replace(shown_start, start).replace(shown_end, end)


def local_time(stamp: str) -> str:
    """An ISO 8601 time as `YYYY-MM-DD HH:MM` in local time; UNKNOWN_TIME if it is not one (or is one
    out of datetime's range once moved to local time, as 9999-12-31T23:59:59-14:00 is)."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError):
        return UNKNOWN_TIME
