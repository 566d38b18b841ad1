"""Helpers for chat tests in a real pseudo-terminal (pexpect): start llmc, type, leave."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import pexpect

REPO = Path(__file__).resolve().parents[2]
SUBMIT = "\r"  # Enter sends
TIMEOUT = 45  # a wait for the screen, not a sleep: passing tests never wait it out, a loaded machine may need it


def spawn(data_dir: Path, *args: str, home: Optional[Path] = None,
          program: Sequence[str] = ("main.py",), environ: Optional[Dict[str, str]] = None,
          dimensions: Tuple[int, int] = (40, 120)) -> pexpect.spawn:
    """`python PROGRAM -d DATA_DIR ARGS` in a 40x120 pty (rows, columns), with its own HOME (beside the
    data directory unless given) and `environ` added; PROGRAM is main.py, or e.g. `-c CODE` that patches
    llmc before running it."""
    home = home or data_dir.parent / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PYTHONPATH": str(REPO), "LLMC_LOCAL_PORTS": "",
           "PROMPT_TOOLKIT_NO_CPR": "1", **(environ or {})}  # pexpect does not answer cursor-position requests
    child = pexpect.spawn(sys.executable, [*program, "-d", str(data_dir), *args], cwd=str(REPO), env=env,
                          dimensions=dimensions, encoding="utf-8", timeout=TIMEOUT)
    child.logfile_read = io.StringIO()
    return child


def send(child: pexpect.spawn, text: str) -> None:
    """Type `text` and send it."""
    # Callers wait for the prompt first: keys typed before it is up would meet the tty's cooked mode.
    child.send(text + SUBMIT)


def finish(child: pexpect.spawn) -> str:
    """Leave with /exit; return the whole session's output after checking the exit status."""
    send(child, "/exit")
    child.expect(pexpect.EOF)
    child.close()
    output = child.logfile_read.getvalue()
    assert child.exitstatus == 0, output[-2000:]
    assert "Traceback" not in output
    return output
