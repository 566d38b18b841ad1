"""ChatInterface: the REPL driven through a prompt_toolkit pipe input against the fake server."""
from __future__ import annotations

import io
import os
import signal
import stat
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from prompt_toolkit.input import create_pipe_input

from llmc.chat.InputHistory import HISTORY_ENTRIES_KEPT
from llmc.store.ChatSession import ChatSession
from llmc.store.ChatStore import ChatStore
from llmc.base.Errors import INCOMPLETE_MARKER
from llmc.base.Errors import InvalidModelError
from tests.chat_support import SUBMIT, chat_messages, make_chat, run_keys
from tests.fake_openai_server import FakeOpenAIServer

CTRL_O = "\x0f"
SHIFT_UP = "\x1b[1;2A"
SHIFT_DOWN = "\x1b[1;2B"
CTRL_SHIFT_UP = "\x1b[1;6A"
SHIFT_ALT_N = "\x1bN"


class TtyBuffer(io.StringIO):
    """A StringIO that says it is a terminal (so replies are rendered as markdown)."""

    def isatty(self) -> bool:
        return True


class InterruptingBuffer(io.StringIO):
    """Sends this process SIGINT (a real Ctrl-C) as soon as `trigger` has been written."""

    def __init__(self, trigger: str) -> None:
        super().__init__()
        self.trigger = trigger
        self.fired = False

    def write(self, text: str) -> int:
        written = super().write(text)
        if not self.fired and self.trigger in self.getvalue():
            self.fired = True
            os.kill(os.getpid(), signal.SIGINT)
        return written


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["fake-chat-1", "fake-chat-2", "fake-chat-3"],
                          reply="Hello **there**.") as srv:
        yield srv


def test_a_message_streams_the_reply_and_the_prompt_marks_the_chat(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        assert chat._prompt_text() == "fc1 > "
        status = run_keys(chat, pipe, "hello" + SUBMIT + "/exit" + SUBMIT)
    assert status == 0
    assert chat_messages(chat) == [("user", "hello"), ("assistant", "Hello **there**.")]
    assert "Hello **there**." in chat.terminal.stdout.getvalue()
    assert chat._prompt_text() == "fc1 *> "
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][0]["json"]
    assert sent["model"] == "fake-chat-1" and sent["stream"] is True
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


def test_a_colour_terminal_renders_markdown(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, stdout=TtyBuffer())
        chat.terminal.environ = {"TERM": "xterm-256color"}
        run_keys(chat, pipe, "hello" + SUBMIT + "/exit" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert "there" in out and "**there**" not in out and "\x1b[" in out


def sent_prompts(tmp_path, server, keys: str, extra: str = "") -> list:
    """The prompts an echo chat took from `keys` (then Ctrl-D)."""
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True, extra=extra)
        run_keys(chat, pipe, keys + "\x04")
    assert server.requests == []  # echo mode never calls the API
    return [content for role, content in chat_messages(chat) if role == "user"]


def test_enter_sends_and_alt_enter_esc_enter_and_ctrl_j_add_lines(tmp_path, server) -> None:
    keys = "one\x1b\rtwo\x1b\x0dthree\nfour\r" + "next\r"
    assert sent_prompts(tmp_path, server, keys) == ["one\ntwo\nthree\nfour", "next"]


def test_pasted_text_keeps_its_newlines_and_is_not_sent_by_them(tmp_path, server) -> None:
    keys = "\x1b[200~first line\r\nsecond line\nthird\x1b[201~" + " and more\r"
    assert sent_prompts(tmp_path, server, keys) == ["first line\nsecond line\nthird and more"]


def test_a_triple_quote_line_opens_and_closes_a_block(tmp_path, server) -> None:
    keys = '"""\r' + "line one\r\rline three\r" + '"""\r' + "after\r"
    assert sent_prompts(tmp_path, server, keys) == ["line one\n\nline three", "after"]


