"""Clipboard: the system tools in order, the OSC 52 fallback, and code blocks of a reply."""
from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

from llmc.chat.Clipboard import OSC52, Clipboard, code_blocks, osc52_sequence


def recorder(returncode: int = 0):
    calls = []

    def run(command, input=None, **kwargs):
        calls.append((command, input))
        return subprocess.CompletedProcess(command, returncode)
    return calls, run


def test_osc52_when_no_tool_is_present() -> None:
    out = io.StringIO()
    used = Clipboard(out, environ={}, which=lambda name: None).copy("héllo")
    assert used == OSC52
    payload = base64.b64encode("héllo".encode()).decode()
    assert out.getvalue() == f"\x1b]52;c;{payload}\x07"


def test_osc52_is_wrapped_inside_tmux() -> None:
    sequence = osc52_sequence("x", inside_tmux=True)
    assert sequence.startswith("\x1bPtmux;\x1b\x1b]52;c;") and sequence.endswith("\x1b\\")


def test_xclip_needs_a_display() -> None:
    calls, run = recorder()
    present = {"xclip": "/usr/bin/xclip"}
    out = io.StringIO()
    assert Clipboard(out, environ={}, which=present.get, run=run).copy("a") == OSC52
    assert calls == []
    used = Clipboard(out, environ={"DISPLAY": ":0"}, which=present.get, run=run).copy("a")
    assert used == "xclip"
    assert calls == [(["/usr/bin/xclip", "-selection", "clipboard"], b"a")]


def test_pbcopy_first_and_a_failing_tool_falls_back_to_osc52() -> None:
    calls, run = recorder(returncode=1)
    out = io.StringIO()
    used = Clipboard(out, environ={}, which=lambda name: "/bin/" + name, run=run).copy("z")
    assert calls[0][0] == ["/bin/pbcopy"]
    assert used == OSC52 and "\x1b]52;c;" in out.getvalue()


def test_a_real_tool_receives_the_text(tmp_path: Path) -> None:
    # A stand-in "xsel" that writes its stdin to a file proves the text really goes through a pipe.
    target = tmp_path / "clip.txt"
    tool = tmp_path / "xsel"
    tool.write_text(f"#!{sys.executable}\nimport sys\n"
                    f"open({str(target)!r}, 'wb').write(sys.stdin.buffer.read())\n")
    tool.chmod(0o755)
    clipboard = Clipboard(io.StringIO(), environ={"DISPLAY": ":0"}, which={"xsel": str(tool)}.get)
    assert clipboard.copy("copied ✓") == "xsel"
    assert target.read_text(encoding="utf-8") == "copied ✓"


def test_code_blocks_of_a_reply() -> None:
    reply = ("Intro\n\n```python\nprint(1)\n\nprint(2)\n```\n\ntext\n\n~~~\nplain\n~~~\n"
             "````md\n```\ninner\n```\n````\n```sh\necho cut off")
    assert code_blocks(reply) == [("python", "print(1)\n\nprint(2)"), ("", "plain"),
                                  ("md", "```\ninner\n```"), ("sh", "echo cut off")]
    assert code_blocks("no code here") == []


def test_code_blocks_follow_the_fence_rules_of_the_renderer() -> None:
    reply = "```py title\na\n  ```\n``` x`y\nnot a fence\n~~~ `ok`\nb\n~~~~\n"
    # an indented closer (up to 3 spaces) closes; a backtick fence with a backtick in its info is no fence;
    # a tilde fence may hold backticks in its info and is closed by a longer tilde line
    assert code_blocks(reply) == [("py", "a"), ("`ok`", "b")]
