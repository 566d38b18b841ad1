"""ChatIndex: the full-text index follows the chat files (new, changed, deleted, broken index) on real files."""
from __future__ import annotations

import json
import os
from pathlib import Path

from llmc.store.ChatIndex import INDEX_FILE_NAME, MARK_END, MARK_START, ChatIndex, fts_query


def write_chat(directory: Path, chat_id: str, title: str, updated: str, *texts: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [{"llmc_chat": 1, "title": title, "created": updated, "updated": updated, "model": "fake/m",
              "messages": len(texts)}]
    lines += [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
    path = directory / f"{chat_id}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_search_finds_every_word_marks_them_and_numbers_hits_as_the_list(tmp_path: Path) -> None:
    chats = tmp_path / "chats"
    write_chat(chats, "a", "rebase", "2026-01-01T00:00:00", "how do I rebase in git", "git rebase -i")
    write_chat(chats, "b", "decorators", "2026-01-02T00:00:00", "python decorators", "no match here")
    write_chat(chats, "c", "bisect", "2026-01-03T00:00:00", "git bisect a regression in python", "ok")
    index = ChatIndex(chats, ".jsonl")
    assert [hit.chat_id for hit in index.search("git")] == ["c", "a"]  # equal matches: the newest first
    [hit] = index.search("python GIT")
    assert (hit.number, hit.chat_id, hit.title, hit.model) == (1, "c", "bisect", "fake/m")
    assert f"{MARK_START}git{MARK_END}" in hit.snippet and f"{MARK_START}python{MARK_END}" in hit.snippet
    assert [hit.number for hit in index.search("decorators")] == [2]
    assert index.search('"unbalanced AND (') == [] and index.search("   ") == []
    assert (tmp_path / INDEX_FILE_NAME).stat().st_mode & 0o777 == 0o600


def test_the_index_follows_changed_new_and_deleted_files(tmp_path: Path) -> None:
    chats = tmp_path / "chats"
    path = write_chat(chats, "a", "t", "2026-01-01", "alpha words")
    index = ChatIndex(chats, ".jsonl")
    assert [h.chat_id for h in index.search("alpha")] == ["a"]
    write_chat(chats, "a", "t", "2026-01-01", "beta words, changed by hand")
    os.utime(path, ns=(1, 1))
    assert index.search("alpha") == [] and [h.chat_id for h in index.search("beta")] == ["a"]
    write_chat(chats, "b", "t", "2026-01-02", "beta again")
    assert [h.chat_id for h in index.search("beta")] == ["b", "a"]
    path.unlink()
    assert [h.chat_id for h in index.search("beta")] == ["b"]


def test_a_missing_or_broken_index_is_built_again_from_the_chats(tmp_path: Path) -> None:
    chats = tmp_path / "chats"
    write_chat(chats, "a", "t", "2026-01-01", "gamma")
    index = ChatIndex(chats, ".jsonl")
    assert len(index.search("gamma")) == 1
    (tmp_path / INDEX_FILE_NAME).write_bytes(b"not a database at all" * 100)
    assert len(index.search("gamma")) == 1
    (tmp_path / INDEX_FILE_NAME).unlink()
    assert len(index.search("gamma")) == 1
    assert (chats / "a.jsonl").read_text().count("gamma") == 1  # the chat file is never touched


def test_no_chats_directory_means_no_hits_and_no_index(tmp_path: Path) -> None:
    assert ChatIndex(tmp_path / "chats", ".jsonl").search("anything") == []
    assert not (tmp_path / INDEX_FILE_NAME).exists()


def test_the_query_quotes_each_word() -> None:
    assert fts_query('say "hi" OR NEAR(x') == '"say" """hi""" "OR" "NEAR(x"'
