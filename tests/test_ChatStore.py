"""ChatStore: chats saved as JSON Lines in <data dir>/chats, listed from their first lines, resumed by id or number."""
from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from llmc.store.ChatSession import ChatSession
from llmc.store.ChatStore import (TITLE_CHARS, ChatStore, derive_title, format_chat_list, local_time,
                            model_to_resume, read_summary)
from llmc.base.Errors import ConfigError
from llmc.base.SafeFiles import file_stamp


@pytest.fixture
def store(tmp_path: Path) -> ChatStore:
    return ChatStore(tmp_path / "data")


def chat(question: str = "What is 2+2?", answer: str = "4", model: str = "fake/fake-chat-1") -> list:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": question},
            {"role": "assistant", "content": answer, "model": model}]


def test_a_chat_is_saved_as_lines_with_its_summary_first_private(store: ChatStore, tmp_path: Path) -> None:
    chat_id = store.save(chat())
    path = tmp_path / "data" / "chats" / f"{chat_id}.jsonl"
    assert store.path_of(chat_id) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    header, *messages = [json.loads(line) for line in path.read_text().splitlines()]
    assert header["llmc_chat"] == 1 and header["title"] == "What is 2+2?"
    assert header["model"] == "fake/fake-chat-1" and header["messages"] == 2
    assert header["created"] == header["updated"]
    assert messages == chat()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_saving_again_rewrites_the_same_chat_and_keeps_its_creation_time(store: ChatStore) -> None:
    chat_id = store.save(chat())
    first = read_summary(store.path_of(chat_id))
    longer = chat() + [{"role": "user", "content": "and 3+3?"},
                       {"role": "assistant", "content": "6", "model": "fake/fake-chat-2"}]
    assert store.save(longer, chat_id) == chat_id
    again = read_summary(store.path_of(chat_id))
    assert again.created == first.created and again.updated > first.updated
    assert again.model == "fake/fake-chat-2" and again.message_count == 4
    assert len(list(store.directory.iterdir())) == 1


def test_a_chat_another_llmc_changed_meanwhile_is_kept_and_this_one_forks(store: ChatStore, tmp_path: Path) -> None:
    chat_id = store.save(chat())
    other = ChatStore(tmp_path / "data")  # another llmc resumed the same chat and saved a turn
    _, messages = other.load(chat_id)
    other.save(messages + [{"role": "user", "content": "theirs"}], chat_id)
    theirs = store.path_of(chat_id).read_text()
    forked = store.save(chat() + [{"role": "user", "content": "mine"}], chat_id)
    assert forked != chat_id
    assert store.path_of(chat_id).read_text() == theirs
    assert "mine" in store.path_of(forked).read_text()


def test_the_list_is_newest_first_and_reads_only_first_lines(store: ChatStore) -> None:
    old = store.save(chat("old question"))
    new = store.save(chat("new question"))
    with open(store.path_of(new), "a", encoding="utf-8") as handle:
        handle.write("not json: the list never reads past the first line\n")
    chats, problems = store.summaries()
    assert [c.chat_id for c in chats] == [new, old] and problems == []
    assert [c.title for c in chats] == ["new question", "old question"]
    assert store.latest() == new
    store.save(chat("old question, followed up"), old)
    assert store.latest() == old


def test_files_that_are_not_chats_are_reported_and_others_ignored(store: ChatStore) -> None:
    good = store.save(chat())
    (store.directory / "broken.jsonl").write_text("{not json\n")
    (store.directory / "wrong.jsonl").write_text('{"llmc_chat": 1, "title": 3}\n')
    (store.directory / "notes.txt").write_text("ignored")
    (store.directory / ".tmp.jsonl").write_text("ignored: a hidden file")
    chats, problems = store.summaries()
    assert [c.chat_id for c in chats] == [good]
    assert sorted(problems) == [
        f"{store.directory / 'broken.jsonl'}: not a chat file: the first line is not an llmc chat header",
        f"{store.directory / 'wrong.jsonl'}: not a chat file: the header's 'title' is missing or not text"]


def test_no_chats_directory_is_an_empty_list(store: ChatStore) -> None:
    assert store.summaries() == ([], []) and store.latest() is None
    assert not store.directory.exists()


def test_find_by_id_or_number(store: ChatStore) -> None:
    first = store.save(chat("one"))
    second = store.save(chat("two"))
    assert store.find(first) == first and store.find(f" {second} ") == second
    assert store.find("1") == second and store.find("2") == first
    assert store.find("1", listed=[first, second]) == first  # the list the user saw
    with pytest.raises(ConfigError, match=r"^no saved chat number 3 \(the list holds 1 to 2; "):
        store.find("3")
    with pytest.raises(ConfigError, match=r"^no saved chat number 0 "):
        store.find("0")
    for bad in ("nope", "../chats/" + first, ".hidden", ""):
        with pytest.raises(ConfigError, match=r"^no saved chat '.*' in .*chats \(llmc --list-chats"):
            store.find(bad)