def test_enter_sends_false_keeps_enter_as_a_newline(tmp_path, server) -> None:
    keys = "line one\rline two" + CTRL_O + "again\rmore\x1b\r"
    assert sent_prompts(tmp_path, server, keys, extra="enter_sends = false") == [
        "line one\nline two", "again\nmore"]


def test_the_first_screen_shows_the_keys_and_the_star(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "\x04")
    first = chat.terminal.stdout.getvalue().splitlines()
    assert first[0] == "Enter sends · Alt-Enter or Ctrl-J: new line · /help: commands · Ctrl-D or /exit: leave"
    assert "A * in the prompt (model *>)" in first[1]


def test_ctrl_c_clears_the_line_and_ctrl_d_exits(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        assert run_keys(chat, pipe, "typed then dropped\x03" + "kept" + SUBMIT + "\x04") == 0
    assert chat_messages(chat) == [("user", "kept"), ("assistant", "kept")]


def test_an_api_error_prints_error_and_the_chat_goes_on(tmp_path, server) -> None:
    server.add_fault("/chat/completions", {"status": 500, "body": "boom"})
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, extra="max_retries = 0")
        run_keys(chat, pipe, "first" + SUBMIT + "second" + SUBMIT + "/exit" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert "ERROR: " in out and "500" in out
    assert chat_messages(chat) == [("user", "second"), ("assistant", "Hello **there**.")]


def test_a_broken_stream_keeps_the_partial_reply_marked(tmp_path, server) -> None:
    server.set(reply="0123456789abcdefghij")
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 8})
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "tell" + SUBMIT + "more" + SUBMIT + "/exit" + SUBMIT)
    assert "ERROR: " in chat.terminal.stdout.getvalue()
    assert chat_messages(chat)[:2] == [("user", "tell"), ("assistant", f"01234567\n\n{INCOMPLETE_MARKER}")]
    sent = server.requests[-1]["json"]["messages"]
    assert [m["content"] for m in sent[1:]] == ["tell", "01234567", "more"]  # the marker is not the model's


def test_ctrl_c_during_a_reply_keeps_the_partial_reply_marked_and_saves_it(tmp_path, server) -> None:
    server.set(reply="".join(f"part {i} " for i in range(400)), chunk_size=8, stream_delay=0.01)
    stdout = InterruptingBuffer("part 3 ")
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, stdout=stdout)
        run_keys(chat, pipe, "long" + SUBMIT + "/exit" + SUBMIT)
    out = stdout.getvalue()
    assert stdout.fired and "Keyboard interrupt." in out and "part 399" not in out
    (role, question), (_, partial) = chat_messages(chat)
    assert (role, question) == ("user", "long")
    assert partial.startswith("part 0 part 1 part 2 part 3") and partial.endswith(f"\n\n{INCOMPLETE_MARKER}")
    _, saved = ChatStore(tmp_path / "data").load(chat.session.chat_id)
    assert saved[-1] == {"role": "assistant", "content": partial, "model": "fake/fake-chat-1"}


def interrupt_once_asked(server: FakeOpenAIServer) -> None:
    """Ctrl-C (SIGINT to this process) as soon as the server has received a chat request."""
    deadline = time.monotonic() + 60
    while not any(r["path"].endswith("/chat/completions") for r in server.request_log()):
        assert time.monotonic() < deadline, "no chat request reached the server"
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_before_any_text_drops_the_turn(tmp_path, server) -> None:
    server.set(latency=2.0)
    stdout = io.StringIO()  # the interrupt comes once the server has the request, while the reply is awaited
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, stdout=stdout)
        waiter = threading.Thread(target=interrupt_once_asked, args=(server,), daemon=True)
        waiter.start()
        run_keys(chat, pipe, "slow" + SUBMIT + "/exit" + SUBMIT)
        waiter.join()
    assert "Keyboard interrupt." in stdout.getvalue()
    assert chat_messages(chat) == [] and not (tmp_path / "data" / "chats").exists()


