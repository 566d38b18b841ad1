"""A provider as the attacker: what the fake server sends (model ids, stream events) never bricks llmc,
crashes a chat or loses a conversation. Each test is one attack of issue 9, through the real CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.e2e.cli_support import MAIN, YAML_NAME, clean_env, fake_provider, fill, run_llmc, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

# What a hostile /models list carries (json.dumps sends the lone surrogate escaped, as "\ud800")
HOSTILE_IDS = ["lone\ud800x", "nul\x00x", "nel\x85x", "line\u2028sep", "x" * 1_000_000, "y" * 1_000_000,
               "z" * 1_000_000]


@pytest.fixture
def hostile_models() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["good", *HOSTILE_IDS], non_chat_models=[]) as srv:
        yield srv


def test_hostile_model_ids_never_brick_the_providers_yaml(tmp_path: Path, home: Path,
                                                          hostile_models: FakeOpenAIServer) -> None:
    data = tmp_path / "data"
    write_config(data, {"evil": fake_provider(hostile_models.base_url)})
    for _ in range(2):  # the second discovery reads and rewrites the first one's file
        result = run_llmc(["-d", str(data), "--discover-models", "evil"], home)
        assert result.returncode == 0, result.stderr
        skipped = [line for line in result.stderr.splitlines() if "skipped" in line]
        assert skipped == [f"evil: skipped {len(HOSTILE_IDS)} /models entries with an id llmc cannot use "
                           "(spaces at either end, control characters, line separators, lone surrogates or over "
                           "512 characters)"]
        assert result.stdout.startswith("evil: 1 model found, 1 valid")
    listed = run_llmc(["-d", str(data), "-l", "--provider", "evil"], home)
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "evil/good (good)\n", "")
    saved = yaml.safe_load((data / YAML_NAME).read_text(encoding="utf-8"))["providers"]["evil"]
    assert saved["valid_models"] == {"good": "good"}


def test_an_id_with_trailing_space_from_a_scanned_server_is_not_kept_and_the_kept_one_is_the_default(
        tmp_path: Path, home: Path) -> None:
    with FakeOpenAIServer(api_key=None, server_kind="llamacpp", chat_models=["evil-trailing ", "good"],
                          non_chat_models=[]) as squat:
        found = run_llmc(["--discover-models"], home, env={"LLMC_LOCAL_PORTS": str(squat.port)})
        assert found.returncode == 0, found.stderr
        assert ("llamacpp: skipped 1 /models entry with an id llmc cannot use (spaces at either end, "
                in found.stderr)
        assert found.stdout.startswith("llamacpp: 1 model found, 1 valid")
        assert "Default model set to llamacpp/good" in found.stdout
        data = home / ".llm_chat_cli"
        assert "evil-trailing" not in (data / YAML_NAME).read_text() + (data / "config.toml").read_text()
        for args in (["-p", "hi"], ["-m", "good", "-p", "hi"], ["--set-default-model", "llamacpp/good"]):
            assert run_llmc(args, home).returncode == 0
        assert [r["json"]["model"] for r in squat.requests if r["path"].endswith("/chat/completions")][-2:] == [
            "good", "good"]


# ----- stream text: surrogate halves (item 2) and the llama.cpp empty stream (item 17) ---------------

def content_event(escaped_text: str) -> str:
    return '{"choices":[{"index":0,"delta":{"content":"%s"}}]}' % escaped_text


STOP_EVENT = '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
# A JavaScript server cuts text in UTF-16 units: the emoji comes as two escaped halves in two events
SPLIT_EMOJI_EVENTS = [content_event("smile "), content_event("\\ud83d"), content_event("\\ude00"),
                      content_event(" lone \\ud800 end"), STOP_EVENT, "[DONE]"]
SPLIT_EMOJI_TEXT = "smile \U0001F600 lone \ufffd end"


@pytest.fixture
def hostile_stream() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["m"], non_chat_models=[], raw_events=SPLIT_EMOJI_EVENTS) as srv:
        yield srv


def chat_config(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    data = tmp_path / "data"
    write_config(data, {"evil": fake_provider(server.base_url, valid_models={"m": "m"})}, 'model = "evil/m"')
    return data


def test_split_and_lone_surrogates_in_a_stream_print_in_one_shot_mode(tmp_path: Path, home: Path,
                                                                       hostile_stream: FakeOpenAIServer) -> None:
    result = run_llmc(["-d", str(chat_config(tmp_path, hostile_stream)), "-p", "hi"], home)
    assert (result.returncode, result.stdout, result.stderr) == (0, SPLIT_EMOJI_TEXT + "\n", "")


def test_an_empty_stream_says_the_prompt_may_exceed_the_context(tmp_path: Path, home: Path,
                                                                hostile_stream: FakeOpenAIServer) -> None:
    hostile_stream.set(raw_events=[])  # llama.cpp: 200 and not one event for a prompt over its context
    result = run_llmc(["-d", str(chat_config(tmp_path, hostile_stream)), "-p", "a very long prompt"], home)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("llmc: error: evil: the server sent an empty stream: the prompt may be longer "
                             "than the model's context (llama.cpp answers so; stream = false shows its error)\n")


# ----- the chat in a real pty: one bad reply or file never ends it (items 2 and 14) ------------------

def saved_chat(path: Path) -> list:
    return [(m["role"], m["content"]) for m in json.loads(path.read_text(encoding="utf-8"))[1:]]


def test_the_chat_survives_surrogates_and_hostile_chat_files(tmp_path: Path, home: Path,
                                                           hostile_stream: FakeOpenAIServer) -> None:
    data = chat_config(tmp_path, hostile_stream)
    (data / "deep.json").write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in json.loads
    (data / "lone.json").write_text('[{"role": "system", "content": "s"}, {"role": "user", '
                                    '"content": "half \\ud800 here"}]')
    child = spawn(data, home=home)
    child.expect_exact("m >")
    send(child, "first")
    child.expect_exact("\U0001F600")
    child.expect_exact("m *>")
    send(child, "/load deep")
    child.expect_exact(f"ERROR: {data / 'deep.json'}: not a chat file: nested too deeply")
    child.expect_exact("m *>")
    send(child, "second")
    child.expect_exact("lone \ufffd end")
    child.expect_exact("m *>")
    send(child, "/save kept")
    child.expect_exact("m *>")
    send(child, "/load lone")
    child.expect_exact("half \ufffd here")
    child.expect_exact("m *>")
    send(child, "/save lone-again")
    child.expect_exact("m *>")
    finish(child)
    assert saved_chat(data / "kept.json") == [("user", "first"), ("assistant", SPLIT_EMOJI_TEXT),
                                             ("user", "second"), ("assistant", SPLIT_EMOJI_TEXT)]
    assert saved_chat(data / "lone-again.json") == [("user", "half \ufffd here")]


def test_a_deep_chat_file_given_with_f_is_refused_in_one_line(tmp_path: Path, home: Path,
                                                             hostile_stream: FakeOpenAIServer) -> None:
    data = chat_config(tmp_path, hostile_stream)
    (data / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run_llmc(["-d", str(data), "-f", str(data / "deep.json"), "-p", "hi"], home)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"llmc: error: {data / 'deep.json'}: not a chat file: nested too deeply\n"


# A bug inside one reply, injected where no provider can reach: the second reply raises.
INJECTED_BUG = """
import sys
from llmc import OpenAIChatCompletionApi as api_module
from llmc.cli.CommandLine import run
real_stream, calls = api_module.OpenAIChatCompletionApi.stream_chat, []
def stream_chat(self, messages, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        raise RuntimeError("injected bug")
    return real_stream(self, messages, *args, **kwargs)
api_module.OpenAIChatCompletionApi.stream_chat = stream_chat
sys.argv[0] = "llmc"
run()
"""


def test_a_bug_inside_one_reply_never_ends_the_chat(tmp_path: Path, home: Path,
                                                   hostile_stream: FakeOpenAIServer) -> None:
    data = chat_config(tmp_path, hostile_stream)
    child = spawn(data, home=home, program=("-c", INJECTED_BUG))
    child.expect_exact("m >")
    send(child, "first")
    child.expect_exact("\U0001F600")
    child.expect_exact("m *>")
    send(child, "second")
    child.expect_exact("ERROR: internal error (RuntimeError: injected bug); the chat goes on, the messages "
                       "so far are kept (please report it)")
    child.expect_exact("m *>")
    send(child, "third")
    child.expect_exact("lone \ufffd end")
    child.expect_exact("m *>")
    send(child, "/save after-bug")
    child.expect_exact("m *>")
    finish(child)
    assert saved_chat(data / "after-bug.json") == [("user", "first"), ("assistant", SPLIT_EMOJI_TEXT),
                                                  ("user", "third"), ("assistant", SPLIT_EMOJI_TEXT)]


# ----- files: alias bombs (item 15) -------------------------------------------------------------------

def test_a_billion_laughs_providers_yaml_exits_2_at_once(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\nproviders: {evil: {invalid_models: *a8}}\n"  # 9**9 strings once expanded
    (data / YAML_NAME).write_text(bomb)
    assert len(bomb) < 600
    result = run_llmc(["-d", str(data), "-l"], home)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"llmc: error: {data / YAML_NAME}: line 1: aliases would expand to more than "
                             "100,000 values; refused (an alias bomb?)\n")
    assert (data / YAML_NAME).read_text() == bomb


# ----- flags: paths the system refuses (item 16) -----------------------------------------------------

@pytest.mark.parametrize("args, flag", [
    (["-d", "D", "-l"], "-d/--data-directory"), (["-d", "D", "-e"], "-d/--data-directory"),
    (["--create-config", "-d", "D"], "-d/--data-directory"), (["-f", "D", "-e", "-p", "hi"], "-f/--history-file"),
    (["-f", "D", "-e"], "-f/--history-file"),
])
def test_a_5000_character_path_is_bad_input(tmp_path: Path, home: Path, args: list, flag: str) -> None:
    long_path = str(tmp_path / ("a" * 5000))
    result = run_llmc([long_path if a == "D" else a for a in args], home)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"llmc: error: {flag}: {long_path[:60]}… ({len(long_path):,} characters): "
                             "File name too long\n")


# ----- files: kill -9 during /save leaves no orphan for long (item 11) --------------------------------

PAUSED_SAVE = """
import os, sys, time
from pathlib import Path
from llmc.cli.CommandLine import run
real_replace = os.replace
def paused_replace(source, target):
    if str(target).endswith("kept.json"):  # the rename inside SafeFiles.atomic_write_text
        Path({marker!r} + ".part").write_text(str(source))
        real_replace({marker!r} + ".part", {marker!r})
        time.sleep(60)
    return real_replace(source, target)
os.replace = paused_replace
sys.argv[0] = "llmc"
run()
"""


def test_kill_9_during_save_leaves_an_orphan_the_next_chat_removes(tmp_path: Path, home: Path,
                                                                   hostile_stream: FakeOpenAIServer) -> None:
    from llmc.base.SafeFiles import ensure_directory
    data = chat_config(tmp_path, hostile_stream)
    marker = tmp_path / "marker"
    child = spawn(data, home=home, program=("-c", PAUSED_SAVE.format(marker=str(marker))))
    child.expect_exact("m >")
    send(child, "hello")
    child.expect_exact("m *>")
    send(child, "/save kept")
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    temp_file = Path(marker.read_text())
    assert temp_file.parent == data and '"hello"' in temp_file.read_text()
    os.utime(temp_file, (time.time() - 60, time.time() - 60))
    ensure_directory(data)  # another llmc starting meanwhile: the writer is alive, its file is kept
    assert temp_file.exists()
    child.kill(signal.SIGKILL)
    child.close()
    os.utime(temp_file, (time.time() - 60, time.time() - 60))  # the orphan, some seconds later
    child = spawn(data, home=home)
    child.expect_exact("m >")
    finish(child)
    assert not temp_file.exists() and not (data / "kept.json").exists()


# ----- a full disk, for real: a small tmpfs filled to the last byte (item 12) ----------------------------

def test_discovery_on_a_full_disk_exits_74_and_keeps_the_file(small_disk: Path, home: Path,
                                                              hostile_models: FakeOpenAIServer) -> None:
    data = small_disk / "data"
    write_config(data, {"evil": fake_provider(hostile_models.base_url)})
    old = "# mine\nproviders:\n  evil:\n    valid_models: {old: old}\n"
    (data / YAML_NAME).write_text(old)
    fill(small_disk)
    result = run_llmc(["-d", str(data), "--discover-models", "evil"], home)
    assert result.returncode == 74, result.stderr
    assert result.stderr.splitlines()[-1] == (f"llmc: error: cannot write {data / YAML_NAME}: No space left on "
                                              "device; the file is unchanged")
    assert (data / YAML_NAME).read_text() == old and not list(data.glob(".*.tmp"))


def test_a_full_disk_in_the_chat_is_one_warning_and_the_chat_goes_on(small_disk: Path, home: Path,
                                                                      hostile_stream: FakeOpenAIServer) -> None:
    data = small_disk / "data"
    write_config(data, {"evil": fake_provider(hostile_stream.base_url, valid_models={"m": "m"})},
                 'model = "evil/m"')
    child = spawn(data, home=home)
    child.expect_exact("m >")
    filler = fill(small_disk)  # the disk fills up while the chat runs
    history = data / "chat_history.txt"
    for line in ("first", "second"):
        send(child, line)
        child.expect_exact("lone \ufffd end")
        child.expect_exact("m *>")
    filler.unlink()  # space returns
    send(child, "third")
    child.expect_exact(f"{history}: input history is saved again")
    child.expect_exact("m *>")
    output = finish(child)
    assert output.count(f"{history}: No space left on device") == 1, output  # the autosave warns on its own
    assert (f"Warning: {history}: No space left on device; input history is kept in memory only until it can "
            "be written again (the chat goes on)") in output
    assert "Unhandled exception" not in output and "Press ENTER" not in output
    assert [line for line in history.read_text().splitlines() if line.startswith("+")] == ["+third", "+/exit"]


# ----- stdout unwritable after a discovery (item 13) ---------------------------------------------------

def test_a_discovery_whose_stdout_is_dev_full_saves_and_says_so(tmp_path: Path, home: Path,
                                                                hostile_models: FakeOpenAIServer) -> None:
    data = tmp_path / "data"
    write_config(data, {"evil": fake_provider(hostile_models.base_url)})
    with open("/dev/full", "w") as full, open(tmp_path / "err", "w+") as err:
        status = subprocess.run([sys.executable, str(MAIN), "-d", str(data), "--discover-models", "evil"],
                                cwd=str(home), env=clean_env(home), stdin=subprocess.DEVNULL, stdout=full,
                                stderr=err, timeout=60).returncode
        err.seek(0)
        lines = err.read().splitlines()
    assert status == 74
    assert lines[-2:] == [f"Provider configurations persisted to {data / YAML_NAME}",
                          "llmc: error: cannot write the output: No space left on device"]
    saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["evil"]
    assert saved["valid_models"] == {"good": "good"}  # the results are on disk
