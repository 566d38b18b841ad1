"""CommandHandler: every slash command, its messages, and Tab completion, on a real chat and fake server."""
from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path
from typing import List

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input

from llmc.store.ChatStore import ChatStore
from llmc.chat.CommandHelp import synopsis
from llmc.chat.CommandHandler import COMMANDS, UNKNOWN_COMMAND, find_command, mask_key, mask_url
from llmc.render.ProgressDisplay import ProgressDisplay
from llmc.Types import PROVIDER_DATA
from tests.fake_openai_server import FakeOpenAIServer
from tests.chat_support import make_chat


@pytest.fixture
def server():
    with FakeOpenAIServer(chat_models=["fake-chat-1", "fake-chat-2", "fake-chat-3"],
                          reply="Answer.") as srv:
        yield srv


@pytest.fixture
def chat(tmp_path: Path, server: FakeOpenAIServer):
    with create_pipe_input() as pipe:
        chat = make_chat(tmp_path, server, pipe)
        chat.answers: List[str] = []
        chat.ask = lambda question, default="", multiline=False: (
            chat.answers.pop(0) if chat.answers else None)
        chat.ask_key = lambda question: chat.answers.pop(0) if chat.answers else None
        yield chat


def run(chat, line: str) -> str:
    """Run one command line and return what it printed."""
    out = chat.terminal.stdout
    start = len(out.getvalue())
    assert chat.commands.handle(line) is True
    return out.getvalue()[start:]


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def completions(chat, text: str) -> List[str]:
    return [c.text for c in chat.commands.get_completions(Document(text), CompleteEvent())]


def converse(chat) -> None:
    chat.session.add_user("question")
    chat.session.add_assistant("Answer.")


def test_names_are_matched_exactly() -> None:
    assert find_command("models").name == "models"
    assert find_command("mod").name == "mod"
    assert find_command("mode") is None and find_command("model") is None
    assert find_command("q").name == "exit" and find_command("con").name == "config"
    names = [n for c in COMMANDS for n in (c.name, *c.aliases)]
    assert len(names) == len(set(names))


def test_help_lists_every_command_with_its_aliases(chat) -> None:
    out = run(chat, "/h")
    for command in COMMANDS:
        line = next(line for line in out.splitlines() if line.split()[:1] in (["/" + command.name],
                                                                                 ["/" + command.name + ","]))
        assert command.help in line
        for alias in command.aliases:
            assert "/" + alias in line


def test_help_puts_each_command_on_one_line_at_80_columns_in_groups(chat) -> None:
    lines = run(chat, "/help").splitlines()
    assert max(len(line) for line in lines) <= 80
    for command in COMMANDS:  # its synopsis and its whole help on one line
        assert [line for line in lines if line.strip().startswith(synopsis(command) + "  ")
                and line.endswith(command.help)] != []
    assert {"The chat", "Saved chats", "Models and settings", "Providers", "Keys"} <= set(lines)
    assert any("A * in the prompt (model *>)" in line for line in lines)


def test_help_wraps_at_word_boundaries_on_a_narrow_terminal(chat) -> None:
    chat.terminal.size = lambda: os.terminal_size((50, 24))
    out = run(chat, "/help")
    words = " ".join(run(chat, "/help").split())
    assert max(len(line) for line in out.splitlines()) <= 50
    for command in COMMANDS:  # no word was cut: each help text reads whole once the lines are joined
        assert command.help in words


def test_help_cmd_tells_the_details(chat) -> None:
    assert run(chat, "/help load") == ("/load, /l [FILE|N]\n  Load a chat file, or chat N of /chats.\n"
                                       "  Shows the chat and goes on from it. With N, the chat goes on saving into that\n"
                                       "  saved chat, with the model of its last reply.\n")
    assert run(chat, "/h /discover-models").count("--force-refresh") == 2
    assert run(chat, "/help nonesuch") == "ERROR: no command /nonesuch: /help lists them\n"
    assert completions(chat, "/help disc") == ["discover-models"]


