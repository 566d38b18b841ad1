"""The command line's saved-chat actions: --list-chats, --search, --show, --delete and --title.

Each needs no settings: pydantic and the providers are never loaded for them."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .. import DEFAULT_DATA_DIRECTORY  # not Config's: that would import pydantic for a listing
from ..base.ExitStatus import ExitStatus
from ..render.ChatPrinter import print_turns
from ..store.ChatSession import readable_text
from ..store.ChatStore import ChatStore, format_chat_list, format_search_hits


def chat_store(data_directory: Optional[str]) -> ChatStore:
    """The saved chats of the data directory -d names, else the default one."""
    return ChatStore(Path(data_directory or DEFAULT_DATA_DIRECTORY).expanduser())


def terminal_width(terminal: Any) -> Optional[int]:
    """The terminal's columns to cut rows to; None when stdout is piped (rows stay whole)."""
    return terminal.size().columns if terminal.is_interactive else None


def list_chats(store: ChatStore, terminal: Any) -> int:
    """`--list-chats`: the saved chats, newest first; files that are not chats are named on stderr."""
    chats, problems = store.summaries()
    for problem in problems:
        terminal.message(f"Warning: {problem}")
    if not chats:
        terminal.message(f"No saved chats in {store.directory}.")
    for line in format_chat_list(chats, width=terminal_width(terminal)):
        terminal.print(line)
    return ExitStatus.OK


def search_chats(store: ChatStore, text: str, terminal: Any) -> int:
    """`--search TEXT`: the chats holding every word, best and newest first; exit 1 when none does."""
    hits = store.search(text)
    if not hits:
        terminal.message(f"No saved chat holds {text!r}.")
        return ExitStatus.FAILED
    for line in format_search_hits(hits, terminal.color, terminal_width(terminal)):
        terminal.print(line)
    terminal.message("llmc --chat N opens chat N; llmc --show N prints it.")
    return ExitStatus.OK


def show_chat(store: ChatStore, reference: str, terminal: Any) -> int:
    """`--show ID|N`: print a saved chat without resuming it (Markdown on a terminal, plain when piped)."""
    chat_id = store.find(reference)
    summary, messages = store.load(chat_id)
    terminal.print(f"{summary.title} ({chat_id}, {summary.model or 'no model'})")
    terminal.print()
    print_turns(terminal, [(m["role"], readable_text(m)) for m in messages if m["role"] != "system"])
    return ExitStatus.OK


def delete_chat(store: ChatStore, reference: str, terminal: Any) -> int:
    """`--delete ID|N`: remove a saved chat after asking in a terminal (--yes: without asking)."""
    chat_id = store.find(reference)
    summary, _ = store.load(chat_id)
    if not terminal.confirm(f"Delete the saved chat {chat_id} ({summary.title})?"):
        terminal.message("Not deleted (without a terminal to ask in, --yes deletes without asking).")
        return ExitStatus.FAILED
    terminal.print(f"Deleted {store.delete(chat_id)}.")
    return ExitStatus.OK


def title_chat(store: ChatStore, reference: str, title: str, terminal: Any) -> int:
    """`--title TEXT --chat ID|N` (or -C): give a saved chat a title."""
    chat_id = store.find(reference)
    store.rename(chat_id, title)
    terminal.print(f"Chat {chat_id} is now titled {' '.join(title.split())!r}.")
    return ExitStatus.OK
