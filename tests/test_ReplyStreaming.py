"""ReplyStreaming: which writer a terminal gets, and a reply streamed from the fake server into it."""
from __future__ import annotations

import io

from llmc.transport.HttpSettings import HttpSettings
from llmc.OpenAIChatCompletionApi import OpenAIChatCompletionApi
from llmc.render.PlainReplyWriter import PlainReplyWriter
from llmc.ProviderConfig import ProviderConfig
from llmc.base.ChatOptions import ChatOptions
from llmc.render.ReplyStreaming import make_reply_writer, stream_reply
from llmc.base.Terminal import Terminal
from tests.fake_openai_server import FakeOpenAIServer


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_reply_writer_is_plain_unless_colour() -> None:
    assert isinstance(make_reply_writer(Terminal(io.StringIO(), io.StringIO(), environ={})), PlainReplyWriter)
    no_color = Terminal(FakeTty(), io.StringIO(), environ={"NO_COLOR": "1"})
    assert isinstance(make_reply_writer(no_color), PlainReplyWriter)
    assert not no_color.color and Terminal(FakeTty(), io.StringIO(), environ={}).color


def test_a_streamed_and_a_whole_reply_read_the_same(fake_server: FakeOpenAIServer) -> None:
    fake_server.set(reply="Same *text*.", reasoning="")
    api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url=fake_server.base_url, api_key="test-key"),
                                  "fake-chat-1", HttpSettings(max_retries=0))
    answers = []
    for stream in (True, False):
        out, err = io.StringIO(), io.StringIO()
        terminal = Terminal(out, err, environ={})
        answers.append(stream_reply(api, [{"role": "user", "content": "hi"}], make_reply_writer(terminal),
                                    terminal, ChatOptions(stream=stream)))
        assert out.getvalue() == "Same *text*.\n" and err.getvalue() == ""
    assert [answer.text for answer in answers] == ["Same *text*.", "Same *text*."]
    assert answers[0].usage == answers[1].usage and answers[0].usage is not None  # the Usage event, both ways
    assert [r["json"]["stream"] for r in fake_server.requests] == [True, False]


def test_a_key_echoed_in_a_reply_is_masked_on_screen_and_in_the_answer(fake_server: FakeOpenAIServer,
                                                                      monkeypatch) -> None:
    key = "env-SECRET-0123456789abcdef"
    monkeypatch.setenv("FAKE_API_KEY", key)
    fake_server.set(reply=f"Your key is {key} and sk-shaped-0123456789 too.", reasoning=f"I saw {key}",
                    chunk_size=3)
    api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url=fake_server.base_url, api_key="test-key"),
                                  "fake-chat-1", HttpSettings(max_retries=0))
    for stream in (True, False):
        out, err = io.StringIO(), io.StringIO()
        terminal = Terminal(out, err, environ={})
        answer = stream_reply(api, [{"role": "user", "content": "hi"}], make_reply_writer(terminal), terminal,
                              ChatOptions(stream=stream)).text
        assert answer == "Your key is ******** and ******** too."
        assert out.getvalue() == answer + "\n"
        assert "0123456789" not in err.getvalue() and "I saw ********" in err.getvalue()
