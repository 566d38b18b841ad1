"""Shared helpers for the benchmarks: the fake server as a process, data dirs, timing, pty runs, reports."""
from __future__ import annotations

import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MAIN = str(ROOT / "main.py")
SERVER_SCRIPT = str(ROOT / "tests" / "fake_openai_server.py")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]")

sys.path.insert(0, str(ROOT))


def work_dir(prefix: str) -> Path:
    """A temporary directory (with a `home` inside) removed when the benchmark exits."""
    import atexit
    import shutil
    path = Path(tempfile.mkdtemp(prefix=prefix))
    (path / "home").mkdir()
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@contextmanager
def fake_server(**options) -> Iterator[str]:
    """Run tests/fake_openai_server.py as its own process (so it never shares a GIL with a client)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(options, fh)
        config = fh.name
    process = subprocess.Popen([PYTHON, SERVER_SCRIPT, "--config", config, "--max-seconds", "900"],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fake server did not start: {url!r}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.unlink(config)


def isolated_env(home: Path, **extra: str) -> dict:
    """The environment for a run: its own HOME, no provider keys or llmc settings from the caller."""
    # Bytecode is written as an installed package would have it: without it every start compiles.
    dropped = ("NO_COLOR", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("LLMC_") and k not in dropped}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), TERM="xterm-256color", **extra)
    return env


def write_data_dir(directory: Path, base_url: str, model: Optional[str] = None,
                   extra_toml: str = "", models: Optional[dict] = None) -> Path:
    """A data dir whose config.toml points the provider `fake` at `base_url`."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f'model = "{model}"' if model else "", extra_toml,
             "[providers.fake]", 'name = "Fake"', f'base_api_url = "{base_url}"', 'api_key = "test-key"']
    if models:
        pairs = ", ".join(f'"{k}" = "{v}"' for k, v in models.items())
        lines.append(f"valid_models = {{ {pairs} }}")
    (directory / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def run_timed(cmd: Sequence[str], env: dict, repeat: int = 1, cwd: Optional[str] = None) -> List[float]:
    """Wall-clock seconds of `repeat` runs of a command (output discarded); raises if one fails."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd or str(ROOT))
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-500:]}")
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def run_in_pty(cmd: Sequence[str], env: dict, until: Optional[Callable[[str], bool]] = None,
               timeout: float = 120.0, columns: int = 100, rows: int = 40,
               send: Optional[bytes] = None) -> Tuple[float, str]:
    """Run a command in a real pseudo-terminal; (seconds until EOF or `until(output)`, output)."""
    started = time.perf_counter()
    pid, fd = _spawn_in_pty(cmd, env, columns, rows)
    chunks: List[bytes] = []
    elapsed = None
    deadline = started + timeout
    text = ""
    try:
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
            if until is not None:
                text = b"".join(chunks).decode("utf-8", "replace")
                if until(text):
                    elapsed = time.perf_counter() - started
                    break
        if elapsed is None:
            elapsed = time.perf_counter() - started
    finally:
        if send is not None:
            try:
                os.write(fd, send)
            except OSError:
                pass
        _reap(pid, fd)
    return elapsed, b"".join(chunks).decode("utf-8", "replace")


def pty_dialog(cmd: Sequence[str], env: dict, steps: Sequence[Tuple[str, bytes]], timeout: float = 120.0,
               columns: int = 100, rows: int = 40) -> Optional[List[float]]:
    """Run a command in a pty; for each (text, keys) step wait until `text` shows, then type `keys`.

    Returns the seconds since launch at which each text showed, or None if one never did. Only a
    rolling tail of the output is searched, so a long reply costs the search nothing extra.
    """
    started = time.perf_counter()
    pid, fd = _spawn_in_pty(cmd, env, columns, rows)
    seen: List[float] = []
    tail = ""
    deadline = started + timeout
    try:
        for text, keys in steps:
            while text not in strip_ansi(tail):
                if time.perf_counter() > deadline:
                    return None
                ready, _, _ = select.select([fd], [], [], 0.5)
                if not ready:
                    continue
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return None
                if not data:
                    return None
                if b"\x1b[6n" in data:  # answer cursor-position requests as a real terminal does
                    os.write(fd, b"\x1b[1;1R" * data.count(b"\x1b[6n"))
                tail = (tail + data.decode("utf-8", "replace"))[-(8192 + len(text)):]
            seen.append(time.perf_counter() - started)
            tail = ""
            if keys:
                os.write(fd, keys)
        return seen
    finally:
        _reap(pid, fd)


def _spawn_in_pty(cmd: Sequence[str], env: dict, columns: int, rows: int) -> Tuple[int, int]:
    """Fork `cmd` onto a new pseudo-terminal of the given size; (child pid, master fd)."""
    import fcntl
    import pty
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvpe(cmd[0], list(cmd), env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    return pid, fd


def _reap(pid: int, fd: int) -> None:
    import signal
    for _ in range(250):  # up to 5 s to exit on its own
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    try:
        os.close(fd)
    except OSError:
        pass


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "")


def report(title: str, llmc_label: str, llmc_value: float, ref_label: str, ref_value: float,
           target: str, ok: bool, unit: str = "s") -> bool:
    """Print one figure: llmc's, the reference's, their ratio and whether the target holds."""
    ratio = llmc_value / ref_value if ref_value else float("inf")
    print(f"{title}")
    print(f"  llmc       {llmc_label:<38} {llmc_value:9.3f} {unit}")
    print(f"  reference  {ref_label:<38} {ref_value:9.3f} {unit}")
    print(f"  ratio      {ratio:9.3f}   target {target}: {'OK' if ok else 'MISSED'}")
    return ok
