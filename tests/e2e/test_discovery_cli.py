"""`llmc --discover-models` end to end: a real process against the fake server on 127.0.0.1."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pexpect
import pytest
import yaml

from tests.e2e.cli_support import run_llmc, run_llmc_in_process
from tests.fake_openai_server import FakeOpenAIServer
from tests.hostile_server import HostileServer, models_list

ROOT = Path(__file__).resolve().parents[2]
CHAT = ["chat-a", "chat-b", "org/chat-c"]
NON_CHAT = ["embed-1"]


@pytest.fixture
def server():
    with FakeOpenAIServer(chat_models=CHAT, non_chat_models=NON_CHAT) as srv:
        yield srv


@pytest.fixture
def env(home: Path) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("LLMC_")}
    environ.update(HOME=str(home), NO_COLOR="1", PYTHONPATH=str(ROOT), LLMC_LOCAL_PORTS="")
    return environ


def write_config(data: Path, srv_url: str, name: str = "fake", key: str = "test-key") -> None:
    data.mkdir(exist_ok=True)
    with open(data / "config.toml", "a", encoding="utf-8") as fh:
        fh.write(f'[providers.{name}]\nname = "Fake"\nbase_api_url = "{srv_url}"\napi_key = "{key}"\n')


def llmc(args: List[str], env: dict) -> subprocess.CompletedProcess:
    """llmc with `env`, in this process (Ctrl-C and the pty below need a process of their own)."""
    return run_llmc_in_process(args, Path(env["HOME"]), env=env)


def test_discover_then_list_offline(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    result = llmc(["-d", str(data), "--discover-models", "fake"], env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # the results alone; notices go to stderr
    assert len(lines) == 1 and lines[0].startswith("fake: 4 models found, 3 valid, 1 invalid, 0 undecided (")
    assert f"Provider configurations persisted to {data / 'openaicompat-providers.yaml'}" in result.stderr
    assert "fake: pinging 4 models" in result.stderr and "fake: pinged 4/4" in result.stderr
    assert "\x1b" not in result.stderr  # not a terminal: plain lines, no control codes
    saved = yaml.safe_load((data / "openaicompat-providers.yaml").read_text())["providers"]["fake"]
    assert saved["valid_models"] == {m: m for m in CHAT} and saved["invalid_models"] == NON_CHAT
    assert "api_key" not in saved
    assert oct((data / "openaicompat-providers.yaml").stat().st_mode & 0o777) == "0o600"

    server.stop()  # listing must not need the network
    listed = llmc(["-d", str(data), "--list-models", "--provider", "fake"], env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [f"fake/{m} ({m})" for m in CHAT]


def test_second_run_does_not_ping_remembered_invalid_models(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    assert llmc(["-d", str(data), "--discover-models", "fake"], env).returncode == 0
    server.clear_requests()
    assert llmc(["-d", str(data), "--discover-models", "fake"], env).returncode == 0
    pinged = [r["json"]["model"] for r in server.requests if r["path"].endswith("/chat/completions")]
    assert sorted(pinged) == sorted(CHAT)
    server.clear_requests()
    assert llmc(["-d", str(data), "--discover-models", "fake", "--force-refresh"], env).returncode == 0
    pinged = [r["json"]["model"] for r in server.requests if r["path"].endswith("/chat/completions")]
    assert sorted(pinged) == sorted(CHAT + NON_CHAT)


def test_concurrency_flag_limits_requests_in_flight(tmp_path, env):
    with FakeOpenAIServer(chat_models=[f"m{i}" for i in range(12)], non_chat_models=[], latency=0.05) as srv:
        data = tmp_path / "data"
        write_config(data, srv.base_url)
        result = llmc(["-d", str(data), "--discover-models", "fake", "--concurrency", "3"], env)
        assert result.returncode == 0, result.stderr
        assert srv.connections_opened <= 3


def test_concurrency_from_config_toml(tmp_path, env):
    with FakeOpenAIServer(chat_models=[f"m{i}" for i in range(12)], non_chat_models=[], latency=0.05) as srv:
        data = tmp_path / "data"
        data.mkdir()
        (data / "config.toml").write_text("concurrency = 2\n")
        write_config(data, srv.base_url)
        assert llmc(["-d", str(data), "--discover-models", "fake"], env).returncode == 0
        assert srv.connections_opened <= 2


@pytest.mark.parametrize("value", ["0", "257", "many"])
def test_bad_concurrency_is_one_line_and_exit_2(tmp_path, env, value):
    result = llmc(["-d", str(tmp_path), "--discover-models", "--concurrency", value], env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("llmc: error: argument --concurrency: ")
    assert "Traceback" not in result.stderr


def test_unknown_provider_lists_known_ones_and_fails(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    result = llmc(["-d", str(data), "--discover-models", "nope"], env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Provider 'nope' not found. Known providers: openai, deepseek, hyperbolic, openrouter" in result.stderr


def test_providers_without_keys_are_skipped(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    result = llmc(["-d", str(data), "--discover-models"], env)
    assert result.returncode == 0, result.stderr
    passed_over = [line for line in result.stderr.splitlines() if "without an API key" in line]
    assert passed_over == ["Passed over 12 providers without an API key (openai, deepseek, hyperbolic, openrouter, "
                           "groq, together, mistral, fireworks, cerebras, deepinfra, xai, gemini); llmc "
                           "--list-providers shows each one's key variable"]
    assert "Skipping" not in result.stderr + result.stdout and result.stdout.startswith("fake: 4 models found, ")


def test_a_local_provider_without_a_key_is_discovered_and_chats(tmp_path, server, env):
    server.set(api_key=None)
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text(f'[providers.local]\nbase_api_url = "{server.base_url}"\n')
    result = llmc(["-d", str(data), "--discover-models", "local"], env)
    assert result.returncode == 0, result.stderr
    assert "Skipping" not in result.stderr and result.stdout.startswith("local: 4 models found, 3 valid")
    chat = llmc(["-d", str(data), "-m", "local/chat-a", "-p", "hi"], env)
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip() == "Hello from the fake server."
    assert server.requests and all("Authorization" not in r["headers"] for r in server.requests)


def test_a_named_provider_without_a_key_exits_non_zero(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    result = llmc(["-d", str(data), "--discover-models", "hyperbolic"], env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-2:] == ["Skipping hyperbolic: no API key configured (set HYPERBOLIC_API_KEY "
                                               "or run llmc --set-key hyperbolic)",
                                               "Nothing to discover: no provider asked for has an API key."]
    assert not (data / "openaicompat-providers.yaml").exists()


def test_update_valid_models_discovers_then_answers_with_a_new_model(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    result = llmc(["-d", str(data), "-uvm", "-m", "fake/org/chat-c", "-p", "hello"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello from the fake server.\n"  # summaries stay off the answer's stream
    assert "fake: 4 models found, 3 valid, 1 invalid, 0 undecided (" in result.stderr
    saved = yaml.safe_load((data / "openaicompat-providers.yaml").read_text())["providers"]["fake"]
    assert saved["valid_models"] == {m: m for m in CHAT}


def test_update_valid_models_with_a_bad_temperature_fails_before_any_discovery(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    result = llmc(["-d", str(data), "-uvm", "--temperature", "9", "-m", "fake/org/chat-c", "-p", "hello"], env)
    assert result.returncode == 2 and "--temperature 9" in result.stderr, result.stderr
    assert server.requests == [] and not (data / "openaicompat-providers.yaml").exists()


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.mark.parametrize("failure", ["dead", "wrong_key"])
def test_a_failing_provider_leaves_every_file_as_it_was(tmp_path, server, env, failure):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    write_config(data, _dead_url() if failure == "dead" else server.base_url, name="broken",
                 key="test-key" if failure == "dead" else "wrong")
    yaml_path = data / "openaicompat-providers.yaml"
    yaml_path.write_text("# kept\nproviders:\n  fake:\n    valid_models: {old: o}\n")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    result = llmc(["-d", str(data), "--discover-models"], env)
    assert result.returncode == 1
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    cause = "connection refused" if failure == "dead" else "API request failed with status code 401."
    assert any(line.startswith("broken: failed: ") and cause in line for line in result.stderr.splitlines())
    assert "Discovery failed for broken; nothing was saved." in result.stderr
    assert ("To save the others, discover them one at a time with --discover-models NAME (in the chat "
            "/discover-models NAME): fake") in result.stderr
    assert "failed" not in result.stdout and result.stdout.startswith("fake: 4 models found, ")
    assert "wrong" not in result.stdout + result.stderr.replace("wrong_key", "")


def test_live_progress_bar_on_a_terminal(tmp_path, env):
    with FakeOpenAIServer(chat_models=[f"m{i}" for i in range(8)], non_chat_models=[], latency=0.02) as srv:
        data = tmp_path / "data"
        write_config(data, srv.base_url)
        child = pexpect.spawn(sys.executable, [str(ROOT / "main.py"), "-d", str(data), "--discover-models", "fake"],
                              env=env, cwd=str(ROOT), encoding="utf-8", timeout=30, dimensions=(24, 100))
        child.logfile_read = transcript = io.StringIO()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        output = transcript.getvalue()
        assert "\r\x1b[2Kfake [####################] 8/8" in output
        # The bar is cleared before the summary, so the summary starts on a clean line.
        assert "8/8\r\x1b[2Kfake: 8 models found, 8 valid, 0 invalid, 0 undecided (" in output
        assert "pinging" not in output  # no plain progress lines on a terminal


def test_a_key_refused_during_the_pings_fails_naming_the_variable_and_saves_nothing(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    server.set(fault_rate={"/chat/completions": {"status": 401}})
    result = llmc(["-d", str(data), "--discover-models", "fake"], env)
    assert result.returncode == 1 and result.stdout == ""
    assert "fake: failed: the provider refused the API key while its models were pinged" in result.stderr
    assert "FAKE_API_KEY" in result.stderr and "Traceback" not in result.stderr
    assert not (data / "openaicompat-providers.yaml").exists()


def test_together_s_bare_list_is_read_and_its_types_judge_without_pings(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    server.set(models_shape="together")
    result = llmc(["-d", str(data), "--discover-models", "fake"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fake: 4 models found, 3 valid, 1 invalid (1 by metadata, not pinged), "
                                    "0 undecided (")
    pinged = [r["json"]["model"] for r in server.requests if r["path"].endswith("/chat/completions")]
    assert sorted(pinged) == sorted(CHAT)
    saved = yaml.safe_load((data / "openaicompat-providers.yaml").read_text())["providers"]["fake"]
    assert saved["invalid_models"] == NON_CHAT
    assert saved["model_prices"]["chat-a"] == {"prompt": 0.2, "completion": 0.6}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fresh_install_finds_every_kind_of_local_server_and_chats_with_one(tmp_path, env):
    kinds = ["ollama", "lmstudio", "llamacpp", "vllm"]
    servers = [FakeOpenAIServer(api_key=None, server_kind=kind, chat_models=[f"{kind}-chat"],
                                non_chat_models=[f"{kind}-embed"]).start() for kind in kinds]
    try:
        ports = [s.port for s in servers] + [_free_port()]  # and one where nothing listens
        env["LLMC_LOCAL_PORTS"] = ",".join(map(str, ports))
        result = llmc(["--discover-models"], env)
        assert result.returncode == 0, result.stderr
        data = Path(env["HOME"]) / ".llm_chat_cli"
        for kind, server in zip(kinds, servers):
            assert f"added as provider {kind}" in result.stderr and f"{kind}: 2 models found, 1 valid" in result.stdout
            assert all("Authorization" not in r["headers"] for r in server.requests)
        saved = yaml.safe_load((data / "openaicompat-providers.yaml").read_text())["providers"]
        assert {k: saved[k]["base_api_url"] for k in kinds} == {k: s.base_url for k, s in zip(kinds, servers)}
        assert result.stdout.splitlines()[-1] == (
            f"Default model set to ollama/ollama-chat in {data / 'config.toml'} (the default openai/4.1-mini has no "
            "API key: OPENAI_API_KEY is not set). Start chatting: llmc")
        env["LLMC_LOCAL_PORTS"] = ""
        chat = subprocess.run([sys.executable, str(ROOT / "main.py")], input="hi\n", capture_output=True,
                              text=True, env=env, timeout=60, cwd=str(ROOT))
        assert chat.returncode == 0, chat.stderr
        assert chat.stdout.strip() == "Hello from the fake server."
        assert servers[0].requests[-1]["json"]["model"] == "ollama-chat"
    finally:
        for server in servers:
            server.stop()


def test_an_unreachable_provider_fails_the_run_and_says_how_to_save_the_others(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    (data / "config.toml").open("a").write(f'[providers.gone]\nbase_api_url = "http://127.0.0.1:{_free_port()}/v1"\n')
    result = llmc(["-d", str(data), "--discover-models"], env)
    assert result.returncode == 1
    assert "gone: failed: cannot connect to" in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "Discovery failed for gone; nothing was saved.",
        "To save the others, discover them one at a time with --discover-models NAME (in the chat "
        "/discover-models NAME): fake"]
    assert not (data / "openaicompat-providers.yaml").exists()


DEAR = {"pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0.02"}}


def test_costly_pings_without_a_terminal_are_refused_unless_yes(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    server.set(model_metadata={m: DEAR for m in CHAT + NON_CHAT})
    refused = llmc(["-d", str(data), "--discover-models", "fake"], env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "fake: 4 pings may cost up to $0.0803" in refused.stderr
    assert ("fake: failed: not pinged: 4 pings may cost up to $0.0803, more than $0.0500 in all; "
            "answer yes in a terminal or give --yes to send them") in refused.stderr
    assert not [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert not (data / "openaicompat-providers.yaml").exists()
    allowed = llmc(["-d", str(data), "--discover-models", "fake", "--yes"], env)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("fake: 4 models found, 3 valid, 1 invalid, 0 undecided (")


def test_pings_of_unreadable_price_are_refused_without_a_terminal_unless_yes(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    garbled = ["1e308", "NaN", "0.01 USD", True]
    server.set(model_metadata={m: {"pricing": {"prompt": garbled[i], "completion": "0"}}
                               for i, m in enumerate(CHAT + NON_CHAT)})
    refused = llmc(["-d", str(data), "--discover-models", "fake"], env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "fake: 4 pings may cost up to $0.0000; 4 of unknown cost (a listed price llmc cannot read)" in refused.stderr
    assert "fake: failed: not pinged: 4 pings may cost up to $0.0000 and 4 of them an unknown amount" in refused.stderr
    assert not [r for r in server.requests if r["path"].endswith("/chat/completions")]
    allowed = llmc(["-d", str(data), "--discover-models", "fake", "--yes"], env)
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("answer, status", [("y", 0), ("n", 1)])
def test_costly_pings_are_asked_about_in_a_terminal(tmp_path, server, env, answer, status):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    server.set(model_metadata={m: DEAR for m in CHAT + NON_CHAT})
    child = pexpect.spawn(sys.executable, [str(ROOT / "main.py"), "-d", str(data), "--discover-models", "fake"],
                          env=env, cwd=str(ROOT), encoding="utf-8", timeout=30, dimensions=(24, 200))
    child.expect_exact("The 4 pings of fake may cost up to $0.0803 in all. Send them? [y/N] ")
    assert not [r for r in server.requests if r["path"].endswith("/chat/completions")]  # nothing sent before
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == status
    assert len([r for r in server.requests if r["path"].endswith("/chat/completions")]) == (4 if status == 0 else 0)


def test_discovery_timeout_ends_a_providers_discovery_however_many_pings_never_answer(tmp_path, env):
    ids = [f"m{i:04d}" for i in range(2000)]

    def script(request, reply) -> None:
        if request.method == "GET":
            reply.whole(200, models_list(*ids))
        else:
            reply.wait(120)
    data = tmp_path / "data"
    with HostileServer(script) as slow:
        write_config(data, slow.base_url)
        (data / "config.toml").write_text("discovery_timeout = 2\n" + (data / "config.toml").read_text())
        started = time.monotonic()
        result = run_llmc(["-d", str(data), "--discover-models", "fake"], Path(env["HOME"]))  # a process: its exit
        took = time.monotonic() - started
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert ("fake: failed: stopped at discovery_timeout (2 s): 0 of 2000 models pinged (0 valid, 0 invalid), 2000 "
            "undecided and left as they were") in result.stderr
    assert not (data / "openaicompat-providers.yaml").exists()
    assert took < 12, took  # Python's start, the listing and the 2 s; unbounded, it took about 2 hours


@pytest.mark.parametrize("value", ["0", "-1", "100000", '"5"'])
def test_discovery_timeout_is_bounded(tmp_path, server, env, value):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    (data / "config.toml").write_text(f"discovery_timeout = {value}\n" + (data / "config.toml").read_text())
    result = llmc(["-d", str(data), "--discover-models", "fake"], env)
    assert result.returncode == 2 and "discovery_timeout" in result.stderr and "Traceback" not in result.stderr


def test_yes_works_only_with_discovery(tmp_path, env):
    result = llmc(["-d", str(tmp_path / "data"), "--yes", "-p", "hi"], env)
    assert result.returncode == 2 and "--yes works only with" in result.stderr


def test_the_chat_asks_before_costly_pings_too(tmp_path, server):
    from tests.e2e.pty_support import finish, send, spawn
    data = tmp_path / "data"
    write_config(data, server.base_url)
    with open(data / "config.toml", "r+") as fh:
        text = fh.read()
        fh.seek(0)
        fh.write('model = "fake/chat-a"\n' + text + 'valid_models = { "chat-a" = "a" }\n')
    server.set(model_metadata={m: DEAR for m in CHAT + NON_CHAT})
    child = spawn(data)
    child.expect_exact("a >")
    send(child, "/discover-models fake")
    child.expect_exact("Send them? [y/N] ")
    child.sendline("y")
    child.expect_exact("fake: 4 models found, 3 valid, 1 invalid, 0 undecided")
    child.expect_exact("a >")
    finish(child)
    assert len([r for r in server.requests if r["path"].endswith("/chat/completions")]) == 4


def test_openrouter_capabilities_are_saved_and_listed_long_offline(tmp_path, server, env):
    data = tmp_path / "data"
    write_config(data, server.base_url)
    server.set(models_shape="openrouter", model_metadata={
        "chat-a": {"supported_parameters": ["tools", "temperature"],
                   "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]}},
        "chat-b": {"context_length": 131072, "supported_parameters": ["temperature"]}})
    assert llmc(["-d", str(data), "--discover-models", "fake"], env).returncode == 0
    saved = yaml.safe_load((data / "openaicompat-providers.yaml").read_text())["providers"]["fake"]
    assert saved["model_capabilities"] == {"chat-a": {"tools": True, "images": True, "context_length": 8192},
                                           "chat-b": {"tools": False, "images": False, "context_length": 131072},
                                           "org/chat-c": {"images": False, "context_length": 8192}}
    server.stop()  # the column comes from the file, not the network
    listed = llmc(["-d", str(data), "--list-models", "--long", "--provider", "fake"], env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == ["fake/chat-a (chat-a)          tools images 8k ctx",
                                          "fake/chat-b (chat-b)          no tools no images 128k ctx",
                                          "fake/org/chat-c (org/chat-c)  tools ? no images 8k ctx"]
    short = llmc(["-d", str(data), "--list-models", "--provider", "fake"], env)
    assert short.stdout.splitlines() == [f"fake/{m} ({m})" for m in CHAT]
    misused = llmc(["-d", str(data), "--long"], env)
    assert misused.returncode == 2 and misused.stderr.strip().endswith("--long works only with --list-models")