def test_find_a_number_with_no_chats(store: ChatStore) -> None:
    with pytest.raises(ConfigError, match=r"the list holds none yet"):
        store.find("1")


def test_load_round_trip_keeps_other_keys(store: ChatStore) -> None:
    messages = chat()
    messages[2]["usage"] = {"prompt_tokens": 12, "completion_tokens": 3}
    chat_id = store.save(messages)
    summary, loaded = ChatStore(store.directory.parent).load(chat_id)
    assert loaded == messages and summary.title == "What is 2+2?"


@pytest.mark.parametrize("text, expected", [
    ("", "the first line is not an llmc chat header"),
    ('{"llmc_chat": 1, "title": "t", "created": "c", "updated": "u", "model": "m", "messages": 1}\n[1]\n',
     "message 1 is not a"),
    ('{"llmc_chat": 1, "title": "t", "created": "c", "updated": "u", "model": "m", "messages": 1}\n{x\n',
     "line 2 is not JSON"),
    ('{"llmc_chat": 1, "title": "t", "created": "c", "updated": "u", "model": "m", "messages": true}\n'
     '{"role": "system", "content": "s"}\n', "the header's 'messages' is missing or not a number"),
])
def test_a_broken_chat_file_is_refused_naming_it(store: ChatStore, text: str, expected: str) -> None:
    store.directory.mkdir(parents=True)
    store.path_of("x").write_text(text)
    with pytest.raises(ConfigError) as info:
        store.load("x")
    assert str(info.value).startswith(f"{store.path_of('x')}: not a chat file: ") and expected in str(info.value)


def test_a_save_that_fails_names_the_file(store: ChatStore) -> None:
    store.directory.parent.mkdir(parents=True)
    store.directory.write_text("a file where the chats directory goes")
    with pytest.raises(ConfigError, match=f"^chats directory {store.directory} is not a directory"):
        store.save(chat())
    store.directory.unlink()
    chat_id = store.save(chat())
    store.path_of(chat_id).unlink()
    store.path_of(chat_id).mkdir()  # the rename onto it fails
    store._stamps[chat_id] = file_stamp(store.path_of(chat_id))  # as if this llmc had put it there
    with pytest.raises(ConfigError, match=f"^{store.path_of(chat_id)}: cannot save the chat: "):
        store.save(chat(), chat_id)


def test_an_autosaved_chat_loads_by_path_as_well(store: ChatStore, tmp_path: Path) -> None:
    chat_id = store.save(chat())
    session = ChatSession("x", tmp_path / "data")
    session.load(str(store.path_of(chat_id)))
    assert session.messages == chat() and session.chat_id is None  # loaded by name: a new chat from here


def test_titles_come_from_the_first_prompt_on_one_line() -> None:
    assert derive_title(chat("  explain\n\tgit   rebase  ")) == "explain git rebase"
    long = derive_title(chat("word " * 100))
    assert len(long) == TITLE_CHARS and long.endswith("…")
    parts = [{"type": "text", "text": "describe"}, {"type": "image_url", "image_url": {"url": "data:"}}]
    assert derive_title([{"role": "system", "content": ""}, {"role": "user", "content": parts}]) == "describe"
    assert derive_title([{"role": "system", "content": "s"}]) == ""


def test_the_list_lines(store: ChatStore) -> None:
    first = store.save(chat("plain"))
    second = store.save(chat("with \x1b[31m escape", model="local/" + "m" * 50))
    chats, _ = store.summaries()
    lines = format_chat_list(chats, current=first)
    assert lines[0].split() == ["#", "id", "updated", "model", "msgs", "title"]
    assert lines[1].startswith(f"1  {second}  ") and lines[2].startswith(f"2* {first}  ")
    assert "\x1b" not in lines[1] and "with \u241b[31m escape" in lines[1]
    assert "local/mmm" in lines[1] and "…" in lines[1]  # a long model is cut to its column
    assert lines[2].endswith("   2  plain")
    assert local_time(chats[0].updated) in lines[1]
    assert format_chat_list([]) == []


def test_local_time_of_an_unreadable_stamp_is_unknown() -> None:
    assert local_time("yesterday") == "unknown"
    for stamp in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):  # past datetime's range here
        assert local_time(stamp) == "unknown"
    assert local_time("2026-01-02T03:04:05+00:00").startswith("2026-01-0")


