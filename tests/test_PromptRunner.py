"""PromptRunner: prompt reading, one-shot answers streamed into the plain writer, failures."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from llmc.store.ChatSession import ChatSession
from llmc.store.ChatStore import ChatStore
from llmc.Config import Config
from llmc.base.Errors import INCOMPLETE_MARKER, ApiError, ConfigError, IncompleteReplyError
from llmc.cli.PromptRunner import PromptRunner, read_prompt
from llmc.base.Terminal import Terminal
from tests.conftest import shared_fake_server
from llmc.setup.RunContext import RunContext
from tests.fake_openai_server import FakeOpenAIServer


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


server = shared_fake_server(reply="The answer.", reasoning="")


def setup(tmp_path: Path, srv: FakeOpenAIServer, key: str = "test-key", extra: str = "",
          model: str = "fake/f1") -> tuple[PromptRunner, io.StringIO, io.StringIO]:
    (tmp_path / "config.toml").write_text(
        f'{extra}\n[providers.fake]\nname = "Fake"\nbase_api_url = "{srv.base_url}"\napi_key = "{key}"\n'
        'valid_models = { "fake-chat-1" = "f1", "fake-embed-1" = "e1" }\n')
    config = Config(data_directory=tmp_path, model=model, environ={}, warn=lambda _: None)
    out, err = io.StringIO(), io.StringIO()
    terminal = Terminal(out, err, environ={})
    return PromptRunner(RunContext(terminal, config)), out, err


def test_streams_the_answer_to_stdout(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, out, err = setup(tmp_path, server)
    assert runner.run("hello") == 0
    assert out.getvalue() == "The answer.\n" and err.getvalue() == ""
    body = server.requests[-1]["json"]
    assert body["model"] == "fake-chat-1" and body["stream"] is True
    assert body["messages"][-1] == {"role": "user", "content": "hello"}
    assert body["messages"][0]["role"] == "system"


def test_reasoning_goes_to_stderr(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.set(reasoning="thinking hard")
    runner, out, err = setup(tmp_path, server)
    runner.run("hello")
    assert out.getvalue() == "The answer.\n"
    assert err.getvalue() == "REASONING:\nthinking hard\n\nANSWER:\n"


def test_non_streaming_mode(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.set(reasoning="thinking hard")
    runner, out, err = setup(tmp_path, server, extra="stream = false")
    assert runner.run("hello") == 0
    assert out.getvalue() == "The answer.\n"
    assert err.getvalue() == "REASONING:\nthinking hard\n\nANSWER:\n"  # as when streaming
    assert server.requests[-1]["json"]["stream"] is False


def test_echo_mode_sends_nothing(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, out, _ = setup(tmp_path, server)
    count = len(server.requests)
    assert runner.run("just echo", echo=True) == 0
    assert out.getvalue() == "just echo\n" and len(server.requests) == count


@pytest.mark.parametrize("prompt", ["", "   \n\t"])
def test_empty_prompt_is_refused(tmp_path: Path, server: FakeOpenAIServer, prompt: str) -> None:
    runner, _, _ = setup(tmp_path, server)
    with pytest.raises(ConfigError, match="empty prompt"):
        runner.run(prompt)


def test_cut_stream_keeps_the_partial_answer_and_marks_it(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.set(reply="x" * 1500)
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 1234})
    runner, out, err = setup(tmp_path, server)
    with pytest.raises(IncompleteReplyError) as info:
        runner.run("hello")
    assert "connection lost after 1,234 characters" in str(info.value)
    assert out.getvalue() == "x" * 1234 + "\n"
    assert err.getvalue() == "[reply incomplete]\n"


def test_malformed_chunk_warning_goes_to_stderr(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "malformed_chunk", "after_chars": 3})
    runner, out, err = setup(tmp_path, server)
    assert runner.run("hello") == 0
    assert out.getvalue() == "The answer.\n"
    assert err.getvalue() == "Warning: fake: skipped a malformed stream chunk: '{not valid json'\n"


def test_rate_limit_waits_are_shown(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"status": 429, "retry_after": "0"})
    runner, out, err = setup(tmp_path, server)
    assert runner.run("hello") == 0
    assert err.getvalue() == "fake: rate limited (429); retrying in 0 s (retry 1 of 3)\n"


def test_api_error_is_raised_once(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, out, err = setup(tmp_path, server, key="wrong")
    with pytest.raises(ApiError, match="API request failed with status code 401."):
        runner.run("hello")
    assert out.getvalue() == "" and err.getvalue() == ""


def test_missing_key_names_the_variable(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, _, _ = setup(tmp_path, server, model="deepseek/r1")
    with pytest.raises(ConfigError) as info:
        runner.run("hello")
    assert "No API key for provider deepseek: set DEEPSEEK_API_KEY" in str(info.value)


def test_read_prompt() -> None:
    assert read_prompt("text", io.StringIO("piped\n")) == "text\n\npiped\n"  # the prompt, then the piped text
    assert read_prompt("text", io.StringIO(" \n")) == "text"  # nothing piped: the prompt alone
    assert read_prompt("text", FakeTty("typed")) == "text"
    assert read_prompt("-", io.StringIO("from stdin\n")) == "from stdin\n"
    assert read_prompt(None, io.StringIO("piped")) == "piped"
    assert read_prompt(None, FakeTty("typed")) is None
    assert read_prompt("-", FakeTty("tty too")) == "tty too"


def test_an_empty_answer_is_said_to_be_empty(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.set(reply="")
    runner, out, err = setup(tmp_path, server)
    assert runner.run("hello") == 0
    assert out.getvalue() == "" and err.getvalue() == "Warning: the model returned no answer text\n"


class BytesStdin(io.TextIOWrapper):
    """A piped stdin with bytes below it, counting how much was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BufferedReader(io.BytesIO(data)), encoding="utf-8")