def test_a_missing_key_is_reported_with_the_variable(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, api_key="")
        chat.config.config.providers["fake"].base_api_url = "https://fake.example/v1"  # not local: needs a key
        run_keys(chat, pipe, "hi" + SUBMIT + "/exit" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert out.count("ERROR: No API key for provider fake: set FAKE_API_KEY") == 2
    assert chat_messages(chat) == [] and server.requests == []


def test_a_local_server_chats_without_a_key_and_gets_no_authorization_header(tmp_path, server) -> None:
    server.set(api_key=None)
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, api_key="")
        run_keys(chat, pipe, "hi" + SUBMIT + "/exit" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert "No API key" not in out and "Hello" in out and "ERROR" not in out
    chats = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert chats and all("Authorization" not in r["headers"] for r in chats)


def test_an_invalid_model_at_start_is_a_config_error(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        chat.model = "nope-model"
        with pytest.raises(InvalidModelError, match="Invalid model: nope-model"):
            chat.run()


def test_history_file_is_private_and_trimmed(tmp_path, server) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    history = data_dir / "chat_history.txt"
    history.write_text("".join(f"\n# 2026-01-01 00:00:{i:02d}\n+entry {i}\n" for i in range(150)))
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "newest" + SUBMIT + "\x04")
    text = history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert text.count("\n# ") == HISTORY_ENTRIES_KEPT
    assert "+entry 50\n" not in text and "+entry 149\n" in text and "+newest\n" in text


def test_up_walks_the_input_history(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "from history" + SUBMIT + "\x04")
    with create_pipe_input() as pipe:
        again = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(again, pipe, "\x1b[A" + SUBMIT + "\x04")
    assert chat_messages(again)[0] == ("user", "from history")


def test_shift_up_recalls_a_message_and_sending_it_restarts_the_chat_there(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        keys = ("first" + SUBMIT + "second" + SUBMIT + SHIFT_UP + SHIFT_UP + SHIFT_UP + SHIFT_DOWN
                + SHIFT_UP + " again" + SUBMIT + "\x04")
        run_keys(chat, pipe, keys)
    assert chat_messages(chat) == [("user", "first again"), ("assistant", "first again")]
    replaced = chat.session.messages[1]["alternatives"]  # what the recalled message replaced is kept
    assert [[m["content"] for m in tail] for tail in replaced] == [["first", "first", "second", "second"]]


def test_a_recalled_message_cleared_and_retyped_does_not_truncate(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        keys = "first" + SUBMIT + SHIFT_UP + "\x15" + "fresh" + SUBMIT + "\x04"  # Ctrl-U empties the line
        run_keys(chat, pipe, keys)
    assert [text for role, text in chat_messages(chat) if role == "user"] == ["first", "fresh"]


def test_ctrl_shift_up_recalls_a_reply_and_shift_alt_n_resets(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "q" + SUBMIT + CTRL_SHIFT_UP + " quoted" + SUBMIT + "/exit" + SUBMIT)
    assert chat_messages(chat)[2] == ("user", "Hello **there**. quoted")
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "q" + SUBMIT + SHIFT_ALT_N + "\x04")
    assert chat_messages(chat) == []
    assert "Chat history reset." in chat.terminal.stdout.getvalue()


def test_ctrl_b_copies_the_input_and_ctrl_l_the_last_reply(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "\x0c" + "reply me" + SUBMIT + "draft\x02\x0c\x03\x04")
    out = chat.terminal.stdout.getvalue()
    assert "Nothing to copy: no last reply." in out
    assert "Copied the input to the clipboard (OSC 52)." in out
    assert "Copied the last reply to the clipboard (OSC 52)." in out
    assert "\x1b]52;c;ZHJhZnQ=\x07" in out and "\x1b]52;c;cmVwbHkgbWU=\x07" in out  # draft, reply me


def test_clear_prints_the_welcome(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, clear=True, echo=True)
        run_keys(chat, pipe, "\x04")
    assert "Welcome to LLM Chat" in chat.terminal.stdout.getvalue()


def test_history_file_flag_loads_and_shows_the_chat(tmp_path, server) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "old.json").write_text('[{"role": "system", "content": "s"}, '
                                        '{"role": "user", "content": "earlier question"}, '
                                        '{"role": "assistant", "content": "earlier answer"}]')
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True, history_file="old")
        run_keys(chat, pipe, "\x04")
    out = chat.terminal.stdout.getvalue()
    assert f"Chat history loaded from {data_dir / 'old.json'}." in out
    assert "earlier question" in out and "earlier answer" in out
    assert chat._prompt_text() == "fc1 *> "


