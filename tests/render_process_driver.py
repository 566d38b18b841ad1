"""Drives a RenderProcess in a process of its own (no threads, so it may fork), for tests/test_RenderProcess.py.

usage: python -m tests.render_process_driver SCENARIO   (stdout: a terminal; what the parent learns: stderr)
"""
from __future__ import annotations

import os
import signal
import sys
import time

from llmc.base.Terminal import Terminal
from llmc.render.RenderProcess import RenderProcess
from tests.markdown_samples import SAMPLE, chunked, random_sizes


def report(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def two_replies(process: RenderProcess) -> None:
    """The sample in uneven deltas, a line after it, then a second reply."""
    writer = process.writer()
    writer.on_waiting("waiting for the model…")
    for chunk in chunked(SAMPLE, random_sizes(3)):
        writer.on_content(chunk)
    writer.finish()
    report(f"AFTER-FIRST text-kept={writer.text == SAMPLE}")
    second = process.writer()
    second.on_content("The *second* reply.")
    second.on_warning("a notice after it")
    second.finish()
    report("AFTER-SECOND")


def cut_off(process: RenderProcess) -> None:
    writer = process.writer()
    writer.on_content("Partial **answer** so")
    writer.abort("[the reply was cut off]")
    report(f"AFTER-ABORT text={writer.text!r}")


def child_killed(process: RenderProcess) -> None:
    writer = process.writer()
    writer.on_content("Some text.\n\n")
    os.kill(process.pid, signal.SIGKILL)
    try:
        for _ in range(1000):  # until the pipe is found broken
            writer.on_content("more text " * 100)
        writer.finish()
    except RuntimeError as exc:
        report(f"RAISED {exc}")
    writer.abort("note")  # the cleanup after the failure raises nothing more
    report(f"ABORT-QUIET usable={process.usable}")


def never_used(process: RenderProcess) -> None:
    started = time.monotonic()
    pid = process.pid
    process.close()
    try:
        os.kill(pid, 0)
        gone = False
    except ProcessLookupError:
        gone = True
    report(f"CLOSED gone={gone} seconds={time.monotonic() - started:.2f}")


def screen_gone(result: str) -> int:
    """The terminal goes away in the middle of a reply (the test closes its end): the parent gets the child's
    OSError, written to the file `result`."""
    process = RenderProcess.start(Terminal())
    assert process is not None
    try:
        writer = process.writer()
        writer.on_content("Text on a screen that is about to go.\n\n")
        report("READY")
        for _ in range(200):  # until the terminal is gone
            try:
                os.write(sys.stderr.fileno(), b".")
            except OSError:
                break
            time.sleep(0.05)
        try:
            writer.on_content("Text for a screen that is gone.\n\n" * 50)
            writer.finish()
            outcome = "FINISHED"
        except OSError as exc:
            outcome = f"OSERROR {exc.errno}"
    finally:
        process.close()
    with open(result, "w", encoding="utf-8") as file:
        file.write(outcome)
    return 0


SCENARIOS = {"two_replies": two_replies, "cut_off": cut_off, "child_killed": child_killed, "never_used": never_used}


def main(scenario: str) -> int:
    if scenario == "screen_gone":
        return screen_gone(sys.argv[2])
    process = RenderProcess.start(Terminal())
    if process is None:
        report("NO-PROCESS")
        return 1
    try:
        SCENARIOS[scenario](process)
    finally:
        process.close()
    report("EXITING")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
