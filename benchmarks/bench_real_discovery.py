"""Discovery of a real model server: `llmc --discover-models` against llama.cpp's server with Gemma 3 270M.

The whole CLI run (start-up, GET /models, the ping, saving) side by side with a bare client doing the
least discovery can (one GET /models and one 16-token ping, in a fresh interpreter too), and with the
ping llmc sent before (a system prompt and "ping", 256 tokens), sent by that bare client. Target: the
whole llmc run takes at most 1.0 s. Needs the server of the real-server tests (README: the
real-server tests; `source .ci/real_server_env.sh`); medians of --runs runs taken in turn.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MAIN, PYTHON, isolated_env, median, report, run_timed, work_dir  # noqa: E402

from tests.real_server import RealModelServer, ServerUnavailable  # noqa: E402

OLD_PING = {"messages": [{"role": "system", "content": "If I say 'ping', you will respond with 'pong'."},
                         {"role": "user", "content": "ping"}], "max_tokens": 256}
NEW_PING = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}
BARE_CLIENT = """
import json, sys, requests
url, ping = sys.argv[1], json.loads(sys.argv[2])
model = requests.get(url + "/models", timeout=300).json()["data"][0]["id"]
reply = requests.post(url + "/chat/completions", json={"model": model, "temperature": 0.0, "stream": False, **ping},
                      timeout=600)
assert isinstance(reply.json()["choices"][0]["message"], dict)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = work_dir("llmc-bench-real-")
    env = isolated_env(work / "home")
    try:
        server = RealModelServer().start()
    except ServerUnavailable as exc:
        print(f"no real model server, no figures: {exc}")
        return 1
    try:
        data = work / "data"
        data.mkdir()
        (data / "config.toml").write_text(f'[providers.gemma]\nname = "llama.cpp"\nbase_api_url = "{server.base_url}"\n')
        bare = [PYTHON, "-c", BARE_CLIENT, server.base_url]
        run_timed(bare + [json.dumps(NEW_PING)], env)  # the server's first request loads its caches
        llmc_runs, floor_runs = [], []
        for _ in range(args.runs):  # taken in turn, so a change in the machine's load hits both alike
            llmc_runs += run_timed([PYTHON, MAIN, "-d", str(data), "--discover-models", "gemma"], env)
            floor_runs += run_timed(bare + [json.dumps(NEW_PING)], env)
        llmc, floor = median(llmc_runs), median(floor_runs)
        old = run_timed(bare + [json.dumps(OLD_PING)], env)[0]
    finally:
        server.stop()
    ok = report("Discovery of the real Gemma 3 270M server (llama.cpp), whole CLI run",
                "llmc --discover-models gemma", llmc, "bare client: GET /models + one ping", floor,
                "llmc <= 1.0 s", llmc <= 1.0)
    print(f"  the old ping (system prompt, 256 tokens) by the bare client: {old:.3f} s "
          f"({old / llmc:.1f}x llmc's whole run)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