def test_help_pages_on_a_short_terminal(chat) -> None:
    chat.terminal.size = lambda: os.terminal_size((80, 24))
    whole = run(chat, "/help").splitlines()
    chat.terminal.stdout = TtyBuffer()
    chat.answers = ["q"]
    assert run(chat, "/help").splitlines() == whole[:23] and chat.answers == []  # a screenful, then q
    chat.answers = [""] * 5
    assert run(chat, "/help").splitlines() == whole and len(chat.answers) == 5 - (len(whole) - 1) // 23


def test_unknown_command_and_exit(chat) -> None:
    assert run(chat, "/frobnicate") == UNKNOWN_COMMAND + "\n"
    assert run(chat, "/modx fc2") == UNKNOWN_COMMAND + "\n"
    for line in ("/exit", "/e", "/q"):
        assert chat.commands.handle(line) is False


def test_reset_and_print(chat) -> None:
    converse(chat)
    out = run(chat, "/p")
    assert "question" in out and "Answer." in out
    assert run(chat, "/r") == "Chat history reset.\n"
    assert chat.session.turns() == []
    assert run(chat, "/print") == "The chat is empty.\n"


def test_a_bugs_value_error_is_not_passed_off_as_a_users_mistake(chat, monkeypatch) -> None:
    def broken(*args) -> None:
        raise ValueError("a bug")
    monkeypatch.setattr(chat.session, "reset", broken)
    with pytest.raises(ValueError, match="a bug"):
        chat.commands.handle("/reset")
    assert "ERROR: Invalid model: nope." in run(chat, "/mod nope")  # an invalid model is the user's


def test_save_and_load_round_trip(chat, tmp_path: Path) -> None:
    converse(chat)
    path = tmp_path / "data" / "mine.json"
    assert run(chat, "/save mine") == f"Chat history saved to {path}.\n"
    assert json.loads(path.read_text())[1] == {"role": "user", "content": "question"}
    run(chat, "/reset")
    out = run(chat, "/l mine")
    assert out.startswith(f"Chat history loaded from {path}.\n") and "question" in out
    assert chat.session.turns() == [("user", "question"), ("assistant", "Answer.")]


def test_save_asks_before_overwriting_a_different_file(chat, tmp_path: Path) -> None:
    converse(chat)
    other = tmp_path / "data" / "other.json"
    other.write_text("keep me")
    chat.answers = ["n"]
    assert run(chat, "/s other") == "Not saved.\n"
    assert other.read_text() == "keep me"
    chat.answers = ["y"]
    assert run(chat, "/s other") == f"Chat history saved to {other}.\n"
    assert json.loads(other.read_text())[1]["content"] == "question"
    assert run(chat, "/s other") == f"Chat history saved to {other}.\n"  # its own file: no question
    assert chat.answers == []


def test_loading_a_bad_file_keeps_the_chat(chat, tmp_path: Path) -> None:
    converse(chat)
    bad = tmp_path / "data" / "bad.json"
    bad.write_text("{oops")
    out = run(chat, "/load bad")
    assert out.startswith(f"ERROR: {bad}: not a chat file") and out.count("\n") == 1
    assert chat.session.turns() == [("user", "question"), ("assistant", "Answer.")]


def test_clear_history_empties_the_file(chat, tmp_path: Path) -> None:
    chat.prompt_session = chat._make_prompt_session()
    history = tmp_path / "data" / "chat_history.txt"
    history.write_text("\n# t\n+old entry\n")
    assert run(chat, "/ch") == "Chat file history cleared.\n"
    assert history.read_text() == ""
    assert list(chat.prompt_session.history.load_history_strings()) == []


def test_system_prompt_from_argument_or_editor(chat) -> None:
    assert run(chat, "/sp Be terse.") == "System prompt updated.\n"
    assert chat.session.messages[0] == {"role": "system", "content": "Be terse."}
    chat.answers = ["Edited\nprompt"]
    assert run(chat, "/sp") == "System prompt updated.\n"
    assert chat.session.system_prompt == "Edited\nprompt"
    assert run(chat, "/sp") == "System prompt unchanged.\n"


