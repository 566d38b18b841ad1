"""Conversation: one turn sent to the loopback fake server, shown in a writer, recorded and saved."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pytest

from llmc.base.ChatOptions import ChatOptions
from llmc.base.Errors import INCOMPLETE_MARKER, ApiError, ConfigError, IncompleteReplyError, LlmcError
from llmc.base.Terminal import Terminal
from llmc.chat.Conversation import Conversation
from llmc.ProviderConfig import ProviderConfig
from llmc.ProviderManager import ProviderManager
from llmc.render.PlainReplyWriter import PlainReplyWriter
from llmc.store.Attachment import Attachment, message_content
from llmc.store.ChatSession import ChatSession
from llmc.store.ChatStore import ChatStore
from llmc.transport.HttpSettings import HttpSettings
from tests.fake_openai_server import FakeOpenAIServer

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(reply="The answer.") as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: FakeOpenAIServer) -> None:
    server.reset()


class Setup:
    def __init__(self, tmp_path: Path, server: FakeOpenAIServer, autosave: bool = True, echo: bool = False) -> None:
        self.providers = ProviderManager({"fake": ProviderConfig(
            name="Fake", base_api_url=server.base_url, api_key="test-key", valid_models={"fake-chat-1": "f1"})},
            http_settings=HttpSettings(max_retries=0, read_timeout=5))
        self.out, self.err = io.StringIO(), io.StringIO()
        self.terminal = Terminal(self.out, self.err, environ={})
        self.store = ChatStore(tmp_path)
        self.session = ChatSession("be brief", tmp_path)
        self.conversation = Conversation(self.session, self.providers, self.terminal, self.store,
                                         autosave=autosave, echo=echo)
        self.model = self.providers.resolve("f1")

    def writer(self) -> PlainReplyWriter:
        return PlainReplyWriter(self.terminal.stdout, self.terminal.stderr)

    def saved(self) -> list:
        return self.store.load(self.session.chat_id)[1] if self.session.chat_id else []


def test_a_turn_is_sent_shown_recorded_with_usage_and_model_and_saved(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    reply = s.conversation.send("hello", s.model, ChatOptions(temperature=0.3), s.writer())
    assert (reply.text, reply.model) == ("The answer.", "fake/fake-chat-1") and reply.usage is not None
    assert s.out.getvalue() == "The answer.\n"
    sent = server.requests[-1]["json"]
    assert sent["temperature"] == 0.3 and sent["messages"][-1] == {"role": "user", "content": "hello"}
    assert s.saved()[-1] == {"role": "assistant", "content": "The answer.", "usage": reply.usage.as_dict(),
                             "model": "fake/fake-chat-1"}
    assert not s.conversation.turn_dropped


def test_a_reply_cut_off_is_kept_marked_and_saved_and_the_error_raised(tmp_path, server) -> None:
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 4})
    s = Setup(tmp_path, server)
    with pytest.raises(IncompleteReplyError):
        s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    assert s.saved()[-1] == {"role": "assistant", "content": f"The\n\n{INCOMPLETE_MARKER}",
                             "model": "fake/fake-chat-1"}
    assert not s.conversation.turn_dropped


def test_a_failed_request_drops_the_turn_and_saves_nothing(tmp_path, server) -> None:
    server.add_fault("/chat/completions", {"status": 500})
    s = Setup(tmp_path, server)
    with pytest.raises(ApiError):
        s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    assert s.conversation.turn_dropped and not s.session.has_user_messages()
    assert s.session.chat_id is None and list(tmp_path.rglob("*.jsonl")) == []


def test_a_model_that_refuses_images_is_named(tmp_path, server) -> None:
    server.set(refuse_images=True)
    (tmp_path / "shot.png").write_bytes(PNG)
    s = Setup(tmp_path, server)
    content = message_content("what is this?", [Attachment.read(str(tmp_path / "shot.png"))])
    with pytest.raises(ApiError, match="fake/fake-chat-1"):
        s.conversation.send(content, s.model, ChatOptions(), s.writer())
    assert s.conversation.turn_dropped


def test_a_missing_key_is_a_config_error_and_drops_the_turn(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    s.providers.add_provider("remote", ProviderConfig(name="Remote", base_api_url="https://api.example.com/v1",
                                                      valid_models={"remote-1": "r1"}))  # never asked: no key
    with pytest.raises(ConfigError, match="No API key for provider remote"):
        s.conversation.send("hello", s.providers.resolve("r1"), ChatOptions(), s.writer())
    assert s.conversation.turn_dropped and server.requests == []


def test_a_request_round_from_the_messages_as_they_are_and_its_recording_are_seams(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    s.session.messages.pop()  # the last reply taken back
    server.set(reply="Another answer.")
    reply = s.conversation.request_round(s.model, ChatOptions(stream=False), s.writer())
    assert reply.text == "Another answer." and s.session.last_reply() is None  # not recorded yet
    s.conversation.record_reply(reply)
    assert [m["content"] for m in s.saved()[1:]] == ["hello", "Another answer."]
    assert server.requests[-1]["json"]["messages"][-1] == {"role": "user", "content": "hello"}


def test_echo_answers_with_the_prompt_asking_no_model_and_autosave_off_saves_nothing(tmp_path, server) -> None:
    s = Setup(tmp_path, server, autosave=False, echo=True)
    reply = s.conversation.send("say this", None, ChatOptions(), s.writer())
    assert reply.text == "say this" and reply.model is None and server.requests == []
    assert s.session.last_reply() == "say this" and s.session.chat_id is None


def chat_requests(server: FakeOpenAIServer) -> list:
    return [r["json"]["messages"] for r in server.request_log() if r["path"].endswith("/chat/completions")]


def test_regenerate_asks_again_without_the_old_reply_and_keeps_it_as_an_alternative(tmp_path, server) -> None:
    server.set(numbered_replies=True)
    s = Setup(tmp_path, server)
    s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    reply = s.conversation.regenerate(s.model, ChatOptions(), s.writer())
    assert reply.text == "The answer. #2" and s.out.getvalue() == "The answer. #1\nThe answer. #2\n"
    first, again = chat_requests(server)
    assert first == again == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    saved = s.saved()
    assert [m["content"] for m in saved[1:]] == ["hello", "The answer. #2"]
    assert [[m["content"] for m in tail] for tail in saved[2]["alternatives"]] == [["The answer. #1"]]
    assert saved[2]["alternatives"][0][0]["model"] == "fake/fake-chat-1"
    s.conversation.send("more", s.model, ChatOptions(), s.writer())  # alternatives are never sent
    assert "alternatives" not in str(chat_requests(server)[-1])


def test_a_failed_regenerate_leaves_the_earlier_reply_current(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    before = s.saved()
    server.add_fault("/chat/completions", {"status": 500})
    with pytest.raises(ApiError):
        s.conversation.regenerate(s.model, ChatOptions(), s.writer())
    assert s.session.messages == before == s.saved() and not s.conversation.turn_dropped


def test_a_regenerate_cut_off_keeps_what_came_and_the_earlier_reply_as_its_alternative(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    server.set(reply="Something else entirely.")
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 10})
    with pytest.raises(IncompleteReplyError):
        s.conversation.regenerate(s.model, ChatOptions(), s.writer())
    last = s.saved()[-1]
    assert last["content"] == f"Something\n\n{INCOMPLETE_MARKER}"
    assert [m["content"] for m in last["alternatives"][0]] == ["The answer."]


def test_regenerate_with_no_prompt_yet_is_refused(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    with pytest.raises(LlmcError, match="no prompt to ask again"):
        s.conversation.regenerate(s.model, ChatOptions(), s.writer())
    assert server.requests == [] and s.session.messages == [{"role": "system", "content": "be brief"}]


def test_an_edited_prompt_replaces_its_turn_and_keeps_it_and_a_failed_one_puts_it_back(tmp_path, server) -> None:
    s = Setup(tmp_path, server)
    s.conversation.send("hello", s.model, ChatOptions(), s.writer())
    s.conversation.send("and then?", s.model, ChatOptions(), s.writer())
    before = s.saved()
    server.add_fault("/chat/completions", {"status": 500})
    with pytest.raises(ApiError):
        s.conversation.send("what then?", s.model, ChatOptions(), s.writer(), replacing=3)
    assert s.session.messages == before and s.conversation.turn_dropped
    server.set(reply="Then this.")
    s.conversation.send("what then?", s.model, ChatOptions(), s.writer(), replacing=3)
    assert chat_requests(server)[-1][1:] == [{"role": "user", "content": "hello"},
                                             {"role": "assistant", "content": "The answer."},
                                             {"role": "user", "content": "what then?"}]
    saved = s.saved()
    assert [m["content"] for m in saved[1:]] == ["hello", "The answer.", "what then?", "Then this."]
    assert [[m["content"] for m in tail] for tail in saved[3]["alternatives"]] == [["and then?", "The answer."]]
