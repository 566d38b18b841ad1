"""The completion scripts in real shells: bash's `complete -p` and its function run with COMP_WORDS, fish's own
`complete -C`, zsh's compinit registration; values read from a real data directory."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmc.store.ChatStore import ChatStore
from tests.e2e.cli_support import run_llmc

BIN = Path(sys.executable).parent  # where pip put the `llmc` command the scripts call


def shell_env(home: Path) -> dict:
    return {"PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home), "LANG": "C.UTF-8",
            "LLMC_LOCAL_PORTS": ""}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "openaicompat-providers.yaml").write_text(
        "providers:\n  groq:\n    valid_models:\n      llama-3.3-70b: l70\n")
    ChatStore(data).save([{"role": "system", "content": "s"}, {"role": "user", "content": "about rebase"}])
    return data


@pytest.fixture
def script(tmp_path: Path, home: Path, request) -> Path:
    shell = request.param
    if shutil.which(shell) is None or not (BIN / "llmc").exists():
        pytest.skip(f"{shell} or the installed llmc command is missing")
    result = run_llmc(["--completion", shell], home)
    assert result.returncode == 0 and result.stderr == ""
    path = tmp_path / f"llmc.{shell}"
    path.write_text(result.stdout)
    return path


def run_shell(argv: list, home: Path) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=shell_env(home), timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    return result.stdout


def bash_complete(script: Path, home: Path, *words: str) -> list:
    """COMPREPLY after completing the last of `words` (as typed so far) with the script's function."""
    array = " ".join(f"'{word}'" for word in ("llmc", *words))
    code = (f"source '{script}'; COMP_WORDS=({array}); COMP_CWORD={len(words)}; _llmc; "
            'printf "%s\\n" "${COMPREPLY[@]}"')
    return run_shell(["bash", "-c", code], home).split()


@pytest.mark.parametrize("script", ["bash"], indirect=True)
def test_bash_completes_flags_models_providers_and_chats(script: Path, home: Path, data: Path) -> None:
    assert run_shell(["bash", "-c", f"source '{script}'; complete -p llmc"], home) == "complete -F _llmc llmc\n"
    assert bash_complete(script, home, "--set-") == ["--set-default-model", "--set-key"]
    assert bash_complete(script, home, "-d", str(data), "-m", "groq/") == ["groq/llama-3.3-70b", "groq/l70"]
    assert "gemini" in bash_complete(script, home, "-d", str(data), "--set-key", "")
    assert bash_complete(script, home, "-d", str(data), "--chat", "") == ["1"]
    assert bash_complete(script, home, "--completion", "z") == ["zsh"]
    assert bash_complete(script, home, "--temperature", "") == []


@pytest.mark.parametrize("script", ["fish"], indirect=True)
def test_fish_parses_the_script_and_completes_from_it(script: Path, home: Path, data: Path) -> None:
    run_shell(["fish", "--no-execute", str(script)], home)
    listed = run_shell(["fish", "-c", f"source '{script}'; complete -C'llmc -d {data} -m groq/'"], home)
    assert sorted(listed.splitlines()) == ["groq/l70\tllama-3.3-70b", "groq/llama-3.3-70b\tl70"]
    flags = run_shell(["fish", "-c", f"source '{script}'; complete -C'llmc --list-p'"], home)
    assert flags.startswith("--list-providers\t")
    assert run_shell(["fish", "-c", f"source '{script}'; complete -C'llmc --completion '"], home).split("\n")[0] \
        .startswith("bash\t")


@pytest.mark.parametrize("script", ["zsh"], indirect=True)
def test_zsh_parses_the_script_and_registers_it(script: Path, home: Path) -> None:
    run_shell(["zsh", "-n", str(script)], home)
    code = f"autoload -U compinit; compinit -u -d '{home}/.zcompdump'; source '{script}'; print $_comps[llmc]"
    assert run_shell(["zsh", "-f", "-c", code], home) == "_llmc\n"