def test_standard_input_is_read_up_to_its_limit() -> None:
    from llmc.cli.PromptRunner import MAX_STDIN_BYTES, read_standard_input
    assert read_standard_input(BytesStdin("é".encode() * 1000)) == "é" * 1000
    with pytest.raises(ConfigError, match=r"^standard input is larger than 16 MB, the most llmc takes as a prompt"):
        read_standard_input(BytesStdin(bytes(MAX_STDIN_BYTES + 1)))
    with pytest.raises(ConfigError, match=r"^standard input is larger than 16 MB"):
        read_standard_input(io.StringIO("x" * (MAX_STDIN_BYTES + 1)))
    with pytest.raises(ConfigError, match=r"^cannot read the prompt from standard input: 'utf-8' codec"):
        read_standard_input(BytesStdin(b"\xff\xfe"))
    assert read_standard_input(None) == ""  # started with <&-


def test_a_terminal_is_told_how_to_end_the_prompt() -> None:
    notices: list = []
    assert read_prompt("-", FakeTty("typed"), notices.append) == "typed"
    assert notices == ["reading the prompt from standard input (end with Ctrl-D)"]
    read_prompt("-", io.StringIO("piped"), notices.append)
    assert len(notices) == 1  # a pipe needs no notice


def test_the_exchange_is_saved_with_the_model_that_answered(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, out, _ = setup(tmp_path, server)
    store = ChatStore(tmp_path)
    assert runner.run("hello", store=store) == 0
    (summary,), _ = store.summaries()
    _, messages = store.load(summary.chat_id)
    assert [(m["role"], m["content"]) for m in messages[1:]] == [("user", "hello"), ("assistant", "The answer.")]
    assert messages[2]["model"] == "fake/fake-chat-1" and summary.title == "hello"


def test_a_follow_up_goes_into_the_chat_it_follows(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, _, _ = setup(tmp_path, server)
    store = ChatStore(tmp_path)
    runner.run("first", store=store)
    chat_id = store.latest()
    session = ChatSession("ignored", tmp_path)
    session.resume(chat_id, store.load(chat_id)[1])
    runner.run("second", session=session, store=store)
    assert [m["content"] for m in server.requests[-1]["json"]["messages"][1:]] == ["first", "The answer.", "second"]
    assert [c.chat_id for c in store.summaries()[0]] == [chat_id]
    assert [m["content"] for m in store.load(chat_id)[1][1:]] == ["first", "The answer.", "second", "The answer."]


def test_a_broken_stream_saves_the_partial_reply_marked(tmp_path: Path, server: FakeOpenAIServer) -> None:
    server.set(reply="0123456789abcdefghij")
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 8})
    runner, _, _ = setup(tmp_path, server)
    store = ChatStore(tmp_path)
    with pytest.raises(IncompleteReplyError):
        runner.run("tell", store=store)
    _, messages = store.load(store.latest())
    assert messages[-1]["content"] == f"01234567\n\n{INCOMPLETE_MARKER}"


def test_no_store_and_echo_save_nothing(tmp_path: Path, server: FakeOpenAIServer) -> None:
    runner, _, _ = setup(tmp_path, server)
    runner.run("hello")
    runner.run("echoed", echo=True, store=ChatStore(tmp_path))
    assert not (tmp_path / "chats").exists()


def test_a_save_that_fails_is_a_warning_after_the_answer_and_not_a_success(tmp_path: Path,
                                                                           server: FakeOpenAIServer) -> None:
    runner, out, err = setup(tmp_path, server)
    (tmp_path / "chats").write_text("not a directory")
    assert runner.run("hello", store=ChatStore(tmp_path)) == 2  # a script can tell the exchange was not kept
    assert out.getvalue() == "The answer.\n"
    assert err.getvalue() == f"Warning: chats directory {tmp_path / 'chats'} is not a directory\n"
