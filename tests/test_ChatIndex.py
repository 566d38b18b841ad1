"""ChatIndex: the list's summaries and the full-text index follow the chat files (new, changed by this or
another llmc or by hand, renamed, deleted, unreadable; the index missing, broken or unwritable) on real files."""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from llmc.store.ChatIndex import INDEX_FILE_NAME, MARK_END, MARK_START, fts_query
from llmc.store.ChatStore import ChatStore, read_summary


def write_chat(directory: Path, chat_id: str, title: str, updated: str, *texts: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [{"llmc_chat": 1, "title": title, "created": updated, "updated": updated, "model": "fake/m",
              "messages": len(texts)}]
    lines += [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
    path = directory / f"{chat_id}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def store(tmp_path: Path) -> ChatStore:
    return ChatStore(tmp_path)


def listed(store: ChatStore) -> list:
    return [(chat.chat_id, chat.title) for chat in store.summaries()[0]]


def indexed_ids(tmp_path: Path) -> list:
    with sqlite3.connect(tmp_path / INDEX_FILE_NAME) as connection:
        return sorted(row[0] for row in connection.execute("SELECT chat_id FROM files"))


def test_a_search_finds_every_word_marks_them_and_numbers_hits_as_the_list(store: ChatStore, tmp_path: Path) -> None:
    chats = store.directory
    write_chat(chats, "a", "rebase", "2026-01-01T00:00:00", "how do I rebase in git", "git rebase -i")
    write_chat(chats, "b", "decorators", "2026-01-02T00:00:00", "python decorators", "no match here")
    write_chat(chats, "c", "bisect", "2026-01-03T00:00:00", "git bisect a regression in python", "ok")
    (chats / "d.jsonl").write_text("git python, but not a chat\n")  # neither listed nor found nor counted
    assert [hit.chat_id for hit in store.search("git")] == ["c", "a"]  # equal matches: the newest first
    [hit] = store.search("python GIT")
    assert (hit.number, hit.chat_id, hit.title, hit.model) == (1, "c", "bisect", "fake/m")
    assert f"{MARK_START}git{MARK_END}" in hit.snippet and f"{MARK_START}python{MARK_END}" in hit.snippet
    assert [hit.number for hit in store.search("decorators")] == [2]
    assert [hit.number for hit in store.search("rebase")] == [3]
    assert store.search('"unbalanced AND (') == [] and store.search("   ") == []
    assert (tmp_path / INDEX_FILE_NAME).stat().st_mode & 0o777 == 0o600


def test_the_list_comes_from_the_index_and_only_changed_files_are_read_again(store: ChatStore,
                                                                             tmp_path: Path) -> None:
    for number in range(3):
        write_chat(store.directory, f"c{number}", f"chat {number}", f"2026-01-0{number + 1}", "hello")
    assert listed(store) == [("c2", "chat 2"), ("c1", "chat 1"), ("c0", "chat 0")]
    assert indexed_ids(tmp_path) == ["c0", "c1", "c2"]
    read = []
    store.index.read_summary = lambda path: read.append(path.name) or read_summary(path)
    assert listed(store) == [("c2", "chat 2"), ("c1", "chat 1"), ("c0", "chat 0")] and read == []
    write_chat(store.directory, "c0", "changed by hand", "2026-01-09", "hello")
    assert listed(store) == [("c0", "changed by hand"), ("c2", "chat 2"), ("c1", "chat 1")] and read == ["c0.jsonl"]


def test_the_list_follows_new_renamed_deleted_and_broken_files(store: ChatStore, tmp_path: Path) -> None:
    path = write_chat(store.directory, "a", "first", "2026-01-01", "alpha")
    assert listed(store) == [("a", "first")]
    write_chat(store.directory, "b", "second", "2026-01-02", "beta")
    assert listed(store) == [("b", "second"), ("a", "first")]
    path.rename(store.path_of("z"))  # renamed by hand: same inode, size and times under another name
    assert listed(store) == [("b", "second"), ("z", "first")] and indexed_ids(tmp_path) == ["b", "z"]
    store.path_of("b").write_text("{not json\n")
    chats, problems = store.summaries()
    assert [chat.chat_id for chat in chats] == ["z"] and indexed_ids(tmp_path) == ["z"]
    assert problems == [f"{store.path_of('b')}: not a chat file: the first line is not an llmc chat header"]
    assert store.summaries()[1] == problems  # a file that is not a chat is read again each time: still said
    store.path_of("z").unlink()
    assert store.summaries() == ([], problems) and indexed_ids(tmp_path) == []


def test_a_chat_made_unreadable_is_reported_as_before(store: ChatStore) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    write_chat(store.directory, "a", "t", "2026-01-01", "alpha")
    assert listed(store) == [("a", "t")]
    store.path_of("a").chmod(0)  # changes the file's ctime, part of its stamp
    assert store.summaries() == ([], [f"{store.path_of('a')}: permission denied reading the chat file"])


def test_saves_renames_and_deletes_keep_the_index_up_to_date(store: ChatStore, tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "epsilon question"}]
    chat_id = store.save(messages)
    assert indexed_ids(tmp_path) == [chat_id]  # written with the chat, not at the next listing
    store.rename(chat_id, "named")
    other = ChatStore(tmp_path)  # another llmc lists it
    other.index.read_summary = lambda path: pytest.fail(f"{path} read again though the index has it")
    assert listed(other) == [(chat_id, "named")] and [hit.title for hit in other.search("epsilon")] == ["named"]
    store.delete(chat_id)
    assert indexed_ids(tmp_path) == [] and listed(other) == []


def test_the_text_follows_changed_new_and_deleted_files(store: ChatStore) -> None:
    path = write_chat(store.directory, "a", "t", "2026-01-01", "alpha words")
    assert [h.chat_id for h in store.search("alpha")] == ["a"]
    write_chat(store.directory, "a", "t", "2026-01-01", "beta words, changed by hand")
    os.utime(path, ns=(1, 1))
    assert store.search("alpha") == [] and [h.chat_id for h in store.search("beta")] == ["a"]
    write_chat(store.directory, "b", "t", "2026-01-02", "beta again")
    assert [h.chat_id for h in store.search("beta")] == ["b", "a"]
    path.unlink()
    assert [h.chat_id for h in store.search("beta")] == ["b"]


def test_a_chat_listed_then_changed_is_found_by_its_new_text(store: ChatStore) -> None:
    path = write_chat(store.directory, "a", "t", "2026-01-01", "alpha")
    assert [h.chat_id for h in store.search("alpha")] == ["a"]
    write_chat(store.directory, "a", "t2", "2026-01-02", "omega")
    assert listed(store) == [("a", "t2")]  # the summary is read again; the text waits for a search
    assert store.search("alpha") == [] and [h.title for h in store.search("omega")] == ["t2"]
    assert path.exists()


def test_a_missing_broken_or_older_index_is_built_again_from_the_chats(store: ChatStore, tmp_path: Path) -> None:
    write_chat(store.directory, "a", "t", "2026-01-01", "gamma")
    assert len(store.search("gamma")) == 1
    (tmp_path / INDEX_FILE_NAME).write_bytes(b"not a database at all" * 100)
    assert listed(store) == [("a", "t")] and len(store.search("gamma")) == 1
    (tmp_path / INDEX_FILE_NAME).unlink()
    assert listed(store) == [("a", "t")] and len(store.search("gamma")) == 1
    with sqlite3.connect(tmp_path / INDEX_FILE_NAME) as connection:
        connection.execute("PRAGMA user_version = 2")  # an index an earlier llmc made
    assert listed(store) == [("a", "t")] and len(store.search("gamma")) == 1
    assert (store.directory / "a.jsonl").read_text().count("gamma") == 1  # the chat file is never touched


def test_without_an_index_that_can_be_kept_the_list_is_read_from_the_files(store: ChatStore, tmp_path: Path) -> None:
    write_chat(store.directory, "a", "t", "2026-01-01", "delta")
    (tmp_path / INDEX_FILE_NAME).mkdir()  # stands where the index would be: it can be neither opened nor made
    store.path_of("b").write_text("{}\n")
    chats, problems = store.summaries()
    assert [chat.chat_id for chat in chats] == ["a"] and len(problems) == 1
    assert store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "kept"}])  # saves still work