def test_a_missing_history_file_warns_and_starts_empty(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True, history_file="absent")
        assert run_keys(chat, pipe, "\x04") == 0
    assert "Warning: chat file" in chat.terminal.stderr.getvalue()
    assert chat_messages(chat) == []


def test_commands_run_from_the_prompt_and_models_is_not_mod(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "/models" + SUBMIT + "/mod fc2" + SUBMIT + "hi" + SUBMIT + "/q" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert "fake/fake-chat-1 (fc1)" in out and "Model set to fake/fake-chat-2." in out
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]
    assert sent["model"] == "fake-chat-2"
    assert chat._prompt_text() == "fc2 *> "


def test_non_streaming_config_prints_the_whole_reply(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, extra="stream = false")
        run_keys(chat, pipe, "hi" + SUBMIT + "/exit" + SUBMIT)
    assert "Hello **there**." in chat.terminal.stdout.getvalue()
    sent = [r for r in server.requests if r["path"].endswith("/chat/completions")][0]["json"]
    assert sent["stream"] is False


def test_questions_are_answered_at_their_own_prompt(tmp_path, server) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "taken.json").write_text("[]")
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "hi" + SUBMIT + "/save taken" + SUBMIT + "y\r" + "/sp" + SUBMIT
                 + " Be brief." + SUBMIT + "\x04")
    out = chat.terminal.stdout.getvalue()
    assert f"Chat history saved to {data_dir / 'taken.json'}." in out
    assert '"content": "hi"' in (data_dir / "taken.json").read_text()
    # The editor starts with the current prompt, so typing appends to it.
    assert "System prompt updated." in out
    assert chat.session.system_prompt == chat.config.config.system_prompt + " Be brief."