def every_code_point_class() -> str:
    """A few code points of each Unicode general category (unassigned and private use too), every code
    point str.splitlines breaks on, and lone surrogates."""
    import unicodedata
    picked: dict = {}
    for code in range(0x110000):
        kind = unicodedata.category(chr(code))
        if len(picked.setdefault(kind, [])) < 3:
            picked[kind].append(chr(code))
    breaks = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    return "".join(c for chars in picked.values() for c in chars) + breaks + "\ud800 \udfff \udcff"


def test_every_code_point_class_is_written_and_read_back(store: ChatStore, tmp_path: Path) -> None:
    from llmc.store.ChatSession import read_session_file
    text = every_code_point_class()
    read_back = re.sub("[\ud800-\udfff]", "\ufffd", text)  # lone halves read back as U+FFFD, as documented
    chat_id = store.save(chat(f"q {text}", f"a {text}"))
    raw = store.path_of(chat_id).read_bytes()
    assert raw.count(b"\n") == 4 and b"\r" not in raw  # one line a message, whatever they hold
    for breaking in ("\x85", "\u2028", "\u2029"):
        assert breaking.encode() not in raw
    expected = [f"q {read_back}", f"a {read_back}"]
    assert [m["content"] for m in store.load(chat_id)[1][1:]] == expected
    assert [m["content"] for m in read_session_file(store.path_of(chat_id))[1:]] == expected
    assert store.summaries() == ([read_summary(store.path_of(chat_id))], [])
    session = ChatSession("s", tmp_path)
    session.messages = chat(f"q {text}", f"a {text}")
    session.save("kept")  # /save's JSON too
    loaded = ChatSession("s", tmp_path)
    loaded.load("kept")
    assert [m["content"] for m in loaded.messages[1:]] == expected


def test_a_chat_written_with_raw_line_separators_still_reads(store: ChatStore) -> None:
    chat_id = store.save(chat("plain", "plain"))
    path = store.path_of(chat_id)
    path.write_text(path.read_text().replace("plain", "a\u2028b\x85c\u2029d"))  # as earlier llmc wrote them
    assert [m["content"] for m in store.load(chat_id)[1][1:]] == ["a\u2028b\x85c\u2029d"] * 2


def test_a_fifo_or_other_special_file_among_the_chats_is_reported_never_read(store: ChatStore) -> None:
    import os
    good = store.save(chat())
    os.mkfifo(store.path_of("fifo"))  # opening it to read would block until a writer came
    os.symlink("/dev/zero", store.path_of("zero"))
    chats, problems = store.summaries()
    assert [c.chat_id for c in chats] == [good]
    assert sorted(problems) == [f"{store.path_of('fifo')}: not a regular file (a FIFO), expected a chat file",
                                f"{store.path_of('zero')}: not a regular file (a character device), expected a "
                                "chat file"]
    with pytest.raises(ConfigError, match="not a regular file"):
        read_summary(store.path_of("fifo"))


def test_a_reopened_chat_goes_on_with_its_last_model_if_that_can_chat_now():
    class Providers:
        def why_cannot_chat(self, model):
            return None if model == "p/live" else "its provider has no API key now"

    assert model_to_resume(Providers(), "p/live", "p/default", "c1") == ("p/live", "")
    assert model_to_resume(Providers(), "p/default", "p/default", "c1") == (None, "")
    assert model_to_resume(Providers(), "", "p/default", "c1") == (None, "")
    assert model_to_resume(Providers(), "p/gone\x1b[2J", "p/default", "c1") == (
        None, "Note: chat c1 was with p/gone␛[2J, but its provider has no API key now; going on with p/default.")


