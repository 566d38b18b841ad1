"""ChatSession: the conversation, JSON sessions in the data dir, refusals, Markdown export."""
from __future__ import annotations

import json
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from llmc.store.ChatSession import (MAX_CHAT_FILE_BYTES, ChatSession, format_markdown, parse_chat_lines,
                                    read_session_file, slugify, suggest_title)
from llmc.base.Errors import INCOMPLETE_MARKER, ConfigError

NOW = datetime(2026, 1, 2, 3, 4, 5)
DATA = Path(__file__).parent / "data"


@pytest.fixture
def session(tmp_path: Path) -> ChatSession:
    chat = ChatSession("be brief", tmp_path / "data")
    chat.add_user("What is 2+2?")
    chat.add_assistant("4")
    return chat


def test_system_message_first_and_reset_keeps_it(session: ChatSession) -> None:
    assert session.messages[0] == {"role": "system", "content": "be brief"}
    assert session.has_user_messages()
    session.reset()
    assert session.messages == [{"role": "system", "content": "be brief"}]
    assert not session.has_user_messages()


def test_remove_last_user_drops_the_turn(session: ChatSession) -> None:
    session.add_user("and 3+3?")
    session.remove_last_user()
    assert [m["role"] for m in session.messages] == ["system", "user", "assistant"]
    session.remove_last_user()
    assert [m["role"] for m in session.messages] == ["system"]


def test_incomplete_reply_is_kept_and_marked(session: ChatSession) -> None:
    session.add_user("tell a story")
    session.add_assistant("Once upon", incomplete=True)
    assert session.last_reply() == f"Once upon\n\n{INCOMPLETE_MARKER}"


