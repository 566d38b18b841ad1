"""Copy text to the system clipboard, or through the terminal (OSC 52) where there is none."""
from __future__ import annotations

import base64
import os
import shutil
import subprocess
from typing import Callable, List, Mapping, Optional, TextIO, Tuple

OSC52 = "OSC 52"
TOOL_TIMEOUT_SECONDS = 3.0
# (tool, command line, environment variable it needs or None)
TOOLS: Tuple[Tuple[str, List[str], Optional[str]], ...] = (
    ("pbcopy", ["pbcopy"], None),
    ("wl-copy", ["wl-copy"], "WAYLAND_DISPLAY"),
    ("xclip", ["xclip", "-selection", "clipboard"], "DISPLAY"),
    ("xsel", ["xsel", "--clipboard", "--input"], "DISPLAY"),
)


class Clipboard:
    """Tries pbcopy, wl-copy, xclip, xsel, then the OSC 52 escape sequence; reports which was used."""

    def __init__(self, terminal_output: TextIO, environ: Optional[Mapping[str, str]] = None,
                 which: Callable[[str], Optional[str]] = shutil.which,
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
        self.terminal_output = terminal_output
        self.environ = os.environ if environ is None else environ
        self.which = which
        self.run = run

    def available_tool(self) -> Optional[Tuple[str, List[str]]]:
        """The first clipboard program usable in this session, None if there is none."""
        for name, command, needs in TOOLS:
            if needs and not self.environ.get(needs):
                continue
            path = self.which(command[0])
            if path:
                return name, [path, *command[1:]]
        return None

    def copy(self, text: str) -> str:
        """Copy `text`; return what did it ("xclip", "OSC 52", …)."""
        tool = self.available_tool()
        if tool is not None and self._run_tool(tool[1], text):
            return tool[0]
        self.terminal_output.write(osc52_sequence(text, inside_tmux=bool(self.environ.get("TMUX"))))
        self.terminal_output.flush()
        return OSC52

    def _run_tool(self, command: List[str], text: str) -> bool:
        try:
            result = self.run(command, input=text.encode("utf-8"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=TOOL_TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0


def osc52_sequence(text: str, inside_tmux: bool = False) -> str:
    """The escape sequence asking the terminal to put `text` on the clipboard (wrapped for tmux)."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    sequence = f"\x1b]52;c;{payload}\x07"
    if inside_tmux:
        sequence = "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return sequence


def code_blocks(markdown: str) -> List[Tuple[str, str]]:
    """(language, code) of each fenced code block of a Markdown text, in order (fences as the
    streaming renderer reads them: MarkdownBlockSplitter.Fence)."""
    from ..render.MarkdownBlockSplitter import Fence  # noqa: PLC0415 - rich's markdown-it: only /copy needs it
    blocks: List[Tuple[str, str]] = []
    fence: Optional[Fence] = None
    lines: List[str] = []
    for line in markdown.splitlines():
        if fence is None:
            fence, lines = Fence.opened_by(line), []
        elif fence.closed_by(line):
            blocks.append((fence.info.partition(" ")[0], "\n".join(lines)))
            fence = None
        else:
            lines.append(line)
    if fence is not None and lines:
        # an unclosed block at the end (a cut-off reply)
        blocks.append((fence.info.partition(" ")[0], "\n".join(lines)))
    return blocks
