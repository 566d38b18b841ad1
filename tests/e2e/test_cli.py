"""End-to-end runs of llmc against a fake OpenAI-compatible server on 127.0.0.1: in this process where
that proves as much, as `python main.py` where a process of its own is the point."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from llmc import __version__
from tests.conftest import shared_fake_server
from tests.e2e.cli_support import (ANSI, MAIN, ROOT, YAML_NAME, clean_env, fake_provider, run_llmc,
                                   run_llmc_in_process, snapshot, write_config)
from tests.fake_openai_server import FakeOpenAIServer

PRESETS = "openrouter, groq, together, mistral, fireworks, cerebras, deepinfra, xai, gemini"
REPLY = "Streamed **reply** from the fake server."


server = shared_fake_server(reply=REPLY, chat_models=["chat-a", "chat-b"], non_chat_models=["embed-x"], chunk_size=4)


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(server.base_url)})
    return directory


def llmc(home: Path, data: Path, *args: str, **kwargs):
    """llmc in this process (what these tests prove needs no process of its own; the real ones
    below, and in the other e2e modules, run `python main.py`)."""
    return run_llmc_in_process(["-d", str(data), *args], home, **kwargs)


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("llmc: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_discover_then_list_offline_then_chat(tmp_path: Path, home: Path, data: Path) -> None:
    with FakeOpenAIServer(chat_models=["chat-a", "chat-b"], non_chat_models=["embed-x"], reply=REPLY) as own:
        write_config(data, {"fake": fake_provider(own.base_url)})
        result = llmc(home, data, "--discover-models", "fake")
        assert result.returncode == 0, result.stderr
        assert "fake: 3 models found, 2 valid, 1 invalid, 0 undecided" in result.stdout
        saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["fake"]
        assert saved["valid_models"] == {"chat-a": "chat-a", "chat-b": "chat-b"}
        assert saved["invalid_models"] == ["embed-x"]
        assert "api_key" not in saved and "test-key" not in (data / YAML_NAME).read_text()
        url = own.base_url
    # the server is gone: listing works offline
    listed = llmc(home, data, "--list-models", "--provider", "fake")
    assert listed.returncode == 0 and listed.stderr == ""
    assert listed.stdout.splitlines() == ["fake/chat-a (chat-a)", "fake/chat-b (chat-b)"]
    dead = llmc(home, data, "-m", "fake/chat-a", "-p", "hello")
    assert dead.returncode != 0
    assert one_error_line(dead) == f"llmc: error: cannot connect to {url[7:].split('/')[0]} (fake): connection refused"


def test_list_models_all_and_unknown_provider(home: Path, data: Path) -> None:
    result = llmc(home, data, "--list-models")
    assert result.returncode == 0
    assert "openai/gpt-4o-2024-08-06 (4o)" in result.stdout and "deepseek/deepseek-reasoner (r1)" in result.stdout
    unknown = llmc(home, data, "--list-models", "--provider", "nosuch")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert one_error_line(unknown) == ("llmc: error: Provider 'nosuch' not found. Known providers: "
                                       f"openai, deepseek, hyperbolic, {PRESETS}, fake")


def test_prompt_streams_the_reply(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})})
    result = run_llmc(["-d", str(data), "-m", "fake/chat-a", "-p", "hello"], home)  # a real process
    assert result.returncode == 0, result.stderr
    assert result.stdout == REPLY + "\n" and result.stderr == ""
    assert not ANSI.search(result.stdout)
    short = llmc(home, data, "-m", "ca", "-p", "hello")
    assert short.returncode == 0 and short.stdout == REPLY + "\n"


def test_prompt_from_stdin(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(echo=True)
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})})
    dash = llmc(home, data, "-m", "ca", "-p", "-", stdin="from stdin\nline two")
    assert dash.returncode == 0 and dash.stdout == "echo: from stdin\nline two\n"
    piped = llmc(home, data, "-m", "ca", stdin="piped prompt")
    assert piped.returncode == 0 and piped.stdout == "echo: piped prompt\n"


def test_empty_prompt(home: Path, data: Path) -> None:
    for args, stdin in ((["-p", ""], None), (["-p", "-"], "  \n"), ([], "")):
        result = llmc(home, data, "-m", "openai/4o", *args, stdin=stdin)
        assert result.returncode == 2
        assert one_error_line(result) == "llmc: error: empty prompt: nothing to send"


def test_reasoning_goes_to_stderr(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    server.set(reasoning="Thinking it over.")
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})})
    result = llmc(home, data, "-m", "ca", "-p", "hello")
    assert result.returncode == 0
    assert result.stdout == REPLY + "\n"
    assert result.stderr == "REASONING:\nThinking it over.\n\nANSWER:\n"


@pytest.mark.parametrize("case", ["wrong key", "dead server", "broken YAML", "broken TOML"])
def test_failures_give_one_line_and_leave_files_alone(case: str, home: Path, data: Path,
                                                      server: FakeOpenAIServer) -> None:
    url = "http://127.0.0.1:9/v1" if case == "dead server" else server.base_url
    key = "wrong-key-123" if case == "wrong key" else "test-key"
    write_config(data, {"fake": fake_provider(url, key, valid_models={"chat-a": "ca"})})
    (data / YAML_NAME).write_text("providers:\n  fake:\n    invalid_models: [old]\n")
    if case == "broken YAML":
        (data / YAML_NAME).write_text("providers:\n  fake: [unclosed\n")
    if case == "broken TOML":
        (data / "config.toml").write_text("[providers.fake\n")
    before = snapshot(data)
    for args in (["-m", "fake/chat-a", "-p", "hello"], ["--discover-models", "fake"]):
        result = llmc(home, data, *args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and "wrong-key-123" not in result.stderr + result.stdout
        if args[0] == "-m" or case.startswith("broken"):
            line = one_error_line(result)
            expected = {"wrong key": "API request failed with status code 401.", "dead server": "connection refused",
                        "broken YAML": f"{data / YAML_NAME}: line 3", "broken TOML": "config.toml"}[case]
            assert expected in line
        assert snapshot(data) == before


def test_no_colour_codes_with_no_color_on_a_terminal(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})})
    env = clean_env(home, {"NO_COLOR": "1", "TERM": "xterm-256color"})
    child = pexpect.spawn(sys.executable, [str(MAIN), "-d", str(data), "-m", "ca", "-p", "hello"],
                          env=env, cwd=str(ROOT), encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert REPLY in child.before and not ANSI.search(child.before)


def test_version(home: Path) -> None:
    for flag in ("-v", "--version"):
        result = run_llmc([flag], home)
        assert result.returncode == 0 and result.stdout == f"llmc {__version__}\n"


def test_help_epilog(home: Path) -> None:
    result = run_llmc_in_process(["--help"], home)
    assert result.returncode == 0
    assert result.stdout.rstrip().endswith("Type /help at the prompt for in-chat command help.")
    for flag in ("--prompt", "--discover-models", "--force-refresh", "--update-valid-models",
                 "--provider", "--create-config", "--data-directory", "--list-models"):
        assert flag in result.stdout


def test_create_config_never_loses_a_setting(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    result = run_llmc_in_process(["-d", str(target), "--create-config"], home)
    assert result.returncode == 0 and result.stdout == f"Created {target / 'config.toml'}\n"
    assert (target / "config.toml").stat().st_mode & 0o777 == 0o600
    (target / "config.toml").write_text('model = "local/mine"\n')  # as --add-provider leaves it
    again = run_llmc_in_process(["-d", str(target), "--create-config"], home)
    assert again.returncode == 0 and again.stderr == ""
    assert again.stdout == (f"Wrote the commented template into {target / 'config.toml'}, around the settings "
                            "it held (model)\n")
    text = (target / "config.toml").read_text()
    assert '\nmodel = "local/mine"\n' in text and "# Provider overrides" in text
    (target / "config.toml").write_text("model = [unclosed\n")
    before = snapshot(target)
    broken = run_llmc_in_process(["-d", str(target), "--create-config"], home)
    assert broken.returncode == 2 and one_error_line(broken).endswith("; not changed")
    assert snapshot(target) == before


def test_default_data_directory_is_under_home(home: Path) -> None:
    result = run_llmc_in_process(["--create-config"], home)
    assert result.returncode == 0
    assert (home / ".llm_chat_cli" / "config.toml").is_file()


def test_broken_pipe_is_quiet(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    import subprocess
    server.set(reply="line of text\n" * 20000)
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})})
    command = f"{sys.executable} {MAIN} -d {data} -m ca -p hello | head -n 2"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], env=clean_env(home),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.stdout == "line of text\nline of text\n"
    assert result.stderr == "" and result.returncode == 141


# ----- bad input on the command line and in files ---------------------------------------------

def test_unknown_model_lists_close_matches(home: Path, data: Path) -> None:
    result = llmc(home, data, "-m", "gpt-4o", "-p", "hello")
    assert result.returncode == 2
    line = one_error_line(result)
    assert line.startswith("llmc: error: Invalid model: gpt-4o. Did you mean: openai/gpt-4o-2024-08-06 (4o), "
                           "openai/gpt-4o-mini-2024-07-18 (4o-mini)")
    prefixed = one_error_line(llmc(home, data, "-m", "openai/4.2-mini", "-p", "hello"))
    assert "Invalid model for provider openai: 4.2-mini. Did you mean: openai/gpt-4.1-mini-2025-04-14" in prefixed


def test_unknown_provider(home: Path, data: Path) -> None:
    result = llmc(home, data, "-m", "nosuch/model", "-p", "hello")
    assert result.returncode == 2
    assert f"'nosuch' is not a provider either; known: openai, deepseek, hyperbolic, {PRESETS}, fake" in one_error_line(result)
    discovery = llmc(home, data, "--discover-models", "nosuch")
    assert discovery.returncode == 1
    assert one_error_line(discovery) == ("llmc: error: Provider 'nosuch' not found. Known providers: "
                                         f"openai, deepseek, hyperbolic, {PRESETS}, fake")


@pytest.mark.parametrize("args, expected", [
    (["--discover-models", "fake", "-p", "hi"], "llmc: error: --discover-models and -p/--prompt cannot be used "
                                                "together: pick one"),
    (["--create-config", "-l"], "llmc: error: --create-config and -l/--list-models cannot be used together: "
                                "pick one"),
    (["-l", "-uvm"], "llmc: error: -l/--list-models and -uvm/--update-valid-models cannot be used together: "
                     "pick one"),
    (["-m", "", "-p", "hi"], "llmc: error: -m/--model needs a value, not an empty one"),
    (["--discover-models", ""], "llmc: error: --discover-models needs a value, not an empty one"),
    (["--concurrency", "4", "-p", "hi"], "llmc: error: --concurrency works only with --discover-models or "
                                         "--update-valid-models"),
    (["--provider", "fake", "-p", "hi"], "llmc: error: --provider works only with --list-models "
                                         "(use --discover-models PROVIDER to discover)"),
    (["--force-refresh", "-l"], "llmc: error: --force-refresh works only with --discover-models or "
                                "--update-valid-models"),
])
def test_flags_that_would_be_ignored_are_refused(home: Path, data: Path, args: list, expected: str) -> None:
    result = llmc(home, data, *args)
    assert result.returncode == 2 and result.stdout == ""
    assert one_error_line(result) == expected


def test_missing_key_names_the_variable(home: Path, data: Path) -> None:
    result = llmc(home, data, "-m", "deepseek/r1", "-p", "hello")
    assert result.returncode == 2
    assert one_error_line(result) == ("llmc: error: No API key for provider deepseek: set DEEPSEEK_API_KEY "
                                      "or [providers.deepseek] api_key in config.toml (a server on this "
                                      "machine needs none: add one with --add-provider NAME URL)")


def test_data_directory_that_cannot_be_created_or_used(home: Path, tmp_path: Path) -> None:
    impossible = "/proc/llmc-test-cannot-exist"
    for args in (["--create-config"], ["--discover-models"]):
        result = run_llmc_in_process(["-d", impossible, *args], home)
        assert result.returncode == 2
        assert one_error_line(result).startswith(f"llmc: error: cannot create data directory {impossible}: ")
    a_file = tmp_path / "plain-file"
    a_file.write_text("")
    result = run_llmc_in_process(["-d", str(a_file), "-m", "4o", "-p", "hello"], home)
    assert one_error_line(result) == f"llmc: error: data directory {a_file} is not a directory"


@pytest.mark.parametrize("name, content, expected", [
    ("config.toml", "model = \n", "config.toml: Invalid value (at line 1, column 9)"),
    (YAML_NAME, "providers:\n  openai:\n    name: 'open\n", f"{YAML_NAME}: line 4"),
    (YAML_NAME, "providers:\n  openai:\n    valid_models: [a]\n",
     "provider 'openai': field 'valid_models' must be a mapping of long model id to short name, not a list"),
    ("config.toml", "[providers.openai]\nbase_api_url = 42\n",
     "provider 'openai': field 'base_api_url' must be text, not a number (42)"),
    ("config.toml", "read_timeout = \"soon\"\n", "field 'read_timeout'"),
    (YAML_NAME, None, "is a directory, expected a providers YAML file"),
    ("config.toml", None, "is a directory, expected a config file"),
])
def test_bad_files_give_one_line_and_stay_untouched(home: Path, data: Path, name: str, content, expected: str) -> None:
    target = data / name
    if content is None:
        target.unlink(missing_ok=True)
        target.mkdir()
    else:
        target.write_text(content)
    before = snapshot(data)
    for args in (["--list-models"], ["-m", "4o", "-p", "hello"], ["--discover-models"]):
        result = llmc(home, data, *args)
        assert result.returncode == 2, args
        assert expected in one_error_line(result)
        assert str(target) in result.stderr
        assert snapshot(data) == before


def test_unknown_fields_are_warned_not_fatal(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"}, colour="blue")},
                 'modle = "typo"')
    result = llmc(home, data, "-m", "ca", "-p", "hello")
    assert result.returncode == 0 and result.stdout == REPLY + "\n"
    assert sorted(result.stderr.splitlines()) == [
        f"Warning: {data / 'config.toml'}: provider 'fake': unknown field 'colour' ignored",
        f"Warning: {data / 'config.toml'}: unknown setting 'modle' ignored"]


def test_output_to_a_full_disk_or_a_closed_stdout_is_one_line(home: Path, data: Path) -> None:
    import subprocess
    import sys
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, str(ROOT / "main.py"), "-d", str(data), "-l"], stdout=full,
                                stderr=subprocess.PIPE, text=True, env=clean_env(home), timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 74
    assert result.stderr == "llmc: error: cannot write the output: No space left on device\n"
    closed = subprocess.run(["bash", "-c", f'"{sys.executable}" "{ROOT / "main.py"}" -d "{data}" -l >&-'],
                            stderr=subprocess.PIPE, text=True, env=clean_env(home), timeout=30, stdin=subprocess.DEVNULL)
    assert closed.returncode == 74
    assert closed.stderr == "llmc: error: standard output or standard error is closed\n"
    with open("/dev/full", "w") as full:
        helped = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], stdout=full,
                                stderr=subprocess.PIPE, text=True, env=clean_env(home), timeout=30)
    assert helped.returncode == 74


def test_a_prompt_can_follow_up_a_saved_chat(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})})
    (home / "hist.json").write_text('[{"role": "system", "content": "be terse"}, {"role": "user", "content": "q1"},'
                                    ' {"role": "assistant", "content": "a1"}]')
    result = llmc(home, data, "-m", "fake/chat-a", "-f", "hist.json", "-p", "follow up")  # found in the cwd
    assert result.returncode == 0, result.stderr
    sent = [r["json"]["messages"] for r in server.requests if r["path"].endswith("/chat/completions")][-1]
    assert [m["content"] for m in sent] == ["be terse", "q1", "a1", "follow up"]
    llmc(home, data, "-m", "fake/chat-a", "-f", "hist.json", "-s", "be chatty", "-p", "follow up")
    sent = [r["json"]["messages"] for r in server.requests if r["path"].endswith("/chat/completions")][-1]
    assert [m["content"] for m in sent] == ["be chatty", "q1", "a1", "follow up"]  # the flag wins
    missing = llmc(home, data, "-m", "fake/chat-a", "-f", "nothere", "-p", "follow up")
    assert missing.returncode == 2
    assert one_error_line(missing) == f"llmc: error: {data / 'nothere.json'}: no such chat file"


@pytest.mark.parametrize("name", ["config.toml", YAML_NAME])
def test_a_fifo_or_device_as_a_data_file_fails_at_once(home: Path, data: Path, name: str) -> None:
    target = data / name
    target.unlink(missing_ok=True)
    os.mkfifo(target)  # no writer: a plain read would hang forever
    for args in (["--list-models"], ["-m", "4o", "-p", "hello"]):
        result = run_llmc(["-d", str(data), *args], home, timeout=20)  # a process: a hang is a failure
        assert result.returncode == 2, args
        assert one_error_line(result).endswith(f"{target}: not a regular file (a FIFO), expected a "
                                               f"{'config file' if name == 'config.toml' else 'providers YAML file'}")
    target.unlink()
    target.symlink_to("/dev/zero")  # a plain read would eat all memory
    result = run_llmc(["-d", str(data), "--list-models"], home, timeout=20)
    assert result.returncode == 2 and "(a character device)" in one_error_line(result)


def test_discovered_ids_that_yaml_1_1_misreads_survive_the_next_run(home: Path, data: Path) -> None:
    odd_ids = ["12:30", "off", "yes", "0x10", "null"]
    with FakeOpenAIServer(chat_models=odd_ids, non_chat_models=["No", "~"], reply=REPLY) as own:
        write_config(data, {"fake": fake_provider(own.base_url)})
        result = llmc(home, data, "--discover-models", "fake")
        assert result.returncode == 0, result.stderr
    listed = llmc(home, data, "--list-models", "--provider", "fake")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.splitlines()) == sorted(f"fake/{m} ({m})" for m in odd_ids)
    saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["fake"]
    assert saved["invalid_models"] == ["No", "~"]


def test_a_duplicate_key_in_the_providers_yaml_is_refused_before_any_discovery(home: Path, data: Path) -> None:
    path = data / YAML_NAME
    path.write_text("providers:\n  fake:\n    valid_models: {m: m}\n  fake:\n    valid_models: {n: n}\n")
    before = snapshot(data)
    for args in (["--list-models"], ["--discover-models", "fake"]):
        result = llmc(home, data, *args)
        assert result.returncode == 2, args
        assert one_error_line(result) == (f"llmc: error: {path}: line 4: duplicate key 'fake' "
                                          "(first on line 2)")
    assert snapshot(data) == before


@pytest.mark.parametrize("where", ["environment", "config.toml"])
def test_a_bad_default_model_says_where_it_came_from(home: Path, data: Path, where: str) -> None:
    if where == "config.toml":
        text = (data / "config.toml").read_text()
        (data / "config.toml").write_text('model = "nosuch"\n' + text)  # top level, before the tables
        result = llmc(home, data, "-p", "hello")
        expected = f"(the model 'nosuch' came from {data / 'config.toml'})"
    else:
        result = run_llmc_in_process(["-d", str(data), "-p", "hello"], home, env={"LLMC_DEFAULT_MODEL": "nosuch"})
        expected = "(the model 'nosuch' came from LLMC_DEFAULT_MODEL)"
    assert result.returncode == 2
    line = one_error_line(result)
    assert line.startswith("llmc: error: Invalid model: nosuch.") and line.endswith(expected)