def test_copy_and_its_alias_cb_copy_the_chosen_code_block(chat) -> None:
    assert run(chat, "/copy") == "No reply yet: nothing to copy.\n"
    chat.session.add_user("code please")
    chat.session.add_assistant("plain")
    assert run(chat, "/cb") == "The last reply has no code blocks.\n"
    chat.session.add_assistant("```python\nprint(1)\n```\n\n```sh\necho two\n```")
    chat.answers = ["2"]
    out = run(chat, "/copy")
    assert "1. [python, 1 line] print(1)" in out and "2. [sh, 1 line] echo two" in out
    assert "\x1b]52;c;ZWNobyB0d28=\x07" in out  # "echo two" via OSC 52
    assert out.endswith("Code block 2 copied to the clipboard (OSC 52).\n")
    assert run(chat, "/cb 7") == "No code block 7: choose 1 to 2.\n"
    assert run(chat, "/copy 1").endswith("Code block 1 copied to the clipboard (OSC 52).\n")


def test_md_exports_with_the_models_title(chat, server, tmp_path: Path) -> None:
    assert run(chat, "/md") == "Nothing to export: the chat is empty.\n"
    converse(chat)
    server.set(reply='{"title": "A Question", "filename": "a-question"}')
    path = tmp_path / "data" / "a-question.md"
    assert run(chat, "/md") == f"Chat exported to {path}.\n"
    text = path.read_text()
    assert text.startswith("# A Question\n(fake/fake-chat-1)\n\nDate: ")
    assert "## User\n\nquestion\n\n## Assistant\n\nAnswer.\n" in text


def test_md_falls_back_to_a_timestamped_name(chat, server, tmp_path: Path) -> None:
    converse(chat)
    server.set(fault_rate={"/chat/completions": {"status": 400, "body": "no"}})
    out = run(chat, "/md")
    assert out.startswith(f"Chat exported to {tmp_path / 'data' / 'chat-'}") and out.endswith(".md.\n")


def test_md_asks_for_a_title_capped_like_a_ping_and_bounded_in_time(chat, server, tmp_path: Path) -> None:
    """A small model generated 1,843 tokens for 53 s while /md waited: the request is capped and bounded."""
    from llmc.store.ChatSession import TITLE_TOKEN_BUDGET
    converse(chat)
    server.set(reply='{"title": "A Question", "filename": "a-question"}')
    run(chat, "/md")
    body = [r["json"] for r in server.requests if r["path"].endswith("/chat/completions")][-1]
    assert body.get("max_tokens", body.get("max_completion_tokens")) == TITLE_TOKEN_BUDGET
    with create_pipe_input() as pipe:
        slow = make_chat(tmp_path / "slow", server, pipe, extra="ping_timeout = 1")  # a title waits as a ping
        converse(slow)
        server.set(latency=5.0)
        started = time.monotonic()
        out = run(slow, "/md")
    assert time.monotonic() - started < 4
    assert out.startswith(f"Chat exported to {tmp_path / 'slow' / 'data' / 'chat-'}")


@pytest.mark.parametrize("answer", ['{"title": "A short title", "filename": "a-short-file-name"}',
                                    '{"title": "A short title", "filename": "a-short-file-name.md"}',
                                    "Sure! Here is a title for you.", '{"title": "", "filename": "---"}'])
def test_md_falls_back_to_the_timestamp_when_the_model_echoes_the_example(chat, server, tmp_path: Path,
                                                                          answer: str) -> None:
    converse(chat)
    server.set(reply=answer)
    out = run(chat, "/md")
    assert out.startswith(f"Chat exported to {tmp_path / 'data' / 'chat-'}"), out
    path = Path(out.removeprefix("Chat exported to ").strip().removesuffix("."))
    assert path.read_text().startswith("# Chat of ")


def test_config_masks_the_key(chat, server, tmp_path: Path) -> None:
    out = run(chat, "/con")
    assert "0.1.0" in out and "********-key" in out and "test-key" not in out
    assert "fake/fake-chat-1 (fc1)" in out and server.base_url in out
    assert "Sassy:          no" in out and "Stream:         yes" in out
    assert str(tmp_path / "data") in out and chat.session.system_prompt in out
    assert mask_key("sk-abcdefgh1234") == "********1234" and mask_key("k") == mask_key("1234567") == "********"
    assert mask_url("http://u:pass123@host:8/v1?key=secret") == "http://u:********@host:8/v1?********"
    assert mask_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
    chat.config.config.providers["fake"].api_key = "not-configured"
    assert "API key:        none needed (a server on this machine)" in run(chat, "/con")
    chat.config.config.providers["fake"].base_api_url = "https://fake.example/v1"
    assert "not set (set FAKE_API_KEY)" in run(chat, "/con")


