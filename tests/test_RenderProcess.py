"""Tests for modules/render/RenderProcess.py: -p's reply drawn by a second process, in a real terminal.

Each case runs tests/render_process_driver.py in a pty of its own: forking needs a process without threads.
"""
from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import threading
from pathlib import Path

import pexpect
from rich.console import Console
from rich.markdown import Markdown

from llmc.base.Terminal import Terminal
from llmc.render.MarkdownStreamRenderer import _Trimmed
from llmc.render import RenderProcess as rp
from llmc.render.RenderProcess import RenderProcess
from tests.markdown_samples import SAMPLE
from tests.terminal_screen import Screen

REPO = Path(__file__).resolve().parents[1]
WIDTH = 80


def driven(scenario: str) -> tuple[list[str], int]:
    """The lines left on the screen by the driver's scenario, and its exit status."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "PYTHONPATH": str(REPO), "HOME": str(REPO / "tests")}
    child = pexpect.spawn(sys.executable, ["-m", "tests.render_process_driver", scenario], cwd=str(REPO), env=env,
                          dimensions=(25, WIDTH), encoding="utf-8", timeout=30)
    child.logfile_read = io.StringIO()
    child.expect(pexpect.EOF)
    child.close()
    output = child.logfile_read.getvalue()
    assert "Traceback" not in output, output
    return Screen(WIDTH).feed(output).lines(), child.exitstatus


def one_shot(text: str) -> list[str]:
    """rich's own render of the whole reply, as the screen shows it (its text: rich caches a style's codes for
    the first colour system it meets, so the tests of this process all draw in truecolor)."""
    console = Console(file=io.StringIO(), force_terminal=True, width=WIDTH, height=25, color_system="truecolor")
    console.print(_Trimmed(Markdown(text)))
    return Screen(WIDTH).feed(console.file.getvalue()).lines()


def test_replies_are_drawn_as_richs_markdown_and_what_follows_comes_after_them() -> None:
    lines, status = driven("two_replies")
    assert status == 0
    expected = one_shot(SAMPLE)
    assert lines[:len(expected)] == expected  # the waiting line left no trace
    assert lines[len(expected):] == ["AFTER-FIRST text-kept=True", "The second reply.", "a notice after it",
                                     "AFTER-SECOND", "EXITING"]


def test_a_reply_cut_off_shows_what_came_then_the_note() -> None:
    lines, status = driven("cut_off")
    assert status == 0
    assert lines == ["Partial answer so", "[the reply was cut off]", "AFTER-ABORT text='Partial **answer** so'",
                     "EXITING"]


def test_a_child_that_dies_is_told_once_by_the_writer_and_then_left_be() -> None:
    lines, status = driven("child_killed")
    assert status == 0
    assert "RAISED the process drawing the reply was stopped by signal 9" in lines
    assert lines[-2:] == ["ABORT-QUIET usable=False", "EXITING"]


def test_a_child_never_used_is_ended_at_once_and_reaped() -> None:
    lines, status = driven("never_used")
    assert status == 0
    closed = next(line for line in lines if line.startswith("CLOSED"))
    assert "gone=True" in closed and float(closed.rsplit("=", 1)[1]) < 1.0


def test_the_childs_failure_to_write_the_screen_reaches_the_parent_as_that_oserror(tmp_path: Path) -> None:
    master, slave = pty.openpty()  # only this test holds the terminal's other end: closing it ends the terminal
    result = tmp_path / "result"
    env = dict(os.environ, TERM="xterm-256color", PYTHONPATH=str(REPO))
    env.pop("NO_COLOR", None)
    driver = subprocess.Popen([sys.executable, "-m", "tests.render_process_driver", "screen_gone", str(result)],
                              stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=str(REPO), env=env)
    os.close(slave)
    seen = b""
    while b"READY" not in seen:
        assert select.select([master], [], [], 30)[0], seen
        piece = os.read(master, 4096)
        assert piece, seen
        seen += piece
    os.close(master)
    assert driver.wait(timeout=30) == 0
    assert result.read_text() == "OSERROR 5"  # EIO, as the write in this process would have raised


def test_no_process_is_started_without_a_colour_terminal_or_with_threads_running() -> None:
    assert RenderProcess.start(Terminal(io.StringIO(), io.StringIO(), {})) is None  # not a terminal
    master, slave = pty.openpty()
    with os.fdopen(slave, "w") as stdout:
        assert RenderProcess.start(Terminal(stdout, io.StringIO(), {"NO_COLOR": "1"})) is None
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        try:
            assert RenderProcess.start(Terminal(stdout, io.StringIO(), {"TERM": "xterm-256color"})) is None
        finally:
            stop.set()
            thread.join()
    os.close(master)


def test_every_frame_fits_an_atomic_pipe_write_and_reads_back_whole_even_byte_by_byte() -> None:
    long_warning = "a warning that goes on " * 600  # far past one frame
    reply = "é😀 text " * 2000
    frames = rp._encoded(rp._WARNING, long_warning) + rp._encoded(rp._CONTENT, reply) + rp._encoded(rp._FINISH, "")
    assert len(frames) > 10 and all(len(frame) <= select.PIPE_BUF for frame in frames)
    reader = rp._FrameReader()
    messages = [message for byte in b"".join(frames) for message in reader.feed(bytes([byte]))]
    assert messages[0] == (rp._WARNING, long_warning)  # one message: a warning is one line
    assert "".join(text for kind, text in messages if kind == rp._CONTENT) == reply  # reply text: pieces
    assert messages[-1] == (rp._FINISH, "")


def test_a_message_cut_off_between_its_frames_is_dropped_not_glued_to_the_next() -> None:
    cut = rp._encoded(rp._WARNING, "w" * 5000)[:-1]  # Ctrl-C came before its last frame was written
    reader = rp._FrameReader()
    assert reader.feed(b"".join(cut + rp._encoded(rp._ABORT, "[reply incomplete]"))) == [
        (rp._ABORT, "[reply incomplete]")]
