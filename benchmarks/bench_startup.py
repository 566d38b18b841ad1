"""Start-up: `llmc --version` vs `python -c pass`, `llmc --list-models` vs `llm models list` (simonw/llm),
and launch-to-first-prompt of the chat in a pty.

Targets: --version <= 3x a bare interpreter; --list-models <= 0.3x `llm models list`.
simonw/llm is installed into its own virtualenv under /tmp on first use (skipped with a message if that fails).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (MAIN, PYTHON, ROOT, fake_server, isolated_env, median, report,  # noqa: E402
                     run_in_pty, run_timed, strip_ansi, work_dir, write_data_dir)

LLM_VENV = Path(tempfile.gettempdir()) / "llmc-bench-llm-venv"


def providers_yaml(models_per_provider: int = 25) -> str:
    """A realistic providers YAML: the three built-in providers with a few dozen discovered models."""
    lines = ["providers:"]
    for provider in ("openai", "deepseek", "hyperbolic"):
        lines += [f"  {provider}:", "    valid_models:"]
        lines += [f"      {provider}-model-{i:02d}: m{i:02d}" for i in range(models_per_provider)]
        lines += ["    invalid_models:"] + [f"      - {provider}-embed-{i}" for i in range(5)]
    return "\n".join(lines) + "\n"


def llm_command() -> Optional[list]:
    """`llm` from a private virtualenv, installing it on first use; None (with a message) if impossible."""
    llm = LLM_VENV / "bin" / "llm"
    if not llm.exists():
        print(f"(installing simonw/llm into {LLM_VENV} for the reference figure…)", flush=True)
        try:
            venv.create(LLM_VENV, with_pip=True, clear=True)
            subprocess.run([str(LLM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "llm"], check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"SKIPPED: cannot install simonw/llm ({exc}); no reference for --list-models")
            return None
    return [str(llm), "models", "list"]


def chat_prompt_seconds(work: Path, env: dict, repeat: int) -> Optional[float]:
    """Median seconds from launching `llmc -d DIR` in a pty to its first prompt ("<short> >")."""
    if not (ROOT / "modules" / "chat" / "ChatInterface.py").exists():
        print("SKIPPED: modules/chat/ChatInterface.py does not exist yet; no chat start-up figure")
        return None
    with fake_server(chat_models=["bench-chat"], non_chat_models=[]) as url:
        data = write_data_dir(work / "chat", url, model="fake/bench-chat", models={"bench-chat": "bench"})
        times = []
        for _ in range(repeat):
            seconds, output = run_in_pty([PYTHON, MAIN, "-d", str(data)], env,
                                         until=lambda text: "bench >" in strip_ansi(text), timeout=30,
                                         send=b"\x04")
            if "bench >" not in strip_ansi(output):
                print(f"SKIPPED: the chat showed no 'bench >' prompt within 30 s: {strip_ansi(output)[-300:]!r}")
                return None
            times.append(seconds)
    return median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15, help="runs per command (the median is reported)")
    args = parser.parse_args()
    work = work_dir("llmc-bench-startup-")
    env = isolated_env(work / "home")
    data = write_data_dir(work / "data", "http://127.0.0.1:9/v1")
    (data / "openaicompat-providers.yaml").write_text(providers_yaml())
    os.chmod(data / "openaicompat-providers.yaml", 0o600)

    run_timed([PYTHON, MAIN, "-d", str(data), "--list-models"], env)  # warm-up: writes the bytecode caches
    bare = median(run_timed([PYTHON, "-c", "pass"], env, args.repeat))
    version = median(run_timed([PYTHON, MAIN, "--version"], env, args.repeat))
    listing = median(run_timed([PYTHON, MAIN, "-d", str(data), "--list-models"], env, args.repeat))
    pydantic_floor = median(run_timed([PYTHON, "-c", "from pydantic import BaseModel\n"
                                       "class A(BaseModel):\n    x: int = 1\nA()"], env, args.repeat))
    results = [report("Start-up: --version", "llmc --version", version, "python -c pass", bare, "<= 3",
                      version <= 3 * bare)]
    llm = llm_command()
    if llm is not None:
        llm_env = dict(env, LLM_USER_PATH=str(work / "llm-user"))
        reference = median(run_timed(llm, llm_env, max(3, args.repeat // 3)))
        results.append(report("Start-up: list models (no network)", "llmc --list-models", listing,
                              "llm models list", reference, "<= 0.3", listing <= 0.3 * reference))
    else:
        print(f"Start-up: llmc --list-models {listing:.3f} s (no reference)")
    print(f"  interpreter alone {bare:.3f} s; interpreter + the smallest pydantic model {pydantic_floor:.3f} s "
          f"(the floor while the plan's pydantic models load); listing adds {listing - pydantic_floor:+.3f} s "
          "over that floor")
    prompt = chat_prompt_seconds(work, env, max(3, args.repeat // 3))
    if prompt is not None:
        print(f"Chat start-up: launch to first prompt in a pty: {prompt:.3f} s "
              f"({prompt / bare:.1f}x the bare interpreter)")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