def test_mod_dm_and_invalid_models(chat) -> None:
    assert run(chat, "/mod fc2") == "Model set to fake/fake-chat-2.\n"
    assert chat.brief_model() == "fc2"
    out = run(chat, "/mod nonsense")
    assert out.startswith("ERROR: Invalid model: nonsense.") and chat.model == "fake/fake-chat-2"
    out = run(chat, "/mod openai/4o")
    assert "OPENAI_API_KEY" in out and out.startswith("ERROR: ") and chat.model == "fake/fake-chat-2"
    assert run(chat, "/dm") == "Model set to fake/fake-chat-1.\n"
    assert run(chat, "/mod").startswith("Current model: fake/fake-chat-1.")


def test_list_and_models_need_no_network(chat, server) -> None:
    out = run(chat, "/models fake")
    assert out == "fake/fake-chat-1 (fc1)\nfake/fake-chat-2 (fc2)\n"
    assert run(chat, "/list FAKE") == out
    assert "openai/gpt-4o-2024-08-06 (4o)" in run(chat, "/list")
    assert run(chat, "/list nope").startswith("ERROR: Provider 'nope' not found. Known providers: ")
    assert server.requests == []


def test_discover_models_persists_and_new_models_are_usable(chat, server, tmp_path: Path) -> None:
    out = run(chat, "/discover-models fake")
    assert "fake: 4 models found, 3 valid, 1 invalid" in out
    yaml_text = (tmp_path / "data" / "openaicompat-providers.yaml").read_text()
    assert "fake-chat-3" in yaml_text and "fake-embed-1" in yaml_text
    assert "fake/fake-chat-3" in completions(chat, "/mod fake/fake-chat-")
    assert run(chat, "/mod fake-chat-3") == "Model set to fake/fake-chat-3.\n"
    assert run(chat, "/discover-models a b").startswith("ERROR: usage: /discover-models")
    assert run(chat, "/discover-models --bogus").startswith("ERROR: usage: /discover-models")