def test_a_bug_inside_one_reply_drops_that_turn_and_the_chat_goes_on(tmp_path, server, monkeypatch) -> None:
    from llmc.OpenAIChatCompletionApi import OpenAIChatCompletionApi
    real_stream, calls = OpenAIChatCompletionApi.stream_chat, []

    def stream_chat(api, messages, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return real_stream(api, messages, *args, **kwargs)
    monkeypatch.setattr(OpenAIChatCompletionApi, "stream_chat", stream_chat)
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        status = run_keys(chat, pipe, "first" + SUBMIT + "second" + SUBMIT + "third" + SUBMIT + "/exit" + SUBMIT)
    assert status == 0
    assert "ERROR: internal error (UnicodeEncodeError: " in chat.terminal.stdout.getvalue()
    assert chat_messages(chat) == [("user", "first"), ("assistant", "Hello **there**."),
                                   ("user", "third"), ("assistant", "Hello **there**.")]


def test_a_bug_inside_a_command_never_ends_the_chat(tmp_path, server, monkeypatch) -> None:
    from llmc.chat.CommandHandler import CommandHandler
    monkeypatch.setattr(CommandHandler, "_print", lambda handler, rest: 1 / 0)
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        status = run_keys(chat, pipe, "first" + SUBMIT + "/print" + SUBMIT + "/exit" + SUBMIT)
    assert status == 0
    assert "ERROR: internal error (ZeroDivisionError: division by zero)" in chat.terminal.stdout.getvalue()
    assert chat_messages(chat) == [("user", "first"), ("assistant", "Hello **there**.")]


def saved_chats(tmp_path: Path) -> list:
    store = ChatStore(tmp_path / "data")
    return [[(m["role"], m["content"], m.get("model")) for m in store.load(c.chat_id)[1][1:]]
            for c in store.summaries()[0]]


def test_the_chat_is_saved_after_each_exchange_with_the_answering_model(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "one" + SUBMIT + "/mod fc2" + SUBMIT + "two" + SUBMIT + "/exit" + SUBMIT)
    assert saved_chats(tmp_path) == [[("user", "one", None), ("assistant", "Hello **there**.", "fake/fake-chat-1"),
                                      ("user", "two", None), ("assistant", "Hello **there**.", "fake/fake-chat-2")]]
    path = ChatStore(tmp_path / "data").path_of(chat.session.chat_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_exchange_and_an_empty_chat_save_nothing(tmp_path, server) -> None:
    server.add_fault("/chat/completions", {"status": 500})
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "fails" + SUBMIT + "/sp new prompt" + SUBMIT + "/exit" + SUBMIT)
    assert "ERROR: " in chat.terminal.stdout.getvalue()
    assert not (tmp_path / "data" / "chats").exists()


def test_no_save_leaves_no_chat_file_and_no_input_history(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, save=False)
        run_keys(chat, pipe, "private" + SUBMIT + "/exit" + SUBMIT)
    assert [r["json"]["messages"][-1]["content"] for r in server.requests] == ["private"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["config.toml"]


def test_no_save_still_recalls_the_earlier_input_history(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        run_keys(make_chat(tmp_path, server, pipe), pipe, "kept" + SUBMIT + "/exit" + SUBMIT)
    history = (tmp_path / "data" / "chat_history.txt").read_text()
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, save=False)
        run_keys(chat, pipe, "\x1b[A" * 2 + SUBMIT + "secret" + SUBMIT + "/exit" + SUBMIT)
    assert [r["json"]["messages"][-1]["content"] for r in server.requests] == ["kept", "kept", "secret"]
    assert (tmp_path / "data" / "chat_history.txt").read_text() == history


def test_autosave_off_keeps_the_prompts_out_of_the_history_file(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "before" + SUBMIT + "/autosave off" + SUBMIT + "hidden" + SUBMIT
                 + "/autosave on" + SUBMIT + "after" + SUBMIT + "/exit" + SUBMIT)
    history = (tmp_path / "data" / "chat_history.txt").read_text()
    assert "+before" in history and "+after" in history and "hidden" not in history
    assert [m for _, m, _ in saved_chats(tmp_path)[0] if m != "Hello **there**."] == ["before", "hidden", "after"]


def test_echo_mode_saves_no_chat(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "echoed" + SUBMIT + "/exit" + SUBMIT)
    assert "echoed" in chat.terminal.stdout.getvalue() and not (tmp_path / "data" / "chats").exists()


def test_a_resumed_chat_is_shown_and_goes_on_saving_into_the_same_file(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        first = make_chat(tmp_path, server, pipe)
        run_keys(first, pipe, "earlier" + SUBMIT + "/exit" + SUBMIT)
    store = ChatStore(tmp_path / "data")
    chat_id = store.latest()
    resumed = ChatSession("unused", tmp_path / "data")
    resumed.resume(chat_id, store.load(chat_id)[1])
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, resumed=resumed, store=store)
        run_keys(chat, pipe, "later" + SUBMIT + "/exit" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert out.startswith(f"Continuing the saved chat {chat_id}.\nUser:\nearlier\n")
    assert [m["content"] for m in server.requests[-1]["json"]["messages"][1:]] == [
        "earlier", "Hello **there**.", "later"]
    assert [len(c) for c in saved_chats(tmp_path)] == [4] and store.latest() == chat_id


def test_a_save_that_fails_is_a_warning_and_the_chat_goes_on(tmp_path, server) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "chats").write_text("in the way")
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "one" + SUBMIT + "two" + SUBMIT + "/exit" + SUBMIT)
    warning = f"Warning: chats directory {tmp_path / 'data' / 'chats'} is not a directory\n"
    assert chat.terminal.stderr.getvalue().count(warning) == 2
    assert chat_messages(chat)[2] == ("user", "two")


def test_temperature_goes_with_the_next_request_on_the_same_api(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "one" + SUBMIT + "/temperature 0.4" + SUBMIT + "/max-tokens 99" + SUBMIT
                 + "two" + SUBMIT + "/exit" + SUBMIT)
        api = chat.api()
    sent = [r["json"] for r in server.requests if r["path"].endswith("/chat/completions")]
    assert [(body["temperature"], body.get("max_tokens")) for body in sent] == [(0.0, None), (0.4, 99)]
    assert chat.providers.chat_api(chat.resolved_model()) is api  # one API per model for the run


def test_a_tool_round_is_shown_kept_and_exported_by_md(tmp_path, server) -> None:
    from llmc.base.OutputChannel import OutputChannel
    from llmc.tools.McpConfig import load_mcp_servers
    from llmc.tools.ToolBox import ToolBox
    from tests.mcp_servers import stdio_server, write_mcp_file
    (tmp_path / "data").mkdir(exist_ok=True)
    write_mcp_file(tmp_path / "data", {"local": stdio_server()})
    toolbox = ToolBox(load_mcp_servers(tmp_path / "data", lambda line: None), ["local"], OutputChannel(), 60)
    server.set(tool_rounds=[[{"name": "local_echo", "arguments": '{"text": "kept"}', "id": "call_k"}]])
    stdout = io.StringIO()
    try:
        with create_pipe_input() as pipe:
            chat = make_chat(tmp_path, server, pipe, stdout=stdout, toolbox=toolbox, approve_tools=True)
            run_keys(chat, pipe, "echo it" + SUBMIT + "/md" + SUBMIT + "/exit" + SUBMIT)
    finally:
        toolbox.close()
    assert '⚙ local.echo {"text": "kept"}' in stdout.getvalue() and "  → echo: kept" in stdout.getvalue()
    assert [role for role, _ in chat_messages(chat)] == ["user", "assistant", "tool", "assistant"]
    [exported] = list((tmp_path / "data").glob("*.md"))
    text = exported.read_text()
    assert 'Tool call `local_echo`:\n\n```json\n{"text": "kept"}\n```' in text
    assert "## Tool result\n\n`local.echo` gave:\n\n```\necho: kept\n```" in text


def test_a_provider_that_reports_no_usage_is_said_so_once_per_chat(tmp_path, server) -> None:
    server.set(refuse_fields=["stream_options"])
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        run_keys(chat, pipe, "one" + SUBMIT + "two" + SUBMIT + "/exit" + SUBMIT)
    out = chat.terminal.stdout.getvalue()
    assert out.count("Hello **there**.") == 2 and out.count("Usage: not reported by fake") == 1


def test_edit_puts_the_last_prompt_back_and_sending_it_replaces_the_turn_keeping_it(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        keys = ("first" + SUBMIT + "second" + SUBMIT + "/edit" + SUBMIT + " again" + SUBMIT
                + "/edit" + SUBMIT + "\x03" + "third" + SUBMIT  # Ctrl-C: no edit, a new turn
                + "/edit fourth" + SUBMIT + "\x04")
        run_keys(chat, pipe, keys)
    assert chat_messages(chat) == [("user", "first"), ("assistant", "first"), ("user", "second again"),
                                   ("assistant", "second again"), ("user", "fourth"), ("assistant", "fourth")]
    edited, sent_at_once = chat.session.messages[3], chat.session.messages[5]
    assert [[m["content"] for m in tail] for tail in edited["alternatives"]] == [["second", "second"]]
    assert [[m["content"] for m in tail] for tail in sent_at_once["alternatives"]] == [["third", "third"]]
    assert "Change the prompt and send it: it replaces the last turn" in chat.terminal.stdout.getvalue()


def test_an_edited_prompt_goes_with_its_image_again(tmp_path, server) -> None:
    (tmp_path / "dot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24)
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        keys = f"/attach {tmp_path / 'dot.png'}" + SUBMIT + "what is it" + SUBMIT + "/edit" + SUBMIT + "?" + SUBMIT
        run_keys(chat, pipe, keys + "\x04")
    sent = [r["json"]["messages"] for r in server.request_log() if r["path"].endswith("/chat/completions")]
    assert len(sent) == 2 and sent[1][1]["content"][0] == {"type": "text", "text": "what is it?"}
    assert sent[1][1]["content"][1:] == sent[0][1]["content"][1:] and sent[1][1]["content"][2]["type"] == "image_url"
    assert "Its attached files go with it again." in chat.terminal.stdout.getvalue()


def test_files_attached_around_an_edit_go_with_the_edited_prompt(tmp_path, server) -> None:
    (tmp_path / "notes.txt").write_text("the notes\n")
    (tmp_path / "more.txt").write_text("more notes\n")
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        keys = ("what is it" + SUBMIT + f"/attach {tmp_path / 'notes.txt'}" + SUBMIT + "/edit" + SUBMIT + "?" + SUBMIT
                + f"/attach {tmp_path / 'more.txt'}" + SUBMIT + "/edit and now" + SUBMIT)
        run_keys(chat, pipe, keys + "\x04")
    sent = [r["json"]["messages"][-1]["content"] for r in server.request_log() if r["path"].endswith("/chat/completions")]
    assert sent[0] == "what is it"
    assert sent[1].startswith("what is it?\n\nFile notes.txt:") and "the notes" in sent[1]
    assert sent[2].startswith("and now\n\nFile notes.txt:") and sent[2].index("the notes") < sent[2].index("more notes")
    assert chat.attachments == []
    assert "The files attached since go with it too." in chat.terminal.stdout.getvalue()


def test_edit_with_no_prompt_yet_is_refused(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "/edit" + SUBMIT + "\x04")
    assert "ERROR: no prompt to edit yet: send one first" in chat.terminal.stdout.getvalue()
    assert chat_messages(chat) == []


def test_an_edit_gives_way_to_a_message_recalled_after_it_or_a_reset(tmp_path, server) -> None:
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        keys = "first" + SUBMIT + "second" + SUBMIT + "/edit" + SUBMIT + SHIFT_UP + SHIFT_UP + " again" + SUBMIT
        run_keys(chat, pipe, keys + "\x04")
    assert chat_messages(chat) == [("user", "first again"), ("assistant", "first again")]
    assert [[m["content"] for m in tail] for tail in chat.session.messages[1]["alternatives"]] == [
        ["first", "first", "second", "second"]]
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe, echo=True)
        run_keys(chat, pipe, "first" + SUBMIT + "/edit" + SUBMIT + SHIFT_ALT_N + "fresh" + SUBMIT + "\x04")
    assert chat_messages(chat) == [("user", "fresh"), ("assistant", "fresh")]
    assert "alternatives" not in chat.session.messages[1]


def test_a_recalled_prompt_goes_with_its_image_again(tmp_path, server) -> None:
    (tmp_path / "dot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24)
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        keys = f"/attach {tmp_path / 'dot.png'}" + SUBMIT + "what is it" + SUBMIT + SHIFT_UP + "?" + SUBMIT
        run_keys(chat, pipe, keys + "\x04")
    sent = [r["json"]["messages"] for r in server.request_log() if r["path"].endswith("/chat/completions")]
    # the line held what was typed, not "[image]" or the file's text; the image went again
    assert len(sent) == 2 and sent[1][1]["content"][0] == {"type": "text", "text": "what is it?"}
    assert sent[1][1]["content"][1:] == sent[0][1]["content"][1:] and sent[1][1]["content"][2]["type"] == "image_url"
    assert len(chat.session.messages[1]["alternatives"]) == 1  # the turn it replaced is kept
