"""A full CLI session with known keys never shows or writes them: every output and file is scanned."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

from tests.e2e.cli_support import YAML_NAME, ServerProcess, run_llmc, write_config
from tests.e2e.pty_support import finish

ENV_KEY = "sk-llmc-env-SECRET-0123456789abcdef"
TOML_KEY = "sk-llmc-toml-SECRET-fedcba9876543210"
YAML_KEY = "yaml-SECRET-key-5555666677778888"


def secret_parts(key: str) -> List[str]:
    """The key and its long tails: a key cut or prefixed differently still counts as leaked."""
    return [key, key[3:], key[-16:]]


def test_keys_never_appear_in_output_or_files(tmp_path: Path, home: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess({"api_key": ENV_KEY, "chat_models": ["chat"], "non_chat_models": ["embed"],
                        "reply": "fine"}, workdir=tmp_path) as good, \
            ServerProcess({"api_key": "another-key-entirely", "chat_models": ["other"]},
                          workdir=tmp_path) as wrong:
        write_config(data, {
            "fake": {"name": "Fake", "base_api_url": good.base_url, "valid_models": {"chat": "c"}},
            "tomlprov": {"name": "T", "base_api_url": wrong.base_url, "api_key": TOML_KEY,
                         "valid_models": {"other": "o"}},
        }, "max_retries = 0")
        (data / YAML_NAME).write_text(f"providers:\n  yamlprov:\n    base_api_url: {wrong.base_url}\n"
                                      f"    api_key: {YAML_KEY}\n    valid_models: {{other: yo}}\n")
        (data / YAML_NAME).chmod(0o644)
        env = {"FAKE_API_KEY": ENV_KEY}
        echo_body = json.dumps({"error": {"message": f"Incorrect API key provided: {ENV_KEY}"}})
        runs: Dict[str, object] = {}

        def llmc(label: str, *args: str, stdin: str | None = None) -> None:
            runs[label] = run_llmc(["-d", str(data), *args], home, stdin=stdin, env=env)

        llmc("discover", "--discover-models", "fake")
        llmc("discover all", "--discover-models")
        llmc("list", "--list-models")
        llmc("prompt", "-m", "fake/chat", "-p", "hello")
        llmc("stdin", "-m", "c", "-p", "-", stdin="from stdin")
        good.add_fault("/chat/completions", {"status": 401, "body": echo_body, "content_type": "application/json"})
        llmc("401 echoing the key", "-m", "c", "-p", "hello")
        good.add_fault("/chat/completions", {"kind": "html_error", "status": 502,
                                             "body": f"<html><title>bad {ENV_KEY}</title></html>"})
        llmc("html echoing the key", "-m", "c", "-p", "hello")
        good.add_fault("/chat/completions", {"status": 200, "body": f"oops {ENV_KEY}",
                                             "content_type": "text/plain"})
        llmc("non-stream body echoing the key", "-m", "c", "-p", "hello")
        good.add_fault("/models", {"status": 401, "body": echo_body, "content_type": "application/json"})
        llmc("discovery 401", "--discover-models", "fake")
        llmc("wrong key from config.toml", "-m", "tomlprov/o", "-p", "hello")
        llmc("wrong key from the YAML", "-m", "yamlprov/yo", "-p", "hello")
        llmc("discovery with wrong keys", "--discover-models", "tomlprov")
        llmc("unknown model", "-m", "nosuch", "-p", "hello")
        llmc("create config", "--create-config")

    assert runs["prompt"].returncode == 0 and runs["prompt"].stdout == "fine\n"
    assert runs["discover"].returncode == 0
    for label in ("401 echoing the key", "wrong key from config.toml", "wrong key from the YAML"):
        assert runs[label].returncode == 1 and "API request failed with status code 401." in runs[label].stderr, label
    assert "run: chmod 600" in runs["list"].stderr  # the YAML holds a key and others may read it

    outputs = {label: run.stdout + run.stderr for label, run in runs.items()}
    for label, text in outputs.items():
        assert "Traceback" not in text, label
        for key in (ENV_KEY, TOML_KEY, YAML_KEY):
            for part in secret_parts(key):
                assert part not in text, (label, part)

    files = [p for p in list(data.rglob("*")) + list(home.rglob("*")) if p.is_file()]
    assert (data / YAML_NAME) in files
    for path in files:
        content = path.read_bytes().decode("utf-8", "replace")
        for key in (ENV_KEY, TOML_KEY, YAML_KEY):
            if (path.name, key) in {("config.toml", TOML_KEY), (YAML_NAME, YAML_KEY)}:
                continue  # the user put this key in this file; llmc must merely leave it there
            for part in secret_parts(key):
                assert part not in content, (path, part)
    yaml_text = (data / YAML_NAME).read_text()
    assert yaml_text.count(YAML_KEY) == 1 and "- embed" in yaml_text  # discovery did save


def test_interactive_chat_shows_the_key_only_masked(tmp_path: Path, home: Path) -> None:
    import io
    import sys

    import pexpect

    from tests.e2e.cli_support import MAIN, ROOT, clean_env

    data = tmp_path / "data"
    with ServerProcess({"api_key": ENV_KEY, "chat_models": ["chat"], "reply": "fine"}, workdir=tmp_path) as good:
        write_config(data, {"fake": {"name": "Fake", "base_api_url": good.base_url,
                                     "valid_models": {"chat": "c"}}}, 'model = "fake/c"\nmax_retries = 0')
        env = clean_env(home, {"FAKE_API_KEY": ENV_KEY, "TERM": "xterm-256color", "LANG": "C.UTF-8",
                               "PROMPT_TOOLKIT_NO_CPR": "1"})
        child = pexpect.spawn(sys.executable, [str(MAIN), "-d", str(data)], cwd=str(ROOT), env=env,
                              dimensions=(40, 120), encoding="utf-8", timeout=20)
        child.logfile_read = io.StringIO()
        submit = "\r"  # Enter sends
        child.expect_exact("c >")
        child.send("hello" + submit)
        child.expect_exact("fine")
        child.expect_exact("c *>")
        good.add_fault("/chat/completions", {"status": 401, "content_type": "application/json", "body": json.dumps(
            {"error": {"message": f"Incorrect API key provided: {ENV_KEY}"}})})
        child.send("again" + submit)
        child.expect_exact("API request failed with status code 401.")
        child.expect_exact("c *>")
        child.send("/config" + submit)
        child.expect_exact("********" + ENV_KEY[-4:])
        child.expect_exact("c *>")
        # wait for each command's own output: the prompt is redrawn with the typed line before it runs
        child.send("/save session" + submit)
        child.expect_exact("Chat history saved to")
        child.expect_exact("c *>")
        child.send("/md export" + submit)
        child.expect_exact("Chat exported to")
        child.expect_exact("c *>")
        output = finish(child)
    assert (data / "session.json").is_file() and (data / "export.md").is_file()
    texts = {"terminal": output}
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace")
                  for p in [*data.rglob("*"), *home.rglob("*")] if p.is_file()})
    for where, text in texts.items():
        for part in secret_parts(ENV_KEY):
            assert part not in text, (where, part)


def test_a_key_echoed_in_a_normal_reply_is_masked_on_screen_and_in_the_saved_chat(tmp_path: Path,
                                                                                  home: Path) -> None:
    data = tmp_path / "data"
    reply = f"Sure! Your key is {ENV_KEY}, and the other one {TOML_KEY[:-4]}****."
    with ServerProcess({"api_key": ENV_KEY, "chat_models": ["chat"], "reply": reply, "reasoning": ENV_KEY,
                        "chunk_size": 3}, workdir=tmp_path) as server:
        for stream in ("true", "false"):
            write_config(data, {"fake": {"name": "Fake", "base_api_url": server.base_url,
                                         "valid_models": {"chat": "c"}},
                                "tomlprov": {"base_api_url": server.base_url, "api_key": TOML_KEY}},
                         f'model = "fake/c"\nstream = {stream}')
            result = run_llmc(["-d", str(data), "-p", "what is my key?"], home, env={"FAKE_API_KEY": ENV_KEY})
            assert result.returncode == 0, result.stderr
            assert result.stdout == "Sure! Your key is ********, and the other one ************.\n"
            assert "REASONING:\n********" in result.stderr
    chats = list((data / "chats").iterdir())
    assert len(chats) == 2
    for path in chats:
        content = path.read_text()
        for key in (ENV_KEY, TOML_KEY):
            for part in secret_parts(key) + [key[-12:]]:
                assert part not in content, (path, part)


ADD_PROVIDER_URLS = ["http://x:PASSWORD@127.0.0.1:57219:1/v1", "http://user:PASSWORD@[::1/v1",
                     "http://127.0.0.1:99999/v1?api_key=SECRET", "http://x:PASS/WORD@127.0.0.1/v1"]


def test_add_provider_never_prints_a_urls_password_or_query(home: Path) -> None:
    for url in ADD_PROVIDER_URLS:
        for args in (["--add-provider", "local", url], ["--add-provider", url, "http://127.0.0.1:1/v1"]):
            result = run_llmc(args, home)
            assert result.returncode == 2 and result.stdout == "", result.stderr
            assert "PASS" not in result.stderr and "SECRET" not in result.stderr, result.stderr
            assert result.stderr.startswith("llmc: error: ") and "********" in result.stderr


def test_add_provider_in_the_chat_shows_and_keeps_no_password(tmp_path: Path) -> None:
    from tests.e2e.pty_support import send, spawn
    data = tmp_path / "data"
    child = spawn(data)
    child.expect_exact("4.1-mini >")
    for url in ADD_PROVIDER_URLS:
        send(child, f"/add-provider local {url}")
        child.expect_exact("must be an http:// or https:// address")
        child.expect_exact("4.1-mini >")
    output = finish(child)
    errors = [line for line in output.splitlines() if "must be an http" in line]
    assert len(errors) == len(ADD_PROVIDER_URLS) and all("********" in line for line in errors)
    history = (data / "chat_history.txt").read_text()
    assert "/add-provider local http://x:********@127.0.0.1:57219:1/v1" in history
    for text in (*errors, history):  # the screen shows the line being typed, as typed; nothing else does
        assert "PASS" not in text and "SECRET" not in text