def test_ctrl_c_cancels_discovery_and_saves_nothing(chat, server, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server.set(latency=0.3)
    original = ProgressDisplay.__call__

    def interrupt_on_start(self, provider, done, total):
        original(self, provider, done, total)
        if done == 0:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C while the pings are in flight
    monkeypatch.setattr(ProgressDisplay, "__call__", interrupt_on_start)
    run(chat, "/discover-models fake --force-refresh")
    assert chat.terminal.stderr.getvalue().endswith("Discovery cancelled; nothing was saved.\n")
    assert not (tmp_path / "data" / "openaicompat-providers.yaml").exists()
    assert "fake-chat-3" not in chat.config.config.providers["fake"].valid_models


def test_completion_of_commands_models_providers_and_files(chat, tmp_path: Path) -> None:
    assert completions(chat, "/mo") == ["/mod", "/models"]
    assert "/discover-models" in completions(chat, "/d")
    assert completions(chat, "/mod fc") == ["fc1", "fc2"]
    assert "openai/gpt-4o-2024-08-06" in completions(chat, "/mod openai/gpt-4o")
    assert completions(chat, "/list fa") == ["fake"]
    assert completions(chat, "/models de") == ["deepseek", "deepinfra"]
    assert completions(chat, "/discover-models fake --f") == ["--force-refresh"]
    assert completions(chat, "/discover-models fake ") == ["--force-refresh"]
    assert completions(chat, "/discover-models --force-refresh ") == [*PROVIDER_DATA, "fake"]
    assert completions(chat, "/list fake ") == []
    (tmp_path / "data" / "saved-one.json").write_text("[]")
    (tmp_path / "data" / "notes.txt").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.json").write_text("[]")
    assert completions(chat, "/load sa") == ["saved-one.json"]
    assert completions(chat, "/save ./s") == ["./sub/"]
    assert completions(chat, "/l ./sub/") == ["./sub/x.json"]
    assert completions(chat, "hello") == [] and completions(chat, "/unknown x") == []
    (tmp_path / "shot.png").write_bytes(b"")  # /attach completes from the working directory, any file
    assert completions(chat, "/attach sh") == ["shot.png"]
    assert completions(chat, "/attach su") == ["sub/"]
    assert completions(chat, "/a sub/") == ["sub/x.json"]


def test_a_model_that_discovery_finds_invalid_is_reported_and_config_still_works(chat, server) -> None:
    server.set(chat_models=["fake-chat-2", "fake-chat-3"], non_chat_models=["fake-chat-1"])
    out = run(chat, "/discover-models fake --force-refresh")
    assert out.endswith("ERROR: the current model fake/fc1 is no longer a valid model; "
                        "/mod to pick another or /dm for the default\n")
    config = run(chat, "/con")
    assert "Model:          fake/fc1 (not a known valid model: /mod to pick another)" in config
    assert "Sassy:" in config


def test_models_discovered_by_another_llmc_work_in_mod_and_completion(chat, tmp_path: Path) -> None:
    from llmc.Config import Config
    other = Config(data_directory=tmp_path / "data", environ={}, warn=lambda text: None)
    other.config.providers["fake"].merge_valid_models(["found-elsewhere"])
    other.config.providers.persist_provider_configs(["fake"])
    assert "fake/found-elsewhere" in completions(chat, "/mod fake/found")
    assert run(chat, "/mod fake/found-elsewhere") == "Model set to fake/found-elsewhere.\n"


def test_completion_never_offers_a_short_name_that_reads_as_another_provider(chat) -> None:
    chat.config.config.providers["fake"].merge_valid_models(["deepseek/deepseek-r1:free"])
    offered = completions(chat, "/mod deepseek/d")
    assert "deepseek/deepseek-r1:free" not in offered
    assert "fake/deepseek/deepseek-r1:free" in completions(chat, "/mod fake/deep")


def test_commands_without_arguments_refuse_stray_text(chat, tmp_path: Path) -> None:
    history = tmp_path / "data" / "chat_history.txt"
    history.write_text("\n# 2026\n+kept\n")
    assert run(chat, "/ch x") == "ERROR: /clear_history takes no argument (got 'x')\n"
    assert history.read_text() == "\n# 2026\n+kept\n"
    assert run(chat, "/e now") == "ERROR: /exit takes no argument (got 'now')\n"


def test_md_to_a_missing_directory_asks_nothing(chat, server) -> None:
    chat.session.add_user("question")
    requests_before = len(server.requests)
    assert run(chat, "/md /nonexistent/dir/x.md") == ("ERROR: /nonexistent/dir: no such directory; "
                                                       "nothing exported\n")
    assert "Asking" not in chat.terminal.stderr.getvalue() and len(server.requests) == requests_before


def saved_contents(store: ChatStore, chat_id: str) -> List[str]:
    return [m["content"] for m in store.load(chat_id)[1][1:]]


def test_chats_lists_the_saved_chats_and_load_n_goes_on_with_one(chat, server, tmp_path: Path) -> None:
    assert run(chat, "/chats") == "No saved chats yet.\n"
    chat.send("first question")
    first = chat.session.chat_id
    run(chat, "/reset")
    chat.send("second question")
    second = chat.session.chat_id
    assert first and second and first != second
    lines = run(chat, "/chats").splitlines()
    assert lines[0].split() == ["#", "id", "updated", "model", "msgs", "title"]
    assert lines[1].startswith(f"1* {second}  ") and lines[1].endswith("   2  second question")
    assert lines[2].startswith(f"2  {first}  ") and "fake/fake-chat-1" in lines[2]
    assert lines[3:] == ["/load N opens chat N."]
    out = run(chat, "/load 2")
    assert out.startswith(f"Opened the saved chat {first}.\n") and "first question" in out
    assert "second question" not in out
    chat.send("third question")
    sent = [m["content"] for m in server.requests[-1]["json"]["messages"][1:]]
    assert sent == ["first question", "Answer.", "third question"]
    store = ChatStore(tmp_path / "data")
    assert saved_contents(store, first) == ["first question", "Answer.", "third question", "Answer."]
    assert saved_contents(store, second) == ["second question", "Answer."]
    assert run(chat, "/chats").splitlines()[1].startswith(f"1* {first}  ")


def test_load_n_and_chats_refuse_what_is_not_there(chat, server, tmp_path: Path) -> None:
    assert run(chat, "/load 1") == ("ERROR: no saved chat number 1 (the list holds none yet; "
                                    "llmc --list-chats or /chats shows it)\n")
    assert run(chat, "/chats recent") == "ERROR: usage: /chats [all] (got 'recent')\n"
    chat.send("only one")
    assert run(chat, "/load 2").startswith("ERROR: no saved chat number 2 (the list holds 1 to 1;")
    (tmp_path / "data" / "chats" / "broken.jsonl").write_text("garbage\n")
    assert run(chat, "/chats").splitlines()[1].endswith("only one")
    assert "broken.jsonl: not a chat file" in chat.terminal.stderr.getvalue()


def test_load_n_uses_the_numbers_chats_showed(chat, server, tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "data")
    older = store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "older"}])
    run(chat, "/chats")
    ChatStore(tmp_path / "data").save([{"role": "system", "content": "s"}, {"role": "user", "content": "newer"}])
    assert run(chat, "/load 1").startswith(f"Opened the saved chat {older}.")