def test_no_chats_directory_means_no_hits_and_no_index(store: ChatStore, tmp_path: Path) -> None:
    assert store.search("anything") == [] and store.summaries() == ([], [])
    assert not (tmp_path / INDEX_FILE_NAME).exists()


def test_the_query_quotes_each_word() -> None:
    assert fts_query('say "hi" OR NEAR(x') == '"say" """hi""" "OR" "NEAR(x"'


def test_a_chat_whose_file_name_is_not_utf8_is_listed_and_found_from_its_file(store: ChatStore) -> None:
    write_chat(store.directory, "a", "t", "2026-01-01", "zeta")
    odd = os.fsencode(store.directory) + b"/odd-\xff.jsonl"
    os.rename(os.fsencode(store.path_of("a")), odd)  # no SQLite text can hold its id: it stays out of the index
    for _ in range(2):
        chats, problems = store.summaries()
        assert [chat.title for chat in chats] == ["t"] and problems == []


def test_the_text_of_replaced_replies_and_prompts_is_found_too(store: ChatStore) -> None:
    earlier = [{"role": "user", "content": "tell me about walruses"},
               {"role": "assistant", "content": "tusks", "alternatives": [[{"role": "assistant", "content": "flippers"}]]}]
    chat_id = store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "tell me about seals",
                                                                "alternatives": [earlier]},
                          {"role": "assistant", "content": "whiskers"}])
    for word in ("seals", "whiskers", "walruses", "tusks", "flippers"):
        assert [hit.chat_id for hit in store.search(word)] == [chat_id], word


def test_an_index_found_damaged_while_used_is_built_again(store: ChatStore, tmp_path: Path) -> None:
    for number in range(300):  # enough rows that the tables take pages beyond the first
        write_chat(store.directory, f"c{number:03d}", f"chat {number}", "2026-01-01", "kappa " * 50)
    assert len(store.summaries()[0]) == 300 and len(store.search("kappa")) == 20
    index = tmp_path / INDEX_FILE_NAME
    data = bytearray(index.read_bytes())
    data[4096 * 2:] = b"\xff" * (len(data) - 4096 * 2)  # the header page is whole: it opens, then reads garbage
    index.write_bytes(bytes(data))
    assert len(store.search("kappa")) == 20 and len(store.summaries()[0]) == 300
    with sqlite3.connect(index) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_save_does_not_wait_on_another_llmcs_write_to_the_index(store: ChatStore, tmp_path: Path) -> None:
    import time
    from llmc.store.ChatIndex import BEST_EFFORT_WAIT
    first = store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "first"}])
    holder = sqlite3.connect(tmp_path / INDEX_FILE_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another llmc building the index holds its write lock
    try:
        started = time.monotonic()
        second = store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "second"}])
        assert time.monotonic() - started < BEST_EFFORT_WAIT + 1.0  # not the 5 s a listing would wait
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sorted(listed(store)) == sorted([(first, "first"), (second, "second")])  # the listing caught up
