"""Standard input as the prompt: bounded, interruptible, and a terminal is told how to end it (issue 9 item 9)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.e2e.cli_support import MAIN, clean_env, run_measuring_memory
from tests.e2e.pty_support import spawn


@pytest.mark.stress
def test_an_endless_stdin_is_refused_at_the_limit_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    with open("/dev/zero", "rb") as zero:
        command = [sys.executable, str(MAIN), "-d", str(tmp_path / "data"), "-e", "-p", "-"]
        result, peak_mb = run_measuring_memory(command, stdin=zero, env=clean_env(tmp_path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("llmc: error: standard input is larger than 16 MB, the most llmc takes as a prompt; "
                             "nothing was sent\n")
    assert time.monotonic() - started < 10
    assert peak_mb < 400  # MB, not the 10 GB of old


def test_ctrl_c_ends_the_reading_of_a_pipe_at_once(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, str(MAIN), "-d", str(tmp_path / "data"), "-e", "-p", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=clean_env(tmp_path))
    assert process.stdin is not None
    # More than a pipe holds (64 KiB), and the writer never closes the pipe: flush returns only once
    # llmc has read part of it, so it has started and is reading.
    process.stdin.write(b"x" * 100_000)
    process.stdin.flush()
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=10)
    process.stdin.close()
    assert time.monotonic() - interrupted < 2
    assert process.returncode == 130 and out == b"" and b"Traceback" not in err


def test_a_terminal_is_told_how_to_end_the_prompt_and_ctrl_c_works(tmp_path: Path) -> None:
    child = spawn(tmp_path / "data", "-e", "-p", "-")
    child.expect_exact("reading the prompt from standard input (end with Ctrl-D)")
    child.send("typed at the terminal\r")
    child.sendeof()
    child.expect_exact("typed at the terminal\r\n")  # echo mode prints the prompt back
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    child = spawn(tmp_path / "data", "-e", "-p", "-")
    child.expect_exact("(end with Ctrl-D)")
    started = time.monotonic()
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and time.monotonic() - started < 5