def test_save_writes_indented_json_in_the_data_dir_mode_0600(session: ChatSession, tmp_path: Path) -> None:
    path = session.save("mychat")
    assert path == tmp_path / "data" / "mychat.json"
    text = path.read_text()
    assert json.loads(text) == session.messages
    assert text.startswith('[\n    {\n        "role": "system"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_path_or_an_extension_is_kept(session: ChatSession, tmp_path: Path) -> None:
    assert session.resolve_path("notes.txt") == tmp_path / "data" / "notes.txt"
    assert session.resolve_path("./here") == Path("here.json")
    assert session.resolve_path(str(tmp_path / "sub" / "x")) == tmp_path / "sub" / "x.json"
    assert session.resolve_path("~/s") == tmp_path / "home" / "s.json"


def test_load_round_trip_in_a_new_session(session: ChatSession, tmp_path: Path) -> None:
    session.save("round")
    other = ChatSession("other prompt", tmp_path / "data")
    path = other.load("round")
    assert path == tmp_path / "data" / "round.json"
    assert other.messages == session.messages


def test_no_name_uses_the_current_file(session: ChatSession, tmp_path: Path) -> None:
    first = session.save("named")
    session.add_user("more")
    assert session.save() == first
    assert json.loads(first.read_text())[-1]["content"] == "more"


def test_would_overwrite_only_a_different_existing_file(session: ChatSession, tmp_path: Path) -> None:
    assert not session.would_overwrite("fresh")
    session.save("mine")
    assert not session.would_overwrite("mine")
    (tmp_path / "data" / "theirs.json").write_text("[]")
    assert session.would_overwrite("theirs")


def test_a_save_by_another_chat_in_between_is_not_overwritten_unasked(session: ChatSession,
                                                                       tmp_path: Path) -> None:
    other = ChatSession("other", tmp_path / "data")
    session.save("shared")
    other.add_user("their question")
    other.save("shared")  # another llmc saved over it since
    assert session.would_overwrite("shared")
    session.load("shared")
    assert not session.would_overwrite("shared")


@pytest.mark.parametrize("content, expected", [
    ("{not json", "invalid JSON"),
    ('{"role": "user"}', "expected a non-empty list"),
    ("[]", "expected a non-empty list"),
    ('[{"role": "user", "content": 3}]', "message 1"),
    ('[{"role": "wizard", "content": "x"}]', "message 1"),
    ('[{"role": "user", "content": "x"}]', "system message must come first"),
])
def test_a_file_that_is_not_a_chat_is_refused_and_the_chat_kept(
        session: ChatSession, tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "data" / "bad.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text(content)
    before = list(session.messages)
    with pytest.raises(ConfigError) as info:
        session.load("bad")
    message = str(info.value)
    assert str(bad) in message and expected in message and "\n" not in message
    assert session.messages == before


def test_missing_and_huge_files_are_refused(session: ChatSession, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such chat file"):
        session.load("absent")
    huge = tmp_path / "data" / "huge.json"
    huge.parent.mkdir(parents=True, exist_ok=True)
    with open(huge, "wb") as handle:
        handle.truncate(MAX_CHAT_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="too large"):
        session.load("huge")


def test_fifos_and_devices_are_refused_at_once(session: ChatSession, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    os.mkfifo(data / "pipe.json")  # no writer: reading it would block forever
    (data / "zero.json").symlink_to("/dev/zero")  # reading it would never end
    before = list(session.messages)
    for name, kind in (("pipe", "a FIFO"), ("zero", "a character device")):
        with pytest.raises(ConfigError, match=f"not a regular file \\({kind}\\)"):
            session.load(name)
    assert session.messages == before


def test_a_utf8_bom_is_accepted(session: ChatSession, tmp_path: Path) -> None:
    saved = tmp_path / "data" / "bom.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"role": "system", "content": "hi"}]).encode())
    session.load("bom")
    assert session.messages == [{"role": "system", "content": "hi"}]


def test_save_failure_names_the_file(session: ChatSession, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot save the chat"):
        session.save(str(tmp_path / "no-such-dir" / "x.json"))


def test_markdown_format_skips_the_system_prompt() -> None:
    text = format_markdown("Sums", "fake/fake-chat-1", NOW, [("user", "2+2?"), ("assistant", "4")])
    assert text == ("# Sums\n(fake/fake-chat-1)\n\nDate: 2026-01-02 03:04:05\n\n"
                    "## User\n\n2+2?\n\n## Assistant\n\n4\n\n")


def test_export_uses_the_models_title_and_file_name(session: ChatSession, tmp_path: Path) -> None:
    asked = []

    def complete(messages):
        asked.append(messages)
        return 'Sure: {"title": "Adding Numbers", "filename": "Adding numbers!.md"}'
    path = session.export_markdown(complete, "fake/m", now=NOW)
    assert path == tmp_path / "data" / "adding-numbers.md"
    text = path.read_text()
    assert text.startswith("# Adding Numbers\n(fake/m)\n\nDate: 2026-01-02 03:04:05\n\n## User\n\n")
    assert "be brief" not in text
    assert "What is 2+2?" in asked[0][0]["content"]


def test_export_falls_back_to_a_timestamped_name(session: ChatSession, tmp_path: Path) -> None:
    def failing(messages):
        raise ConfigError("no network")
    path = session.export_markdown(failing, "fake/m", now=NOW)
    assert path.name == "chat-20260102-030405.md"
    assert path.read_text().startswith("# Chat of 2026-01-02 03:04\n(fake/m)")
    path = session.export_markdown(lambda m: "no json here", "fake/m", name="given", now=NOW)
    assert path == tmp_path / "data" / "given.md"


def test_an_export_never_replaces_an_earlier_one(session: ChatSession, tmp_path: Path) -> None:
    def complete(messages):
        return '{"title": "Same", "filename": "same"}'
    first = session.export_markdown(complete, "fake/m", now=NOW)
    first_text = first.read_text()
    session.add_user("another question")
    second = session.export_markdown(complete, "fake/m", now=NOW)
    third = session.export_markdown(complete, "fake/m", name="same", now=NOW)
    assert [p.name for p in (first, second, third)] == ["same.md", "same-2.md", "same-3.md"]
    assert first.read_text() == first_text and "another question" in second.read_text()


def test_suggest_title_and_slugify() -> None:
    assert suggest_title(None, [("user", "x")]) == ("", "")
    assert suggest_title(lambda m: '{"title": "T"}', [("user", "x")]) == ("T", "")
    assert slugify("  Hello, World / 2 ") == "hello-world-2"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert os.sep not in slugify("a/b")


@pytest.mark.parametrize("name", [".", ".."])
def test_a_directory_is_no_file_name(session: ChatSession, name: str) -> None:
    with pytest.raises(ConfigError, match=r"is a directory; give a file name"):
        session.save(name)
    with pytest.raises(ConfigError, match=r"is a directory; give a file name"):
        session.load(name)


def test_the_incomplete_marker_is_kept_but_not_sent(session: ChatSession) -> None:
    session.add_user("tell")
    session.add_assistant("partial text", incomplete=True)
    assert session.messages[-1]["content"] == f"partial text\n\n{INCOMPLETE_MARKER}"
    assert session.api_messages()[-1] == {"role": "assistant", "content": "partial text"}
    assert session.api_messages()[:-1] == session.messages[:-1]


def test_an_export_to_a_missing_directory_fails_before_asking_the_model(session: ChatSession) -> None:
    asked = []
    with pytest.raises(ConfigError, match="/nonexistent/dir: no such directory; nothing exported"):
        session.export_markdown(lambda messages: asked.append(messages) or "{}", "fake/m",
                                name="/nonexistent/dir/x.md", now=NOW)
    assert asked == []
    with pytest.raises(ConfigError, match="is a directory; give a file name"):
        session.export_markdown(lambda messages: asked.append(messages) or "{}", "fake/m",
                                name="/nonexistent/dir/", now=NOW)
    a_file = session.save("plain")
    with pytest.raises(ConfigError, match="not a directory; nothing exported"):
        session.export_markdown(lambda messages: asked.append(messages) or "{}", "fake/m",
                                name=f"{a_file}/x.md", now=NOW)
    assert asked == []


def test_a_chat_file_holding_surrogate_escapes_loads_and_saves_again(session: ChatSession, tmp_path: Path) -> None:
    path = tmp_path / "halves.json"
    path.write_text('[{"role": "system", "content": "s"}, {"role": "user", "content": "pair \\ud83d\\ude00"},'
                    ' {"role": "assistant", "content": "lone \\ud800 and \\udfff"}]')
    session.load(str(path))
    assert session.turns() == [("user", "pair \U0001F600"), ("assistant", "lone \ufffd and \ufffd")]
    saved = session.save(str(tmp_path / "again.json"))
    assert json.loads(saved.read_text(encoding="utf-8"))[2]["content"] == "lone \ufffd and \ufffd"


def test_a_chat_file_nested_100000_deep_is_refused_and_the_chat_kept(session: ChatSession, tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match=r"deep.json: not a chat file: nested too deeply$"):
        session.load(str(path))
    assert session.turns() == [("user", "What is 2+2?"), ("assistant", "4")]


def test_usage_counts_are_kept_in_the_saved_chat_and_never_sent(tmp_path: Path) -> None:
    from llmc.base.TokenUsage import TokenUsage
    session = ChatSession("sys", tmp_path)
    session.add_user("hi")
    session.add_assistant("hello", usage=TokenUsage(12, 3))
    assert session.messages[-1] == {"role": "assistant", "content": "hello",
                                    "usage": {"prompt_tokens": 12, "completion_tokens": 3}}
    assert session.api_messages()[-1] == {"role": "assistant", "content": "hello"}
    path = session.save("counted")
    again = ChatSession("other", tmp_path)
    again.load(str(path))
    assert again.messages == session.messages
    data = json.loads(path.read_text())
    data[2]["usage"] = {"prompt_tokens": "many", "completion_tokens": 3}  # counts that do not add up
    path.write_text(json.dumps(data))
    again.load(str(path))
    assert "usage" not in again.messages[-1]


def test_a_reply_keeps_its_model_which_is_never_sent(session: ChatSession) -> None:
    session.add_user("and 3+3?")
    session.add_assistant("6", model="fake/fake-chat-2")
    session.messages[2]["usage"] = {"prompt_tokens": 5}  # what other features keep beside a message
    assert session.messages[-1] == {"role": "assistant", "content": "6", "model": "fake/fake-chat-2"}
    assert all(set(m) == {"role", "content"} for m in session.api_messages())
    session.add_user("again")
    session.add_assistant("6", model="fake/fake-chat-1")
    session.add_assistant("7", model="fake/fake-chat-2")
    assert session.answering_models() == ["fake/fake-chat-2", "fake/fake-chat-1"]


def test_the_markdown_header_names_the_models_that_answered(session: ChatSession) -> None:
    session.add_user("and 3+3?")
    session.add_assistant("6", model="fake/fake-chat-2")
    path = session.export_markdown(None, "fake/the-current-one", now=NOW)
    assert path.read_text().startswith("# Chat of 2026-01-02 03:04\n(fake/fake-chat-2)\n")
    session.add_user("more")
    session.add_assistant("more", model="other/x")
    assert "\n(fake/fake-chat-2, other/x)\n" in session.export_markdown(None, "fake/m", now=NOW).read_text()
    session.reset()
    session.add_user("q")
    session.add_assistant("a")  # a chat saved before models were kept: the current model it is
    assert "\n(fake/m)\n" in session.export_markdown(None, "fake/m", now=NOW).read_text()


def test_save_and_load_keep_each_replys_model(session: ChatSession, tmp_path: Path) -> None:
    session.add_user("q")
    session.add_assistant("a", model="fake/fake-chat-1")
    session.save("with-models")
    again = ChatSession("x", tmp_path / "data")
    again.load("with-models")
    assert again.messages == session.messages and again.answering_models() == ["fake/fake-chat-1"]


def test_a_model_that_is_not_text_is_refused(session: ChatSession, tmp_path: Path) -> None:
    bad = tmp_path / "data" / "bad.json"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text('[{"role": "system", "content": "s"}, {"role": "assistant", "content": "a", "model": 5}]')
    with pytest.raises(ConfigError, match=r"bad.json: not a chat file: message 2 has a model that is not text"):
        session.load("bad")


def test_reset_and_load_by_name_start_a_new_saved_chat(session: ChatSession) -> None:
    session.resume("20260102-030405-abcd", list(session.messages))
    assert session.chat_id == "20260102-030405-abcd" and session.path is None
    session.reset()
    assert session.chat_id is None
    session.save("named")
    session.resume("20260102-030405-abcd", list(session.messages))
    session.load("named")
    assert session.chat_id is None


def _tool_round(session: ChatSession) -> None:
    from llmc.base.TokenUsage import TokenUsage
    from llmc.base.ToolCalls import ToolCall
    session.add_user("What time is it in Paris?")
    calls = [ToolCall("call_1", "time_get_current_time", '{"timezone": "Europe/Paris"}')]
    session.add_tool_calls("Let me look.", calls, usage=TokenUsage(10, 5), model="fake/m")
    session.add_tool_result(calls[0], '{"datetime": "2026-12-08T00:17"} ``` not a fence end', "time.get_current_time")
    session.add_assistant("It is 00:17.", model="fake/m")


def test_tool_calls_and_results_are_sent_saved_and_loaded_back(session: ChatSession, tmp_path: Path) -> None:
    _tool_round(session)
    sent = session.api_messages()
    assert sent[4] == {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "time_get_current_time", "arguments": '{"timezone": "Europe/Paris"}'}}]}
    assert sent[5] == {"role": "tool", "tool_call_id": "call_1",
                       "content": '{"datetime": "2026-12-08T00:17"} ``` not a fence end'}
    session.save("tools")
    again = ChatSession("other", session.data_directory)
    again.load("tools")
    assert again.messages == session.messages and again.api_messages() == sent
    assert again.messages[5]["tool"] == "time.get_current_time"  # kept for the user, never sent


def test_a_tool_round_exports_readably(session: ChatSession) -> None:
    _tool_round(session)
    text = format_markdown("T", "fake/m", datetime(2026, 12, 8), session.turns())
    assert "## Assistant\n\nLet me look.\n\nTool call `time_get_current_time`:\n\n```json\n" \
           '{"timezone": "Europe/Paris"}\n```' in text
    assert "## Tool result\n\n`time.get_current_time` gave:\n\n````\n{\"datetime\"" in text
    assert "not a fence end\n````" in text and text.rstrip().endswith("It is 00:17.")


@pytest.mark.parametrize("bad", [
    {"role": "tool", "content": "x"},
    {"role": "tool", "content": "x", "tool_call_id": 5},
    {"role": "assistant", "content": "", "tool_calls": "call"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "function": "f"}]},
])
def test_a_malformed_tool_message_is_refused_naming_it(session: ChatSession, tmp_path: Path, bad: dict) -> None:
    (tmp_path / "bad.json").write_text(json.dumps([{"role": "system", "content": "s"}, bad]))
    with pytest.raises(ConfigError, match="bad.json: not a chat file: message 2"):
        session.load(str(tmp_path / "bad.json"))