def accepted_chat(rng, image_sizes) -> list:
    """A chat built only of what llmc accepts: prompts, text files and images up to their limits, replies."""
    from llmc.store.Attachment import MAX_TEXT_BYTES, Attachment, message_content
    alphabet = "ab \n\u2028\x85\ud800é中😀\t{}\"\\"
    messages = [{"role": "system", "content": "s"}]
    for size in image_sizes:
        png = b"\x89PNG\r\n\x1a\n" + rng.randbytes(size - 8)
        files = [Attachment.of_bytes(png, Path("big.png")),
                 Attachment("notes.txt", text="".join(rng.choices(alphabet, k=rng.randrange(MAX_TEXT_BYTES // 4))))]
        prompt = "".join(rng.choices(alphabet, k=rng.randrange(1, 2000)))
        messages.append({"role": "user", "content": message_content(prompt, files)})
        messages.append({"role": "assistant", "content": "".join(rng.choices(alphabet, k=rng.randrange(2000))),
                         "model": "fake/m"})
    return messages


@pytest.mark.stress
def test_what_llmc_accepts_and_writes_it_reads_back(store: ChatStore, tmp_path: Path) -> None:
    """Writer and reader held to each other: a chat of images up to the attachment limit (a 16 MiB PNG made
    a 22 MB chat file, over the read limit) is read back as written, by -C and by /save's file alike."""
    import random
    from llmc.base.SurrogateJoiner import without_lone_surrogates
    from llmc.store.Attachment import MAX_IMAGE_BYTES
    rng = random.Random(17)
    for sizes in ([16 * 1024 * 1024], [MAX_IMAGE_BYTES], [rng.randrange(8, 2 << 20) for _ in range(5)],
                  [MAX_IMAGE_BYTES] * 3):
        messages = accepted_chat(rng, sizes)
        expected = json.loads(json.dumps(messages).replace("\\ud800", "\\ufffd"))
        chat_id = store.save(messages)
        assert store.load(chat_id)[1] == expected
        session = ChatSession("s", tmp_path)
        session.messages = messages
        session.save("kept")
        session.load("kept")
        assert session.messages == expected
        assert without_lone_surrogates(expected[1]["content"][0]["text"]) == expected[1]["content"][0]["text"]


def test_a_chat_larger_than_its_reader_reads_is_refused_and_the_file_kept(store: ChatStore, tmp_path: Path,
                                                                         monkeypatch) -> None:
    from llmc.base.Errors import WriteError
    from llmc.store import ChatSession as session_module
    chat_id = store.save(chat("small"))
    before = store.path_of(chat_id).read_bytes()
    monkeypatch.setattr(session_module, "MAX_CHAT_FILE_BYTES", 4096)  # as if 256 MiB of chat had been reached
    with pytest.raises(WriteError, match=f"^{store.path_of(chat_id)}: cannot save the chat: it would take "
                                         r"\d+(\.\d+)? KB, more than the 4 KB llmc reads back"):
        store.save(chat("x" * 5000), chat_id)
    assert store.path_of(chat_id).read_bytes() == before
    with pytest.raises(WriteError, match="more than the 4 KB llmc reads back"):
        session = ChatSession("s", tmp_path)
        session.messages = chat("é" * 3000)
        session.save("big")
    assert not (tmp_path / "big.json").exists()


def test_a_title_given_is_kept_by_later_saves_and_found_by_search(store: ChatStore) -> None:
    chat_id = store.save(chat())
    store.rename(chat_id, "  Sums   for kids ")
    assert store.summaries()[0][0].title == "Sums for kids"
    again = ChatStore(store.directory.parent)  # another run resumes it
    _, messages = again.load(chat_id)
    again.save(messages + [{"role": "user", "content": "and 3+3?"}], chat_id)
    assert again.summaries()[0][0].title == "Sums for kids"
    assert [hit.chat_id for hit in again.search("kids")] == [chat_id]
    with pytest.raises(ConfigError, match="a title needs some words"):
        again.rename(chat_id, "   ")


def test_the_title_is_the_prompt_never_an_attached_file(store: ChatStore) -> None:
    from llmc.store.Attachment import Attachment, message_content
    attached = Attachment("notes.md", "secret file text", None)
    messages = [{"role": "system", "content": "s"},
                {"role": "user", "content": message_content("summarize", [attached])}]
    assert derive_title(messages) == "summarize"
    messages[1]["content"] = message_content("", [attached])
    assert "secret" not in derive_title(messages)


def test_delete_removes_the_file_and_its_hits(store: ChatStore) -> None:
    chat_id = store.save(chat())
    assert store.search("2+2")
    assert store.delete(chat_id) == store.path_of(chat_id) and not store.path_of(chat_id).exists()
    assert store.search("2+2") == []


def test_a_title_given_at_the_first_save_is_kept_and_goes_with_a_fork(store: ChatStore, tmp_path: Path) -> None:
    chat_id = store.save(chat(), title="  Named   first ")
    assert read_summary(store.path_of(chat_id)).title == "Named first"
    other = ChatStore(tmp_path / "data")  # another llmc goes on with it meanwhile
    other.save(other.load(chat_id)[1] + [{"role": "user", "content": "theirs"}], chat_id)
    forked = store.save(chat() + [{"role": "user", "content": "mine"}], chat_id)
    assert forked != chat_id and read_summary(store.path_of(forked)).title == "Named first"
    with pytest.raises(ConfigError, match="a title needs some words"):
        store.save(chat(), title="  ")