def test_chats_shows_the_newest_twenty_unless_all(chat, tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "data")
    for number in range(25):
        store.save([{"role": "system", "content": "s"}, {"role": "user", "content": f"chat {number}"}])
    lines = run(chat, "/chats").splitlines()
    assert len(lines) == 1 + 20 + 2 and lines[1].endswith("chat 24") and lines[20].endswith("chat 5")
    assert lines[21] == "… and 5 older: /chats all"
    every = run(chat, "/chats all").splitlines()
    assert len(every) == 1 + 25 + 1 and every[25].endswith("chat 0")
    assert run(chat, "/load 25").startswith("Opened the saved chat")
    assert chat.session.messages[1]["content"] == "chat 0"


def test_autosave_off_saves_nothing_more_and_on_saves_again(chat, server, tmp_path: Path) -> None:
    chats = tmp_path / "data" / "chats"
    assert run(chat, "/autosave") == f"Autosave is on: this chat is saved in {chats} after each reply.\n"
    assert run(chat, "/autosave off") == ("Autosave is off: this chat is not saved and its prompts stay out "
                                          "of the input history (/autosave on saves it).\n")
    chat.send("secret")
    assert not chats.exists()
    out = run(chat, "/autosave on")
    chat_id = chat.session.chat_id
    assert out == f"Autosave is on: this chat is saved to {chats / (chat_id + '.jsonl')} after each reply.\n"
    assert saved_contents(ChatStore(tmp_path / "data"), chat_id) == ["secret", "Answer."]
    out = run(chat, "/autosave off")
    assert out.endswith(f"(/autosave on saves it). What was saved before stays in {chats / (chat_id + '.jsonl')}.\n")
    chat.send("more")
    assert saved_contents(ChatStore(tmp_path / "data"), chat_id) == ["secret", "Answer."]
    assert run(chat, "/autosave maybe") == "ERROR: usage: /autosave [on|off] (got 'maybe')\n"


def test_md_names_the_model_that_answered_not_the_current_one(chat, server, tmp_path: Path) -> None:
    chat.send("question")
    run(chat, "/mod fc2")
    server.set(reply='{"title": "A Question", "filename": "a-question"}')
    run(chat, "/md")
    text = (tmp_path / "data" / "a-question.md").read_text()
    assert text.startswith("# A Question\n(fake/fake-chat-1)\n")
    assert server.requests[-1]["json"]["model"] == "fake-chat-2"  # the title came from the current one


def test_autosave_and_chats_complete_their_arguments(chat) -> None:
    assert completions(chat, "/autosave o") == ["on", "off"]
    assert completions(chat, "/chats ") == ["all"]
    assert "/autosave" in completions(chat, "/au") and "/chats" in completions(chat, "/cha")