def with_alternatives() -> list:
    """A chat whose last reply replaced two (one of them a tool round), the second one current."""
    call = {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}
    return [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a3", "model": "m", "alternatives_at": 1, "alternatives": [
                [{"role": "assistant", "content": "", "tool_calls": [call]},
                 {"role": "tool", "tool_call_id": "c1", "content": "42", "tool": "t"},
                 {"role": "assistant", "content": "a1", "usage": {"prompt_tokens": 1, "completion_tokens": 2}}],
                [{"role": "assistant", "content": "a2", "model": "m"}]]}]


def test_alternatives_are_saved_loaded_back_and_never_sent_nor_shown(session: ChatSession, tmp_path: Path) -> None:
    session.messages = with_alternatives()
    session.save("alt")
    again = ChatSession("other", tmp_path / "data")
    again.load("alt")
    assert again.messages == with_alternatives()
    assert again.api_messages() == [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
                                    {"role": "assistant", "content": "a3"}]
    assert again.turns() == [("user", "q"), ("assistant", "a3")]


@pytest.mark.parametrize("alternatives, at, problem", [
    ("a1", None, "message 3 has alternatives that are not lists of messages"),
    ([[]], None, "message 3 has alternatives that are not lists of messages"),
    ([[{"role": "assistant"}]], None, "message 3 \\(alternative 1, message 1\\) is not a"),
    ([[{"role": "system", "content": "x"}]], None, "message 3 has an alternative holding a system message"),
    ([[{"role": "assistant", "content": "x"}]], 2, "message 3 has an alternatives_at that is not a number from 0 to 1"),
    ([[{"role": "assistant", "content": "x"}]], True, "message 3 has an alternatives_at that"),
])
def test_malformed_alternatives_are_refused_naming_the_message(session: ChatSession, tmp_path: Path,
                                                                 alternatives, at, problem: str) -> None:
    reply = {"role": "assistant", "content": "a", "alternatives": alternatives}
    if at is not None:
        reply["alternatives_at"] = at
    (tmp_path / "bad.json").write_text(json.dumps([{"role": "system", "content": "s"},
                                                   {"role": "user", "content": "q"}, reply]))
    with pytest.raises(ConfigError, match=f"bad.json: not a chat file: {problem}"):
        session.load(str(tmp_path / "bad.json"))


