"""`llmc -S REQUEST` end to end: the loopback server gives the command; in a pty nothing runs until e is pressed,
r revises, d describes, a aborts; without a terminal the command is only printed."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.e2e.cli_support import ANSI, run_llmc_in_process, write_config
from tests.fake_openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
MENU = "[e]xecute  [r]evise  [d]escribe  [c]opy  [a]bort? "


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=None, chat_models=["coder"]) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    data = tmp_path / "data"
    write_config(data, {"local": {"base_api_url": server.base_url, "valid_models": {"coder": "coder"}}},
                 extra='model = "local/coder"\nstream = false')
    return data


def spawn(data: Path, tmp_path: Path, *request: str) -> pexpect.spawn:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT), "LLMC_LOCAL_PORTS": "", "SHELL": "/bin/bash"}
    child = pexpect.spawn(sys.executable, [str(ROOT / "main.py"), "-d", str(data), "-S", *request],
                          cwd=str(tmp_path), env=env, dimensions=(40, 120), encoding="utf-8", timeout=20)
    child.logfile_read = io.StringIO()
    return child


def screen(child: pexpect.spawn) -> str:
    """What the terminal showed so far, colour codes left out."""
    return ANSI.sub("", child.logfile_read.getvalue())


def sent_messages(server: FakeOpenAIServer) -> list:
    return [r["json"]["messages"] for r in server.requests if r["path"].endswith("/chat/completions")]


def test_execute_runs_the_command_in_shell_and_its_status_is_llmcs(data, tmp_path, server):
    server.set(reply="```bash\necho ran-by-llmc > marker.txt; exit 3\n```")
    child = spawn(data, tmp_path, "write", "a", "marker")
    child.expect_exact(MENU)
    assert not (tmp_path / "marker.txt").exists()  # shown, not run
    child.send("e")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert (tmp_path / "marker.txt").read_text() == "ran-by-llmc\n"
    assert "echo ran-by-llmc > marker.txt; exit 3" in screen(child) and "```" not in screen(child)
    system, user = sent_messages(server)[0]
    assert "shell is bash (/bin/bash) on Linux" in system["content"] and user["content"] == "write a marker"


def test_revise_describe_then_abort_runs_nothing(data, tmp_path, server):
    server.set(reply="touch first.txt")
    child = spawn(data, tmp_path, "make a file")
    child.expect_exact(MENU)
    server.set(reply="touch second.txt")
    child.send("r")
    child.expect_exact("What should change? ")
    child.sendline("call it second")
    child.expect_exact(MENU)
    assert "touch second.txt" in screen(child)  # highlighted: the words come apart in colour codes
    server.set(reply="It creates an empty file named second.txt.")
    child.send("d")
    child.expect_exact("It creates an empty file named second.txt.")
    child.expect_exact(MENU)
    child.send("a")
    child.expect_exact("Nothing was run.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not (tmp_path / "first.txt").exists() and not (tmp_path / "second.txt").exists()
    revise, describe = sent_messages(server)[1:]
    assert [m["content"] for m in revise[2:]] == ["touch first.txt", "Change the command: call it second"]
    assert describe[-2]["content"] == "touch second.txt" and describe[-1]["content"].startswith("Describe briefly")


def test_ctrl_c_at_the_menu_runs_nothing_and_exits_130(data, tmp_path, server):
    server.set(reply="touch never.txt")
    child = spawn(data, tmp_path, "make a file")
    child.expect_exact(MENU)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and not (tmp_path / "never.txt").exists()


def test_without_a_terminal_the_command_is_printed_and_nothing_runs(data, tmp_path, home, server):
    server.set(reply="$ touch scripted.txt")
    result = run_llmc_in_process(["-d", str(data), "--shell", "make a file"], home, env={"SHELL": "/bin/sh"})
    assert (result.returncode, result.stdout) == (0, "touch scripted.txt\n"), result.stderr
    assert not (home / "scripted.txt").exists() and not (tmp_path / "scripted.txt").exists()
    assert "shell is sh (/bin/sh)" in sent_messages(server)[0][0]["content"]


def test_shell_mode_refuses_a_prompt_beside_it_and_an_empty_answer(data, home, server):
    both = run_llmc_in_process(["-d", str(data), "-S", "list files", "-p", "hi"], home)
    assert both.returncode == 2 and "-S/--shell and -p/--prompt cannot be used together" in both.stderr
    server.set(reply="   ")
    empty = run_llmc_in_process(["-d", str(data), "-S", "list files"], home)
    assert empty.returncode == 1 and "the model answered with no command" in empty.stderr
