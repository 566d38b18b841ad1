"""ShellCommand's pieces: the command taken out of a reply, what the model is told, the user's shell."""
from __future__ import annotations

from llmc.cli.ShellCommand import command_of, shell_path, system_name, system_prompt


def test_the_command_is_the_reply_or_its_first_fenced_block() -> None:
    assert command_of("  ls -la\n") == "ls -la"
    assert command_of("Here:\n```bash\nfind . -size +100M\n```\nand more") == "find . -size +100M"
    assert command_of("```\ndu -sh *\n```") == "du -sh *"
    assert command_of("$ echo hi") == "echo hi"
    assert command_of("") == ""


def test_the_model_is_told_the_shell_and_system_and_to_answer_with_one_command() -> None:
    prompt = system_prompt("/usr/bin/fish", "macOS 14.5")
    assert "shell is fish (/usr/bin/fish) on macOS 14.5" in prompt and "exactly one command line" in prompt
    assert shell_path({"SHELL": "/bin/zsh"}) == "/bin/zsh" and shell_path({}) == "/bin/sh"
    assert system_name()  # this machine's, e.g. "Linux (Debian GNU/Linux 12 (bookworm))"
