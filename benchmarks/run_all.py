"""Run every benchmark in this directory, one after the other, and summarise which targets held."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["bench_startup.py", "bench_discovery.py", "bench_streaming.py", "bench_sse.py"]
# Every bench_*.py here runs, so a benchmark added later is not forgotten.
BENCHMARKS = [n for n in FIRST if (HERE / n).exists()] + sorted(
    p.name for p in HERE.glob("bench_*.py") if p.name not in FIRST)


def main() -> int:
    outcomes = []
    for name in BENCHMARKS:
        print(f"=== {name}", flush=True)
        started = time.perf_counter()
        status = subprocess.run([sys.executable, str(HERE / name)],
                                stdin=subprocess.DEVNULL).returncode
        outcomes.append((name, status, time.perf_counter() - started))
        print(flush=True)
    print("=== summary")
    for name, status, seconds in outcomes:
        print(f"  {name:<22} {'all targets held' if status == 0 else 'TARGET MISSED (or error)'}"
              f"  ({seconds:.0f} s)")
    return 0 if all(status == 0 for _, status, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
