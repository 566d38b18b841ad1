"""What a user hands llmc: prompts, piped text, files; options and usage (CLI runs and a real pty)."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Iterator

import pexpect
import pytest

from tests.e2e.cli_support import fake_provider, run_llmc_in_process, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

REPLY = "Hello from the fake server."
COMMENTED = '# mine\nmodel = "fake/fc1"  # keep this comment\n'


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["fake-chat-1", "fake-chat-2"], reply=REPLY) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(
        server.base_url, valid_models={"fake-chat-1": "fc1", "fake-chat-2": "fc2"})}, extra=COMMENTED)
    return directory


def llmc(home: Path, data: Path, *args: str, **kwargs):
    """llmc in this process (the chat itself runs in a pty below, as its own process)."""
    return run_llmc_in_process(["-d", str(data), *args], home, **kwargs)


def chat_requests(server: FakeOpenAIServer) -> list:
    return [r["json"] for r in server.request_log() if r["path"].endswith("/chat/completions")]


# The default model
def test_set_default_model_flag_writes_config_toml_keeping_comments(home: Path, data: Path,
                                                                     server: FakeOpenAIServer) -> None:
    config = data / "config.toml"
    config.chmod(0o640)
    result = llmc(home, data, "--set-default-model", "fc2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Default model set to fake/fake-chat-2 in {config}.\n"
    text = config.read_text()
    assert text.startswith('# mine\nmodel = "fake/fake-chat-2"  # keep this comment\n')
    assert "[providers.fake]" in text and stat.S_IMODE(config.stat().st_mode) == 0o640
    assert llmc(home, data, "-p", "hi").returncode == 0
    assert chat_requests(server)[-1]["model"] == "fake-chat-2"


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o555])
def test_set_default_model_refuses_a_read_only_config_toml(home: Path, data: Path, mode: int) -> None:
    config = data / "config.toml"
    before = config.read_bytes()
    config.chmod(mode)
    result = llmc(home, data, "--set-default-model", "fc2")
    assert result.returncode == 74 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (f"llmc: error: {config} is read-only (mode {mode:04o}); not "
                                              "changed (chmod u+w it to let llmc write it)")
    assert config.read_bytes() == before and stat.S_IMODE(config.stat().st_mode) == mode


def test_set_default_model_flag_refuses_an_unknown_model(home: Path, data: Path) -> None:
    before = (data / "config.toml").read_text()
    result = llmc(home, data, "--set-default-model", "nonesuch")
    assert result.returncode == 2 and result.stderr.startswith("llmc: error: Invalid model: nonesuch.")
    assert (data / "config.toml").read_text() == before
    both = llmc(home, data, "--set-default-model", "fc2", "-p", "hi")
    assert both.returncode == 2
    assert "--set-default-model and -p/--prompt cannot be used together" in both.stderr


def test_set_default_model_flag_says_at_once_why_a_model_without_a_key_cannot_chat(home: Path, data: Path) -> None:
    result = llmc(home, data, "--set-default-model", "4o")
    assert result.returncode == 0
    assert result.stderr.splitlines()[-1] == ("Note: openai/gpt-4o-2024-08-06 cannot chat now: its provider has no "
                                              "API key now (set OPENAI_API_KEY); it is the default all the same")


def test_set_default_in_the_chat(data: Path) -> None:
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "/mod fc2")
    child.expect_exact("fc2 >")
    send(child, "/set-default")
    child.expect_exact(f"Default model set to fake/fake-chat-2 in {data / 'config.toml'}.")
    send(child, "/set-default bogus")
    child.expect_exact("ERROR: Invalid model: bogus.")
    send(child, "/mod fc1")
    child.expect_exact("fc1 >")
    send(child, "/dm")  # the new default
    child.expect_exact("Model set to fake/fake-chat-2.")
    finish(child)
    assert 'model = "fake/fake-chat-2"  # keep this comment' in (data / "config.toml").read_text()


# Prompts
def test_a_positional_prompt_does_what_p_does(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=True)
    result = llmc(home, data, "explain git rebase")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echo: explain git rebase\n"
    words = llmc(home, data, "-m", "fc2", "explain", "git", "rebase")
    assert words.returncode == 0 and words.stdout == "echo: explain git rebase\n"
    sent = chat_requests(server)
    assert [m["content"] for m in sent[-1]["messages"] if m["role"] == "user"] == ["explain git rebase"]
    assert sent[-1]["model"] == "fake-chat-2"


def test_p_and_a_positional_prompt_are_refused(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "-p", "one", "two")
    assert result.returncode == 2 and result.stderr == (
        "llmc: error: -p/--prompt and a positional prompt ('two') cannot be used together: give one\n")
    assert chat_requests(server) == []
    listed = llmc(home, data, "-l", "hello")
    assert listed.returncode == 2 and "-l/--list-models and -p/--prompt cannot be used together" in listed.stderr


def test_a_prompt_and_piped_stdin_send_both(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=True)
    result = llmc(home, data, "-p", "summarize", stdin="line one\nline two\n")
    assert result.returncode == 0, result.stderr
    assert chat_requests(server)[-1]["messages"][-1] == {"role": "user",
                                                        "content": "summarize\n\nline one\nline two\n"}
    positional = llmc(home, data, "summarize", stdin="notes")
    assert positional.returncode == 0
    assert chat_requests(server)[-1]["messages"][-1]["content"] == "summarize\n\nnotes"
    alone = llmc(home, data, stdin="piped alone")
    assert alone.returncode == 0 and alone.stdout == "echo: piped alone\n"
    nothing = llmc(home, data, "-p", "just this")  # stdin is /dev/null: the prompt alone
    assert nothing.returncode == 0 and chat_requests(server)[-1]["messages"][-1]["content"] == "just this"


def test_help_states_the_prompt_and_stdin_rule(home: Path) -> None:
    text = " ".join(run_llmc_in_process(["--help"], home).stdout.split())
    assert "a prompt and a piped stdin are sent together: the prompt, a blank line, then the piped text" in text


# Options
def test_temperature_and_max_tokens_flags_reach_the_request(home: Path, data: Path,
                                                            server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "--temperature", "0.3", "--max-tokens", "50", "-p", "hi")
    assert result.returncode == 0, result.stderr
    body = chat_requests(server)[-1]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 50
    plain = llmc(home, data, "-p", "hi")
    assert plain.returncode == 0 and chat_requests(server)[-1]["temperature"] == 0.0
    assert "max_tokens" not in chat_requests(server)[-1]


@pytest.mark.parametrize("args, error", [
    (["--temperature", "2.5"], "llmc: error: --temperature 2.5: Input should be less than or equal to 2"),
    (["--temperature", "-1"], "llmc: error: --temperature -1.0: Input should be greater than or equal to 0"),
    (["--temperature", "nan"], "llmc: error: --temperature nan: Input should be a finite number"),
    (["--max-tokens", "0"], "llmc: error: --max-tokens 0: Input should be greater than or equal to 1"),
    (["--max-tokens", "99999999"], "llmc: error: --max-tokens 99999999: Input should be less than or equal to 1000000"),
])
def test_out_of_bounds_options_are_refused(home: Path, data: Path, server: FakeOpenAIServer, args, error) -> None:
    result = llmc(home, data, *args, "-p", "hi")
    assert result.returncode == 2 and result.stderr == error + "\n"
    assert chat_requests(server) == []


@pytest.mark.parametrize("args, error", [(["--temperature", "warm"], "not a number: 'warm'"),
                                         (["--max-tokens", "1.5"], "not a whole number: '1.5'")])
def test_options_that_are_not_numbers_are_refused(home: Path, data: Path, args, error) -> None:
    result = llmc(home, data, *args, "-p", "hi")
    assert result.returncode == 2 and error in result.stderr and "Traceback" not in result.stderr


def test_temperature_and_max_tokens_in_config_toml(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    config = data / "config.toml"
    config.write_text("temperature = 0.5\nmax_tokens = 200\n" + config.read_text())
    result = llmc(home, data, "-p", "hi")
    assert result.returncode == 0 and "unknown setting" not in result.stderr
    assert chat_requests(server)[-1]["temperature"] == 0.5 and chat_requests(server)[-1]["max_tokens"] == 200
    flag = llmc(home, data, "--temperature", "1.2", "-p", "hi")  # the flag beats the file
    assert flag.returncode == 0 and chat_requests(server)[-1]["temperature"] == 1.2
    config.write_text("temperature = 3\n" + config.read_text().split("\n", 2)[2])
    bad = llmc(home, data, "-p", "hi")
    assert bad.returncode == 2
    assert bad.stderr == f"llmc: error: {config}: field 'temperature': Input should be less than or equal to 2\n"


def test_a_fixed_temperature_model_keeps_it_and_says_so_once(home: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(chat_models=["gpt-5-mini"], reply=REPLY) as own:
        data = tmp_path / "fixed"
        write_config(data, {"fake": fake_provider(own.base_url, valid_models={"gpt-5-mini": "g5"})})
        result = llmc(home, data, "-m", "g5", "--temperature", "0.2", "--max-tokens", "30", "-p", "hi")
        assert result.returncode == 0, result.stderr
        assert result.stdout == REPLY + "\n"
        assert result.stderr.count("gpt-5-mini accepts only temperature 1: using 1, not 0.2") == 1
        body = chat_requests(own)[-1]
        assert body["temperature"] == 1 and body["max_completion_tokens"] == 30 and "max_tokens" not in body


def test_a_refused_max_tokens_is_sent_as_max_completion_tokens(home: Path, data: Path,
                                                              server: FakeOpenAIServer) -> None:
    server.set(refuse_fields=["max_tokens"])
    result = llmc(home, data, "--max-tokens", "40", "-p", "hi")
    assert result.returncode == 0, result.stderr
    sent = chat_requests(server)
    assert sent[0]["max_tokens"] == 40 and sent[1]["max_completion_tokens"] == 40 and "max_tokens" not in sent[1]


def test_temperature_and_max_tokens_commands_in_the_chat(data: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data, "--max-tokens", "77")
    child.expect_exact("fc1 >")
    send(child, "/temp")
    child.expect_exact("Temperature: default (0). Usage: /temperature T or /temperature off")
    send(child, "/temp 0.9")
    child.expect_exact("Temperature set to 0.9.")
    send(child, "/temp 7")
    child.expect_exact("ERROR: /temperature 7.0: Input should be less than or equal to 2")
    send(child, "/temp hot")
    child.expect_exact("ERROR: /temperature: not a number: 'hot'")
    send(child, "/max-tokens 12")
    child.expect_exact("Max tokens set to 12.")
    send(child, "/config")
    child.expect_exact("Temperature:    0.9")
    child.expect_exact("Max tokens:     12")
    send(child, "hello")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    send(child, "/max-tokens off")
    child.expect_exact("Max tokens set to no cap.")
    send(child, "again")
    child.expect_exact(REPLY)  # the prompt echoing "again" is not yet the prompt after the reply
    child.expect_exact("fc1 *>")
    finish(child)
    first, second = chat_requests(server)
    assert (first["temperature"], first["max_tokens"]) == (0.9, 12)
    assert second["temperature"] == 0.9 and "max_tokens" not in second


# Usage
def expected_usage(server: FakeOpenAIServer) -> str:
    from tests.fake_openai_server import usage_for
    body = chat_requests(server)[-1]
    counts = usage_for(body["messages"], REPLY)
    return f"{counts['prompt_tokens']} prompt + {counts['completion_tokens']} completion tokens"


def test_usage_flag_prints_the_counts_on_stderr(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "-u", "-p", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == REPLY + "\n"  # the answer alone
    assert chat_requests(server)[-1]["stream_options"] == {"include_usage": True}
    assert result.stderr.splitlines()[-1] == f"Usage: {expected_usage(server)}"
    quiet = llmc(home, data, "-p", "hi")
    assert "Usage" not in quiet.stderr


def test_usage_shows_the_cost_where_the_price_is_known(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    config = data / "config.toml"
    config.write_text(config.read_text() + 'model_prices = { "fake-chat-1" = { prompt = 2.0, completion = 10.0 } }\n')
    result = llmc(home, data, "--usage", "hi")
    assert result.returncode == 0, result.stderr
    from tests.fake_openai_server import usage_for
    counts = usage_for(chat_requests(server)[-1]["messages"], REPLY)
    cost = (counts["prompt_tokens"] * 2.0 + counts["completion_tokens"] * 10.0) / 1e6
    assert result.stderr.splitlines()[-1] == f"Usage: {expected_usage(server)}, ${cost:.6f}".rstrip("0")


def test_a_server_that_refuses_stream_options_is_asked_again_without(home: Path, data: Path,
                                                                     server: FakeOpenAIServer) -> None:
    server.set(refuse_fields=["stream_options"])
    result = llmc(home, data, "-u", "-p", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == REPLY + "\n"
    assert result.stderr.splitlines()[-1] == "Usage: not reported by fake"
    assert [("stream_options" in r["json"], r["status"]) for r in server.request_log()] == [(True, 400), (False, 200)]


def test_usage_flag_without_a_prompt_is_refused(data: Path) -> None:
    import pexpect
    child = spawn(data, "-u")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2
    assert "-u/--usage works only with a prompt" in child.logfile_read.getvalue()


def test_the_chat_shows_a_usage_line_after_each_reply(data: Path, server: FakeOpenAIServer) -> None:
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "hello")
    child.expect_exact(REPLY)
    child.expect_exact("Usage: ")
    child.expect_exact(" completion tokens")
    child.expect_exact("fc1 *>")
    output = finish(child)
    assert f"Usage: {expected_usage(server)}" in output
    assert "\x1b[2m" in output  # dim


def test_show_usage_off_hides_the_usage_line(data: Path, server: FakeOpenAIServer) -> None:
    config = data / "config.toml"
    config.write_text("show_usage = false\n" + config.read_text())
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "hello")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    assert "Usage:" not in finish(child)


# Attachments
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def test_attach_text_files_and_an_image_with_p(home: Path, data: Path, server: FakeOpenAIServer,
                                               tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("first note\n")
    (tmp_path / "todo.txt").write_text("buy milk\n")
    (tmp_path / "shot.png").write_bytes(PNG)
    text_only = llmc(home, data, "-a", str(tmp_path / "notes.md"), "--attach", str(tmp_path / "todo.txt"),
                     "-p", "summarize")
    assert text_only.returncode == 0, text_only.stderr
    assert chat_requests(server)[-1]["messages"][-1]["content"] == (
        "summarize\n\nFile notes.md:\n```\nfirst note\n```\n\nFile todo.txt:\n```\nbuy milk\n```")
    image = llmc(home, data, "-a", str(tmp_path / "shot.png"), "describe")
    assert image.returncode == 0, image.stderr
    import base64
    assert chat_requests(server)[-1]["messages"][-1]["content"] == [
        {"type": "text", "text": "describe"}, {"type": "text", "text": "Image shot.png:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}]


@pytest.mark.parametrize("name, data_bytes, error", [
    ("missing.txt", None, "missing.txt: no such file to attach"),
    ("prog.bin", b"\x7fELF\x02\x01\x00\xff\xfe", "prog.bin: a binary file, not text nor a PNG, JPEG, GIF or WebP image; "
     "nothing sent"),
    ("huge.txt", b"x" * (1024 * 1024 + 1), "huge.txt: too large to attach as text (more than 1,048,576 bytes)"),
])
def test_bad_attachments_send_nothing_and_exit_2(home: Path, data: Path, server: FakeOpenAIServer, tmp_path: Path,
                                                 name: str, data_bytes, error: str) -> None:
    path = tmp_path / name
    if data_bytes is not None:
        path.write_bytes(data_bytes)
    (tmp_path / "ok.txt").write_text("fine")
    result = llmc(home, data, "-a", str(tmp_path / "ok.txt"), "-a", str(path), "-p", "hi")
    assert result.returncode == 2
    assert result.stderr == f"llmc: error: {path.parent}/{error}\n"
    assert chat_requests(server) == []


def test_attach_needs_a_prompt(home: Path, data: Path, tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine")
    import pexpect
    child = spawn(data, "-a", str(tmp_path / "ok.txt"))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 2 and "-a/--attach works only with a prompt" in child.logfile_read.getvalue()


def test_a_model_that_refuses_images_is_named(home: Path, data: Path, server: FakeOpenAIServer,
                                             tmp_path: Path) -> None:
    server.set(refuse_images=True)
    (tmp_path / "shot.png").write_bytes(PNG)
    result = llmc(home, data, "-a", str(tmp_path / "shot.png"), "-p", "describe")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("llmc: error: fake/fake-chat-1 takes no images: the provider refused them "
                                    "(API request failed with status code 400.")
    assert result.stderr.strip().endswith("; remembered for this model") and result.stderr.count("\n") == 1
    asked = len(chat_requests(server))
    again = llmc(home, data, "-a", str(tmp_path / "shot.png"), "-p", "describe")  # learnt: refused before sending
    assert again.returncode == 1 and len(chat_requests(server)) == asked
    assert again.stderr == ("llmc: error: fake/fake-chat-1 takes no images (as its provider said; see llmc "
                            "--list-models --long): not sent; pick a model that does with -m or /model\n")


def test_attach_in_the_chat(data: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("first note\n")
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "prog.bin").write_bytes(b"\x7fELF\x00\xff")
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "/attach")
    child.expect_exact("Nothing attached. Usage: /attach FILE")
    send(child, f"/attach {tmp_path / 'prog.bin'}")
    child.expect_exact("prog.bin: a binary file, not text nor a PNG, JPEG, GIF or WebP image; nothing sent")
    send(child, f"/attach {tmp_path / 'missing.txt'}")
    child.expect_exact("missing.txt: no such file to attach")
    send(child, f"/attach {tmp_path / 'notes.md'}")
    child.expect_exact("Attached notes.md (text, 11 characters); it goes with your next message.")
    send(child, f"/a {tmp_path / 'shot.png'}")
    child.expect_exact("Attached shot.png (image/png); it goes with your next message.")
    send(child, "/attach")
    child.expect_exact("Attached for the next message: notes.md (text, 11 characters), shot.png (image/png)")
    send(child, "what is this?")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    send(child, "and now?")  # the attachments went with the first message only
    child.expect_exact(REPLY)  # not the prompt: it is redrawn with the typed line before the reply
    child.expect_exact("fc1 *>")
    send(child, "/save pics")
    child.expect_exact("Chat history saved to")
    finish(child)
    first, second = chat_requests(server)
    content = first["messages"][1]["content"]
    assert content[0] == {"type": "text", "text": "what is this?\n\nFile notes.md:\n```\nfirst note\n```"}
    assert content[2]["image_url"]["url"].startswith("data:image/png;base64,")
    assert second["messages"][1]["content"] == content and second["messages"][3]["content"] == "and now?"
    again = spawn(data, "-f", "pics")  # a saved chat with an image loads back
    again.expect_exact("[image]")
    again.expect_exact("fc1 *>")
    finish(again)


def test_a_model_that_refuses_images_in_the_chat_is_named_and_the_chat_goes_on(data: Path, server: FakeOpenAIServer,
                                                                               tmp_path: Path) -> None:
    server.set(refuse_images=True)
    (tmp_path / "shot.png").write_bytes(PNG)
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, f"/attach {tmp_path / 'shot.png'}")
    child.expect_exact("it goes with your next message.")
    send(child, "describe")
    child.expect_exact("ERROR: fake/fake-chat-1 takes no images: the provider refused them (")
    child.expect_exact("Not sent: shot.png (/attach again to send with the next message).")
    child.expect_exact("fc1 >")
    send(child, "just text")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    finish(child)
    assert chat_requests(server)[-1]["messages"][1:] == [{"role": "user", "content": "just text"}]


def test_the_saved_chat_keeps_each_replys_usage_counts(data: Path, server: FakeOpenAIServer) -> None:
    import json
    from tests.fake_openai_server import usage_for
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "hello")
    child.expect_exact("fc1 *>")
    send(child, "/save counted")
    child.expect_exact("Chat history saved to")
    finish(child)
    saved = json.loads((data / "counted.json").read_text())
    counts = usage_for(chat_requests(server)[-1]["messages"], REPLY)
    assert saved[-1]["usage"] == {"prompt_tokens": counts["prompt_tokens"],
                                  "completion_tokens": counts["completion_tokens"]}


def test_the_autosaved_chat_keeps_the_usage_counts(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    import json
    from tests.fake_openai_server import usage_for
    result = llmc(home, data, "-p", "hi")
    assert result.returncode == 0, result.stderr
    (saved,) = (data / "chats").glob("*.jsonl")
    reply = json.loads(saved.read_text().splitlines()[-1])
    counts = usage_for(chat_requests(server)[-1]["messages"], REPLY)
    assert reply["role"] == "assistant" and reply["usage"] == {
        "prompt_tokens": counts["prompt_tokens"], "completion_tokens": counts["completion_tokens"]}
    again = llmc(home, data, "-C", "-p", "more")  # resumed: the counts are kept, never sent
    assert again.returncode == 0, again.stderr
    assert all(set(m) == {"role", "content"} for m in chat_requests(server)[-1]["messages"])
    lines = [json.loads(line) for line in saved.read_text().splitlines()[1:]]
    assert [("usage" in m) for m in lines if m["role"] == "assistant"] == [True, True]


def test_keys_typed_during_a_reply_reach_the_next_prompt_as_typed(data: Path, server: FakeOpenAIServer) -> None:
    """The Enter of a line typed while a reply streams submits at the next prompt (issue 17, item 21: the line
    discipline made it a new line, so `/exit` sat in a continuation line)."""
    server.set(reply="one two three four five six seven", chunk_size=4, stream_delay=0.3)
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "hi")
    child.expect_exact("two")  # the reply is still streaming
    send(child, "/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "..." not in child.logfile_read.getvalue().rpartition("/exit")[2]  # no continuation line


def test_keys_typed_while_md_asks_for_a_title_reach_the_next_prompt_as_typed(data: Path, server: FakeOpenAIServer,
                                                                             tmp_path: Path) -> None:
    child = spawn(data)
    child.expect_exact("fc1 >")
    send(child, "hi")
    child.expect_exact(REPLY)
    child.expect_exact("fc1 *>")
    server.set(latency=2.0, reply='{"title": "Greeting", "filename": "greeting"}')
    send(child, "/md")
    child.expect_exact("for a title")
    child.send("\x1b[D")  # an arrow key meanwhile: no ^[[D on the screen, nor in the next prompt
    send(child, "/exit")
    child.expect_exact("Chat exported to")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "^[" not in child.logfile_read.getvalue() and (data / "greeting.md").is_file()
