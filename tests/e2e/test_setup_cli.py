"""Setting up in a minute: provider presets, --list-providers and stored keys, end to end against the loopback
server (each preset is pointed at it by config.toml; no test talks to a real provider)."""
from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.e2e.cli_support import YAML_NAME, run_llmc_in_process
from tests.fake_openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
PRESET_KEY = "sk-or-v1-PRESET-0123456789abcdef"
STORED_KEY = "gsk-STORED-fedcba9876543210"


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=PRESET_KEY, chat_models=["meta/chat-a", "chat-b"]) as srv:
        yield srv


def point_preset_at(data: Path, name: str, url: str, extra: str = "") -> None:
    """config.toml overrides only the preset's base URL (so the test stays on loopback)."""
    data.mkdir(exist_ok=True)
    with open(data / "config.toml", "a", encoding="utf-8") as fh:
        fh.write(f'[providers.{name}]\nbase_api_url = "{url}"\n{extra}')


def llmc(data: Path, home: Path, *args: str, stdin: str | None = None, env: dict | None = None):
    return run_llmc_in_process(["-d", str(data), *args], home, stdin=stdin, env=env)


def authorizations(server: FakeOpenAIServer) -> set:
    return {request["headers"].get("Authorization") for request in server.requests}


def test_a_preset_works_as_soon_as_its_key_is_set(tmp_path, home, server):
    data = tmp_path / "data"
    point_preset_at(data, "openrouter", server.base_url)
    env = {"OPENROUTER_API_KEY": PRESET_KEY}
    found = llmc(data, home, "--discover-models", "openrouter", env=env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("openrouter: ") and "2 valid" in found.stdout
    answer = llmc(data, home, "-m", "openrouter/meta/chat-a", "-p", "hi", env=env)
    assert (answer.returncode, answer.stdout) == (0, "Hello from the fake server.\n"), answer.stderr
    assert authorizations(server) == {f"Bearer {PRESET_KEY}"}
    assert server.requests[-1]["json"]["model"] == "meta/chat-a"


def test_add_provider_with_a_preset_name_needs_no_url_and_then_llmc_chats(tmp_path, home, server):
    data = tmp_path / "data"
    point_preset_at(data, "groq", server.base_url)
    env = {"GROQ_API_KEY": PRESET_KEY}
    added = llmc(data, home, "--add-provider", "groq", env=env)
    assert added.returncode == 0, added.stderr
    assert f"Added provider groq ({server.base_url})" in added.stdout
    assert "Default model set to groq/" in added.stdout  # openai's default has no key here
    saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["groq"]
    assert saved["base_api_url"] == server.base_url and set(saved["valid_models"]) == {"meta/chat-a", "chat-b"}
    answer = llmc(data, home, "hello", env=env)
    assert (answer.returncode, answer.stdout) == (0, "Hello from the fake server.\n"), answer.stderr


def test_add_provider_without_a_url_refuses_an_unknown_name(tmp_path, home):
    result = llmc(tmp_path / "data", home, "--add-provider", "nosuch")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("llmc: error: no provider named 'nosuch' is known, so its URL is needed: "
                                    "--add-provider nosuch URL")
    assert "openrouter, groq" in result.stderr and len(result.stderr.splitlines()) == 1
    three = llmc(tmp_path / "data", home, "--add-provider", "a", "http://127.0.0.1:1/v1", "extra")
    assert three.returncode == 2 and "--add-provider takes a NAME and an optional URL, not 3 values" in three.stderr


def test_list_providers_says_where_each_key_comes_from_and_never_the_key(tmp_path, home, server):
    data = tmp_path / "data"
    toml_key, yaml_key, env_key = "xai-TOML-key-1111222233334444", "tog-YAML-key-5555666677778888", PRESET_KEY
    point_preset_at(data, "openrouter", server.base_url)
    point_preset_at(data, "xai", "https://api.x.ai/v1", f'api_key = "{toml_key}"\n')
    point_preset_at(data, "local", server.base_url)
    (data / YAML_NAME).write_text(f"providers:\n  together:\n    api_key: {yaml_key}\n")
    (data / YAML_NAME).chmod(0o600)
    env = {"OPENROUTER_API_KEY": env_key}
    assert llmc(data, home, "--set-key", "mistral", stdin=STORED_KEY + "\n", env=env).returncode == 0
    assert llmc(data, home, "--discover-models", "openrouter", env=env).returncode == 0
    listed = llmc(data, home, "--list-providers", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert rows["PROVIDER"].split() == ["PROVIDER", "BASE", "URL", "KEY", "MODELS"]
    assert rows["openrouter"].split() == ["openrouter", server.base_url, "environment", "(OPENROUTER_API_KEY)", "2"]
    assert rows["mistral"].split() == ["mistral", "https://api.mistral.ai/v1", "keys", "file",
                                       f"({data / 'keys.toml'})", "0"]
    assert rows["xai"].split()[2:] == ["config.toml", "0"]
    assert rows["together"].split()[2:] == ["providers", "YAML", "0"]
    assert rows["local"].split()[2:] == ["not", "needed", "(this", "machine)", "0"]
    assert rows["groq"].split()[2:] == ["none:", "set", "GROQ_API_KEY", "or", "run", "llmc", "--set-key", "groq", "0"]
    assert rows["openai"].split()[-1] == "6"  # the built-in models count as valid ones
    for key in (toml_key, yaml_key, env_key, STORED_KEY):
        assert key[-12:] not in listed.stdout + listed.stderr


def test_set_key_stores_it_0600_and_the_environment_wins_over_it(tmp_path, home, server):
    data = tmp_path / "data"
    point_preset_at(data, "groq", server.base_url, 'valid_models = { "chat-b" = "b" }\n')
    stored = llmc(data, home, "--set-key", "groq", stdin=STORED_KEY + "\n")
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout == f"Stored the API key of groq in {data / 'keys.toml'} (mode 0600).\n"
    keys_file = data / "keys.toml"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert f'"groq" = "{STORED_KEY}"' in keys_file.read_text()
    assert STORED_KEY[-12:] not in stored.stdout + stored.stderr
    llmc(data, home, "-m", "groq/b", "-p", "hi")  # the server wants PRESET_KEY: refused, but it shows what was sent
    assert authorizations(server) == {f"Bearer {STORED_KEY}"}
    server.requests.clear()
    answer = llmc(data, home, "-m", "groq/b", "-p", "hi", env={"GROQ_API_KEY": PRESET_KEY})
    assert answer.returncode == 0, answer.stderr
    assert authorizations(server) == {f"Bearer {PRESET_KEY}"}
    assert "Using API key" not in answer.stderr  # /config says where a key came from, not every run
    again = llmc(data, home, "--set-key", "groq", stdin=PRESET_KEY, env={"GROQ_API_KEY": PRESET_KEY})
    assert "Note: the key from environment (GROQ_API_KEY) is used for groq while it is there" in again.stderr
    server.requests.clear()
    assert llmc(data, home, "-m", "groq/b", "-p", "hi").returncode == 0  # the stored key is now the right one
    assert authorizations(server) == {f"Bearer {PRESET_KEY}"}


def test_set_key_keeps_the_other_keys_and_unset_key_removes_one(tmp_path, home):
    data = tmp_path / "data"
    assert llmc(data, home, "--set-key", "groq", stdin=STORED_KEY).returncode == 0
    assert llmc(data, home, "--set-key", "mistral", stdin="mistral-KEY-0123456789").returncode == 0
    assert llmc(data, home, "--set-key", "groq", stdin="gsk-NEWER-0123456789").returncode == 0
    text = (data / "keys.toml").read_text()
    assert '"groq" = "gsk-NEWER-0123456789"' in text and '"mistral" = "mistral-KEY-0123456789"' in text
    assert STORED_KEY not in text
    removed = llmc(data, home, "--unset-key", "groq")
    assert (removed.returncode, removed.stdout) == (0, f"Removed the API key of groq from {data / 'keys.toml'}.\n")
    assert "groq" not in (data / "keys.toml").read_text() and "mistral" in (data / "keys.toml").read_text()
    absent = llmc(data, home, "--unset-key", "groq")
    assert absent.returncode == 0 and absent.stderr == f"No key of groq is stored in {data / 'keys.toml'}; nothing changed.\n"


@pytest.mark.parametrize("stdin, message", [
    ("", "no key given (nothing was read); nothing was stored"),
    ("two words\n", "the key holds spaces, line breaks or control characters"),
    ("one\ntwo\n", "the key holds spaces, line breaks or control characters"),
])
def test_set_key_refuses_what_cannot_be_a_key_and_writes_nothing(tmp_path, home, stdin, message):
    data = tmp_path / "data"
    result = llmc(data, home, "--set-key", "groq", stdin=stdin)
    assert result.returncode == 2 and result.stderr.startswith(f"llmc: error: {message}")
    assert not (data / "keys.toml").exists()


def test_set_key_for_an_unknown_provider_and_a_broken_keys_file(tmp_path, home):
    data = tmp_path / "data"
    unknown = llmc(data, home, "--set-key", "nosuch", stdin=STORED_KEY)
    assert unknown.returncode == 1 and "Provider 'nosuch' not found. Known providers: openai" in unknown.stderr
    data.mkdir(exist_ok=True)
    (data / "keys.toml").write_text('groq = 42\n')
    broken = llmc(data, home, "--set-key", "mistral", stdin=STORED_KEY)
    assert broken.returncode == 2
    assert broken.stderr == (f"llmc: error: {data / 'keys.toml'}: 'groq' must be a key in quotes "
                             '(name = "key"), not a int\n')
    assert (data / "keys.toml").read_text() == "groq = 42\n"  # never overwritten


def test_a_keys_file_others_can_read_gets_a_warning(tmp_path, home):
    data = tmp_path / "data"
    assert llmc(data, home, "--set-key", "groq", stdin=STORED_KEY).returncode == 0
    (data / "keys.toml").chmod(0o644)
    listed = llmc(data, home, "--list-providers")
    assert f"Warning: {data / 'keys.toml'} holds API keys and is readable by others; run: chmod 600" in listed.stderr
    assert llmc(data, home, "--set-key", "groq", stdin=STORED_KEY).returncode == 0
    assert stat.S_IMODE((data / "keys.toml").stat().st_mode) == 0o600  # a rewrite tightens it


def test_a_stored_key_echoed_by_a_provider_is_masked(tmp_path, home, server):
    data = tmp_path / "data"
    point_preset_at(data, "groq", server.base_url, 'valid_models = { "chat-b" = "b" }\nmax_retries = 0\n')
    assert llmc(data, home, "--set-key", "groq", stdin=STORED_KEY).returncode == 0
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {STORED_KEY[:-4]}****"}})
    server.add_fault("/chat/completions", {"status": 401, "body": echo, "content_type": "application/json"})
    result = llmc(data, home, "-m", "groq/b", "-p", "hi")
    assert result.returncode == 1 and "API request failed with status code 401" in result.stderr
    assert STORED_KEY[:10] not in result.stderr and STORED_KEY[-10:-4] not in result.stderr


def test_set_key_at_a_terminal_reads_the_key_without_echo(tmp_path):
    data = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT), "LLMC_LOCAL_PORTS": ""}
    child = pexpect.spawn(sys.executable, [str(ROOT / "main.py"), "-d", str(data), "--set-key", "groq"],
                          env=env, encoding="utf-8", timeout=15)
    child.logfile_read = io.StringIO()  # everything the terminal showed
    try:
        child.expect_exact("API key for groq (not shown; Enter when done): ")
        child.sendline(STORED_KEY)
        child.expect_exact("Stored the API key of groq")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    seen = child.logfile_read.getvalue()
    assert child.exitstatus == 0, seen
    assert STORED_KEY not in seen and STORED_KEY[-8:] not in seen
    assert f'"groq" = "{STORED_KEY}"' in (data / "keys.toml").read_text()
