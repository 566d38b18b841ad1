"""Shell completion and --list-providers: what a Tab and a provider listing cost.

`llmc --complete models|providers|chats` against a data dir with 12 providers x 40 models in the providers YAML
and 500 saved chats, beside `python -c pass` (the floor any Python command pays) and `llmc --version`; and a
whole bash Tab (the script's function run with COMP_WORDS, calling llmc) beside bash doing nothing.
`llmc --list-providers` beside `llmc --list-models` (both load the settings).

Targets: a completion <= 100 ms above the bare interpreter (what a user feels beyond Python itself) and
<= 1.5x `llmc --version`; --list-providers <= 1.25x --list-models.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MAIN, PYTHON, isolated_env, median, report, run_timed, work_dir  # noqa: E402

from llmc.store.ChatStore import ChatStore  # noqa: E402

PROVIDERS = ("openai", "deepseek", "hyperbolic", "openrouter", "groq", "together", "mistral", "fireworks",
             "cerebras", "deepinfra", "xai", "gemini")


def data_dir(work: Path, chats: int) -> Path:
    """12 providers with 40 valid and 5 invalid models each, and `chats` saved chats."""
    data = work / "data"
    lines = ["providers:"]
    for provider in PROVIDERS:
        lines += [f"  {provider}:", "    valid_models:"]
        lines += [f"      org-{i}/{provider}-model-{i:02d}: m{i:02d}" for i in range(40)]
        lines += ["    invalid_models:"] + [f"      - {provider}-embed-{i}" for i in range(5)]
    data.mkdir()
    (data / "openaicompat-providers.yaml").write_text("\n".join(lines) + "\n")
    os.chmod(data / "openaicompat-providers.yaml", 0o600)
    store = ChatStore(data)
    for number in range(chats):
        store.save([{"role": "system", "content": "s"}, {"role": "user", "content": f"question {number}"}])
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15, help="runs per command (the median is reported)")
    parser.add_argument("--chats", type=int, default=500, help="saved chats in the data dir")
    args = parser.parse_args()
    work = work_dir("llmc-bench-completion-")
    env = isolated_env(work / "home")
    data = data_dir(work, args.chats)
    run_timed([PYTHON, MAIN, "-d", str(data), "--complete", "models"], env)  # warm-up: bytecode caches
    bare = median(run_timed([PYTHON, "-c", "pass"], env, args.repeat))
    version = median(run_timed([PYTHON, MAIN, "--version"], env, args.repeat))
    results = []
    for kind in ("models", "providers", "chats"):
        seconds = median(run_timed([PYTHON, MAIN, "-d", str(data), "--complete", kind], env, args.repeat))
        results.append(report(f"Completion values: --complete {kind}", f"llmc --complete {kind}", seconds,
                              "llmc --version", version, "<= 1.5", seconds <= 1.5 * version))
        print(f"  above the bare interpreter ({bare:.3f} s): {1000 * (seconds - bare):+.0f} ms "
              f"(target <= 100 ms: {'OK' if seconds - bare <= 0.1 else 'MISSED'})")
        results.append(seconds - bare <= 0.1)
    llmc_bin = Path(PYTHON).parent / "llmc"
    if shutil.which("bash") and llmc_bin.exists():
        script = work / "llmc.bash"
        script.write_text(__import__("subprocess").run([PYTHON, MAIN, "--completion", "bash"], env=env,
                                                       capture_output=True, text=True, check=True).stdout)
        tab_env = dict(env, PATH=f"{llmc_bin.parent}:{env.get('PATH', '')}")
        tab = median(run_timed(["bash", "-c", f"source {script}; COMP_WORDS=(llmc -d {data} -m openai/org-1); "
                                "COMP_CWORD=4; _llmc; true"], tab_env, args.repeat))
        nothing = median(run_timed(["bash", "-c", f"source {script}"], tab_env, args.repeat))
        print(f"A whole bash Tab after -m (script function + llmc): {tab:.3f} s; bash sourcing the script alone "
              f"{nothing:.3f} s; the Tab's own cost {1000 * (tab - nothing):.0f} ms")
    else:
        print("SKIPPED: no bash or no installed llmc command; no whole-Tab figure")
    listing = median(run_timed([PYTHON, MAIN, "-d", str(data), "--list-models"], env, args.repeat))
    providers = median(run_timed([PYTHON, MAIN, "-d", str(data), "--list-providers"], env, args.repeat))
    results.append(report("--list-providers", "llmc --list-providers", providers, "llmc --list-models", listing,
                          "<= 1.25", providers <= 1.25 * listing))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