@pytest.mark.parametrize("first", ["/save notes", "/load notes"])
def test_save_after_reset_asks_before_replacing_the_earlier_chat(chat, first: str, tmp_path: Path) -> None:
    """/save NAME after /reset would replace another chat: the same process asks, as a new one does."""
    converse(chat)
    if first == "/load notes":
        run(chat, "/save notes")
        chat.session.path = None  # as a new process that only loads the file
    run(chat, first)
    saved = (tmp_path / "data" / "notes.json").read_text()
    run(chat, "/reset")
    chat.session.add_user("a different question")
    chat.session.add_assistant("Answer.")
    chat.answers = ["n"]
    assert run(chat, "/save notes") == "Not saved.\n"
    assert (tmp_path / "data" / "notes.json").read_text() == saved
    chat.answers = ["y"]
    assert "Chat history saved to" in run(chat, "/save notes")
    assert "a different question" in (tmp_path / "data" / "notes.json").read_text()
    assert "Chat history saved to" in run(chat, "/save notes")  # its own file now: no question


def test_config_names_the_provider_once_and_where_its_key_came_from(chat) -> None:
    out = run(chat, "/config")
    assert "\nProvider:       fake\n" in out  # not "fake (Fake)"
    assert "\nAPI key:        ********-key (from config.toml)\n" in out


def test_regenerate_asks_again_and_alternatives_lists_and_takes_an_answer_back(chat, server, tmp_path) -> None:
    server.set(numbered_replies=True)
    assert "ERROR: no prompt to ask again yet" in run(chat, "/rg")
    assert run(chat, "/alt") == "No prompt yet: nothing to choose from.\n"
    chat.send("question")
    assert "The last turn has no alternatives" in run(chat, "/alternatives")
    out = run(chat, "/regenerate")
    assert "Answer. #2" in out and "/alternatives shows the 2 answers" in out
    assert run(chat, "/alt").splitlines() == ["Answers to the last prompt (* the current one):",
                                              " 1  fake/fake-chat-1  Answer. #1", "*2  fake/fake-chat-1  Answer. #2",
                                              "/alternatives N takes answer N."]
    out = run(chat, "/alt 1")
    assert "Answer. #1" in out and "Answer 1 of 2 is the chat's now" in out
    assert chat.session.last_reply() == "Answer. #1"
    saved = ChatStore(tmp_path / "data").load(chat.session.chat_id)[1]
    assert saved[-1]["content"] == "Answer. #1" and saved[-1]["alternatives_at"] == 0
    assert run(chat, "/alt").splitlines()[1:3] == ["*1  fake/fake-chat-1  Answer. #1", " 2  fake/fake-chat-1  Answer. #2"]
    for bad in ("3", "0", "x"):
        assert run(chat, f"/alt {bad}") == f"ERROR: no answer '{bad}': /alternatives lists 1 to 2\n"
    assert completions(chat, "/alternatives ") == ["1", "2"] and completions(chat, "/alt 2") == ["2"]


def test_fork_goes_on_in_a_new_saved_chat_and_leaves_the_old_one_as_it_was(chat, server, tmp_path) -> None:
    assert run(chat, "/fork") == "ERROR: nothing to fork yet: send a prompt first\n"
    chat.send("question")
    store = ChatStore(tmp_path / "data")
    old = chat.session.chat_id
    old_text = store.path_of(old).read_bytes()
    out = run(chat, "/fork")
    new = chat.session.chat_id
    assert new != old and out == f"Forked: this chat goes on as {new}; the saved chat {old} stays as it was.\n"
    chat.send("more")
    assert store.path_of(old).read_bytes() == old_text
    assert [m["content"] for m in store.load(new)[1][1:]] == ["question", "Answer.", "more", "Answer."]
    chat.session.reset()
    chat.autosave = False
    chat.send("unsaved")
    assert run(chat, "/fork  The  unsaved one ").startswith("Saved as the new chat ")
    summary, messages = store.load(chat.session.chat_id)
    assert [m["content"] for m in messages[1:]] == ["unsaved", "Answer."] and summary.title == "The unsaved one"
    assert store.load(new)[0].title == "question"


def test_title_before_the_first_reply_names_the_chat_it_saves(chat) -> None:
    assert "not saved yet: /title TEXT names it" in run(chat, "/title")
    assert "Title: Moon plans (the chat is saved under it with its first reply)." in run(chat, "/title Moon  plans")
    assert "Title: Moon plans" in run(chat, "/title")
    chat.send("hello")
    summary, _ = chat.store.load(chat.session.chat_id)
    assert summary.title == "Moon plans"
    assert "Title: Moon plans. Usage: /title TEXT" in run(chat, "/title")
