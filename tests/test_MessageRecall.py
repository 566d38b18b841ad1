"""MessageRecall: walking the chat's messages into a real prompt_toolkit buffer."""
from __future__ import annotations

from pathlib import Path

from prompt_toolkit.buffer import Buffer

from llmc.store.ChatSession import ChatSession
from llmc.chat.MessageRecall import MessageRecall


def chat(tmp_path: Path) -> ChatSession:
    session = ChatSession("system", tmp_path)
    for number in (1, 2):
        session.add_user(f"question {number}")
        session.add_assistant(f"answer {number}")
    return session


def test_walking_up_and_down_through_the_user_messages(tmp_path: Path) -> None:
    session, recall, buffer = chat(tmp_path), MessageRecall(), Buffer()
    recall.walk(buffer, session, "user", -1)
    assert buffer.text == "question 2" and recall.recalled_user_index == 3
    recall.walk(buffer, session, "user", -1)
    recall.walk(buffer, session, "user", -1)  # the oldest stays the oldest
    assert (buffer.text, recall.recalled_user_index, buffer.cursor_position) == ("question 1", 1, 10)
    recall.walk(buffer, session, "user", 1)
    recall.walk(buffer, session, "user", 1)  # past the newest: an empty line, nothing recalled
    assert buffer.text == "" and recall.recalled_user_index is None


def test_a_recalled_reply_restarts_nothing(tmp_path: Path) -> None:
    session, recall, buffer = chat(tmp_path), MessageRecall(), Buffer()
    recall.walk(buffer, session, "user", -1)
    recall.walk(buffer, session, "assistant", -1)  # another role starts a walk of its own, from the newest
    assert buffer.text == "answer 2" and recall.recalled_user_index is None


def test_emptying_the_line_forgets_the_recalled_message(tmp_path: Path) -> None:
    session, recall, buffer = chat(tmp_path), MessageRecall(), Buffer()
    recall.walk(buffer, session, "user", -1)
    buffer.text = "question 2, edited"
    recall.forget_when_emptied(buffer)
    assert recall.recalled_user_index == 3
    buffer.text = ""
    recall.forget_when_emptied(buffer)
    assert recall.recalled_user_index is None


def test_reset_starts_the_next_walk_from_the_newest(tmp_path: Path) -> None:
    session, recall, buffer = chat(tmp_path), MessageRecall(), Buffer()
    recall.walk(buffer, session, "user", -1)
    recall.walk(buffer, session, "user", -1)
    recall.reset()
    assert recall.recalled_user_index is None
    recall.walk(buffer, session, "user", -1)
    assert buffer.text == "question 2"


def test_an_empty_chat_leaves_the_line_alone(tmp_path: Path) -> None:
    recall, buffer = MessageRecall(), Buffer()
    buffer.text = "typed"
    recall.walk(buffer, ChatSession("system", tmp_path), "user", -1)
    assert buffer.text == "typed" and recall.recalled_user_index is None