def test_fields_a_chat_does_not_know_are_left_out_as_an_older_llmc_leaves_out_alternatives(tmp_path: Path) -> None:
    (tmp_path / "new.json").write_text(json.dumps([{"role": "system", "content": "s"},
                                                   {"role": "user", "content": "q", "branches": [1]}]))
    assert read_session_file(tmp_path / "new.json") == [{"role": "system", "content": "s"},
                                                         {"role": "user", "content": "q"}]


def test_a_line_nested_too_deeply_is_refused_naming_it(tmp_path: Path) -> None:
    text = '{"llmc_chat": 1}\n' + "[" * 100000 + "]" * 100000 + "\n"
    with pytest.raises(ConfigError, match="x.jsonl: not a chat file: line 2 is nested too deeply"):
        parse_chat_lines(text, tmp_path / "x.jsonl")


@pytest.mark.parametrize("name", ["llmc1-saved.json", "llmc1-chat.jsonl"])
def test_a_chat_written_before_alternatives_loads_as_it_is(name: str) -> None:
    """tests/data holds a chat as llmc wrote it before alternatives (commit 037e6e8): a role, a tool round,
    an image, an incomplete reply and usage; /save's JSON list and the autosaved JSON Lines."""
    messages = read_session_file(DATA / name)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "user",
                                             "assistant", "user", "assistant"]
    assert messages[0]["role_name"] == "reviewer" and messages[2]["tool_calls"][0]["id"] == "call_1"
    assert messages[5]["content"][2]["type"] == "image_url" and messages[6]["content"].endswith(INCOMPLETE_MARKER)
    assert messages[-1] == {"role": "assistant", "content": "Tiny.", "model": "fake/fake-chat-2",
                            "usage": {"prompt_tokens": 120, "completion_tokens": 2}}
    assert not any("alternatives" in m for m in messages)
