"""Shell mode (`-S`, `--shell`): ask the model for one command for this user's shell and system, show it, and
run it in `$SHELL` only when the user presses e; revise, describe, copy or abort otherwise. Without a
terminal the command is printed and nothing runs."""
from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
import termios
import tty
from dataclasses import replace
from pathlib import Path
from typing import Any, List, Mapping, Optional, TextIO

from ..base.Errors import LlmcError
from ..base.ExitStatus import ExitStatus
from ..base.Secrets import known_keys, redact
from ..base.Terminal import Terminal, is_terminal, visible_text
from ..chat.Clipboard import Clipboard

MENU = "[e]xecute  [r]evise  [d]escribe  [c]opy  [a]bort? "
CHOICES = {"e": "execute", "r": "revise", "d": "describe", "c": "copy", "a": "abort", "q": "abort",
           "\x1b": "abort", "\x04": "abort", "": "abort"}
FENCED = re.compile(r"```[\w+-]*[ \t]*\n(.*?)```", re.DOTALL)
DESCRIBE = ("Describe briefly what this command does, part by part, and say if anything in it deletes, "
            "overwrites or sends data.")


def shell_path(environ: Mapping[str, str]) -> str:
    """The user's shell: `$SHELL`, else /bin/sh."""
    return environ.get("SHELL") or "/bin/sh"


def system_name() -> str:
    """This operating system as a person would name it: `Linux (Debian GNU/Linux 12 (bookworm))`, `macOS 14.5`."""
    system = platform.system()
    if system == "Darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if system == "Linux":
        try:
            text = Path("/etc/os-release").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "Linux"
        pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', text, re.MULTILINE)
        return f"Linux ({pretty.group(1)})" if pretty else "Linux"
    return system or "an unknown system"


def system_prompt(shell: str, system: str) -> str:
    """What the model is told: one command, for this shell and system, and nothing else."""
    return (f"You write shell commands. The user's shell is {Path(shell).name} ({shell}) on {system}. "
            "Answer with exactly one command line that does what the user asks, for that shell and system: "
            "no explanation, no Markdown, no code fences (chain steps with && or | where needed). If the request "
            "cannot be done safely, answer with a command that echoes why.")


def command_of(reply: str) -> str:
    """The command in a model's reply: the first fenced block's text if it fenced one, a `$ ` prompt dropped."""
    fenced = FENCED.search(reply)
    text = (fenced.group(1) if fenced else reply).strip()
    return text[2:].lstrip() if text.startswith("$ ") else text


def read_key(stdin: TextIO) -> str:
    """One key pressed at the terminal, read without Enter and without echo ("" at end of input)."""
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)  # Ctrl-C still interrupts
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, new)
        return os.read(fd, 1).decode("utf-8", errors="replace").lower()
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run_in_shell(shell: str, command: str) -> int:
    """Run `command` with `shell -c`, attached to this terminal; its exit status (128 + N for signal N).

    While it runs llmc ignores Ctrl-C: the command gets it, and its status says so."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        completed = subprocess.run([shell, "-c", command], check=False,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    except OSError as exc:
        raise LlmcError(f"cannot run {shell}: {exc.strerror or exc}") from None
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - completed.returncode if completed.returncode < 0 else completed.returncode


class ShellCommand:
    """One `llmc --shell REQUEST` run: the conversation about the command and the user's choices."""

    def __init__(self, config_model: Any, terminal: Terminal, model_source: str = "",
                 stdin: Optional[TextIO] = None, environ: Optional[Mapping[str, str]] = None) -> None:
        self.config_model = config_model
        self.terminal = terminal
        self.model_source = model_source
        self.stdin: TextIO = stdin if stdin is not None else sys.stdin
        self.environ = os.environ if environ is None else environ
        self.shell = shell_path(self.environ)
        self._api: Any = None

    def run(self, request: str) -> int:
        """Ask for the command; print it (no terminal) or offer the choices; the exit status."""
        if not request.strip():
            raise LlmcError("-S/--shell needs a request, e.g. llmc -S \"find files over 100 MB\"")
        messages = [{"role": "system", "content": system_prompt(self.shell, system_name())},
                    {"role": "user", "content": request}]
        command = self._ask(messages)
        if not (is_terminal(self.stdin) and self.terminal.is_interactive):
            self.terminal.print(command)  # a script gets the command; nothing runs without a key press
            return ExitStatus.OK
        while True:
            self._show(command)
            self.terminal.stderr.write(MENU)
            self.terminal.stderr.flush()
            choice = CHOICES.get(read_key(self.stdin), "")
            self.terminal.message(choice or "(press e, r, d, c or a)")
            if choice == "execute":
                return run_in_shell(self.shell, command)
            if choice == "abort":
                self.terminal.message("Nothing was run.")
                return ExitStatus.OK
            if choice == "revise":
                command = self._revise(messages, command)
            elif choice == "describe":
                self._describe(messages, command)
            elif choice == "copy":
                self.terminal.message(f"Copied ({Clipboard(self.terminal.stdout).copy(command)}).")

    def _api_of_run(self) -> Any:
        if self._api is None:
            settings = self.config_model
            self._api = settings.providers.chat_api(settings.model, self.model_source)
        return self._api

    def _answer(self, messages: List[dict]) -> str:
        """The model's whole answer (one short reply: not streamed), keys it echoes masked."""
        api = self._api_of_run()
        self.terminal.message(f"Asking {api.provider_name}/{api.model}…")
        options = replace(self.config_model.chat_options(), stream=False)
        return redact(api.complete(messages, options, self.terminal.message), *known_keys())

    def _ask(self, messages: List[dict]) -> str:
        command = command_of(self._answer(messages))
        if not command:
            raise LlmcError("the model answered with no command; rephrase the request")
        return command

    def _show(self, command: str) -> None:
        """The command on stdout, highlighted as shell code on a colour terminal."""
        if not self.terminal.color:
            self.terminal.print(command)
            return
        from rich.syntax import Syntax  # noqa: PLC0415 - rich: only where something is drawn in colour
        self.terminal.console().print(Syntax(visible_text(command), "bash", theme="ansi_dark",
                                             background_color="default", word_wrap=True))

    def _revise(self, messages: List[dict], command: str) -> str:
        """Ask what to change; the revised command (the same one if nothing was typed)."""
        self.terminal.stderr.write("What should change? ")
        self.terminal.stderr.flush()
        change = self.stdin.readline().strip()
        if not change:
            return command
        messages += [{"role": "assistant", "content": command},
                     {"role": "user", "content": f"Change the command: {change}"}]
        return self._ask(messages)

    def _describe(self, messages: List[dict], command: str) -> None:
        description = self._answer([*messages, {"role": "assistant", "content": command},
                                    {"role": "user", "content": DESCRIBE}])
        self.terminal.message(visible_text(description.strip()))
