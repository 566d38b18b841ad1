"""Looking for local model servers when none is running: the scan alone, and in a whole CLI discovery.

Five ports where nothing listens (as many as the default ports: Ollama, LM Studio, llama.cpp x2, vLLM)
are chosen free on 127.0.0.1, so the figure never depends on what runs on this machine.

Targets: the slowest of 20 scans <= 0.5 s; a fresh install's `llmc --discover-models` (no keys, nothing
listening) takes at most 0.5 s longer with the scan than with it switched off (LLMC_LOCAL_PORTS="").
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MAIN, PYTHON, ROOT, isolated_env, median, report, work_dir  # noqa: E402

BUDGET = 0.5
SCANS = 20
CLI_RUNS = 5


def free_ports(count: int) -> List[int]:
    """Ports nothing listens on: bound together (so they differ), then released."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def serial_connects(ports: List[int]) -> float:
    """The reference: one refused connect after another, no threads, no HTTP."""
    started = time.perf_counter()
    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            pass
    return time.perf_counter() - started


def scan_seconds(ports: List[int]) -> List[float]:
    from llmc.discovery.LocalServerScanner import LocalServerScanner
    scanner = LocalServerScanner(ports)
    times = []
    for _ in range(SCANS):
        started = time.perf_counter()
        found = scanner.scan()
        times.append(time.perf_counter() - started)
        assert found == [], found
    return times


def cli_seconds(ports: str) -> List[float]:
    """Wall-clock seconds of `llmc --discover-models` from a fresh install (it exits 1: nothing to discover)."""
    times = []
    for _ in range(CLI_RUNS):
        home = work_dir("llmc-bench-scan-") / "home"
        env = isolated_env(home, LLMC_LOCAL_PORTS=ports)
        started = time.perf_counter()
        result = subprocess.run([PYTHON, MAIN, "--discover-models"], env=env, cwd=str(ROOT), text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        if "Nothing to discover" not in result.stderr:
            raise RuntimeError(f"unexpected discovery run: {result.stderr[-500:]}")
    return times


def main() -> int:
    ports = free_ports(5)
    print(f"ports (nothing listening): {', '.join(map(str, ports))}")
    scans = scan_seconds(ports)
    reference = median([serial_connects(ports) for _ in range(SCANS)])
    ok = report(f"scan of 5 local ports, nothing listening ({SCANS} runs)", "slowest scan", max(scans),
                "the budget (issue 10)", BUDGET, "<= 1", max(scans) <= BUDGET)
    print(f"  (median scan {median(scans):.4f} s; serial refused connects alone, median {reference:.4f} s)")
    with_scan = median(cli_seconds(",".join(map(str, ports))))
    without = median(cli_seconds(""))
    ok = report(f"llmc --discover-models, fresh install, no keys ({CLI_RUNS} runs each, medians)",
                "with the scan", with_scan, "scan switched off", without,
                f"difference <= {BUDGET} s (it is {with_scan - without:+.3f} s)",
                with_scan - without <= BUDGET) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
