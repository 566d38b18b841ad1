"""Helpers for end-to-end tests: run `main.py` as a subprocess (or llmc in-process the same way), fake
servers as processes, file snapshots."""
from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import requests

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "main.py"
SERVER_SCRIPT = ROOT / "tests" / "fake_openai_server.py"
YAML_NAME = "openaicompat-providers.yaml"
ANSI = re.compile(r"\x1b[\[\]()#;?]*[0-9;]*[A-Za-z]")


def clean_env(home: Path, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment of a test run: own HOME, no real keys or llmc settings, no colour hints."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and not k.startswith("LLMC_") and k not in ("NO_COLOR", "TERM")}
    env.update({"HOME": str(home), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "LLMC_LOCAL_PORTS": "",
                "NO_PROXY": "*", "no_proxy": "*"})
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_llmc(args: Sequence[str], home: Path, stdin: Optional[str] = None,
             env: Optional[Mapping[str, str]] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `python main.py ARGS` with its own HOME; stdin is /dev/null unless text is given."""
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=str(home), env=clean_env(home, env),
                          input=stdin, stdin=subprocess.DEVNULL if stdin is None else None,
                          capture_output=True, text=True, timeout=timeout)


def run_measuring_memory(command: Sequence[str], stdin: Any = subprocess.DEVNULL, timeout: float = 60,
                         **popen: Any) -> Tuple[subprocess.CompletedProcess, float]:
    """Run `command` (text output) and return its result and its own peak resident memory in MB: the largest
    VmHWM of /proc/<pid>/status seen while it runs (sampled every 10 ms). Not ru_maxrss (RUSAGE_CHILDREN or
    wait4): that counts the forking test process's memory too, from before the child's exec."""
    process = subprocess.Popen(list(command), stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, **popen)
    killed = threading.Event()
    timer = threading.Timer(timeout, lambda: (killed.set(), process.kill()))
    timer.start()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:  # both pipes drained while the child runs
            out, err = pool.submit(process.stdout.read), pool.submit(process.stderr.read)  # type: ignore[union-attr]
            peak_kb, status = 0, None
            while status is None:
                peak_kb = max(peak_kb, _high_water_kb(process.pid))
                pid, code = os.waitpid(process.pid, os.WNOHANG)  # reaps it: Popen must not wait again
                if pid:
                    status = code
                else:
                    time.sleep(0.01)
            stdout, stderr = out.result(), err.result()
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    for stream in (process.stdout, process.stderr):
        stream.close()  # type: ignore[union-attr]
    if killed.is_set():
        raise subprocess.TimeoutExpired(list(command), timeout, stdout, stderr)
    return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr), peak_kb / 1024


def _high_water_kb(pid: int) -> int:
    """The VmHWM of a running process in kB (0 once it has exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


def run_llmc_in_process(args: Sequence[str], home: Path, stdin: Optional[str] = None,
                        env: Optional[Mapping[str, str]] = None) -> subprocess.CompletedProcess:
    """`llmc ARGS` run by llmc.cli.CommandLine.main in this process, as run_llmc would run it in a child:
    the same environment and working directory, standard streams that are real files (no terminal),
    and a fresh process's state. For tests whose proof needs no process of its own (no signals,
    closed or full streams, start-up imports or a pty): it saves a Python start-up per run."""
    from llmc.base import Secrets
    from llmc.cli import CommandLine
    # what a process remembers for its lifetime starts empty, as in a new process (what providers refused
    # is the run's ProviderManager's)
    Secrets._KNOWN_KEYS.clear()
    saved_environ, saved_cwd, saved_streams = dict(os.environ), os.getcwd(), (sys.stdin, sys.stdout, sys.stderr)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out, \
            tempfile.TemporaryFile("w+", encoding="utf-8") as err, \
            tempfile.TemporaryFile("w+", encoding="utf-8") as given:
        given.write(stdin or "")
        given.seek(0)
        os.environ.clear()
        os.environ.update(clean_env(home, env))
        os.chdir(home)
        sys.stdin, sys.stdout, sys.stderr = given, out, err
        try:
            status = CommandLine.main(list(args))
        except SystemExit as exit_:  # argparse ends the process itself on a bad flag
            status = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved_streams
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_environ)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(["llmc", *args], int(status), out.read(), err.read())


def write_config(data_dir: Path, providers: Mapping[str, Mapping[str, Any]], extra: str = "") -> Path:
    """Write `<data dir>/config.toml` with top-level `extra` and one [providers.NAME] table each."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = [extra] if extra else []
    for name, fields in providers.items():
        lines.append(f"[providers.{name}]")
        for key, value in fields.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    path = data_dir / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)  # it holds a key: llmc warns about one that others can read
    return path


def fake_provider(base_url: str, key: str = "test-key", **fields: Any) -> Dict[str, Any]:
    """A [providers.NAME] table for a fake server."""
    return {"name": "Fake", "base_api_url": base_url, "api_key": key, **fields}


def snapshot(directory: Path) -> Dict[str, tuple]:
    """(bytes, mtime_ns, mode) of every file under `directory`, by relative path."""
    result = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            info = path.stat()
            result[str(path.relative_to(directory))] = (path.read_bytes(), info.st_mtime_ns, info.st_mode)
    return result


def fill(directory: Path) -> Path:
    """Write a filler file until the disk says ENOSPC; deleting it gives the space back."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


class ServerProcess:
    """tests/fake_openai_server.py as a separate process, driven through its admin endpoints."""

    def __init__(self, options: Optional[Dict[str, Any]] = None, faults: Optional[List[dict]] = None,
                 workdir: Optional[Path] = None, max_seconds: float = 120) -> None:
        self.options = dict(options or {})
        if faults:
            self.options["faults"] = faults
        self.workdir = workdir
        self.max_seconds = max_seconds
        self.process: Optional[subprocess.Popen] = None
        self.base_url = ""

    def start(self) -> "ServerProcess":
        args = [sys.executable, str(SERVER_SCRIPT), "--max-seconds", str(self.max_seconds)]
        if self.options:
            config = (self.workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"fake-{id(self)}.json"
            config.write_text(json.dumps(self.options))
            args += ["--config", str(config)]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.base_url = line
        return self

    @property
    def admin_url(self) -> str:
        return self.base_url[: -len("/v1")] + "/_admin"

    def set(self, **options: Any) -> None:
        requests.post(f"{self.admin_url}/set", json=options, timeout=5).raise_for_status()

    def add_fault(self, path: str, fault: dict, times: int = 1) -> None:
        requests.post(f"{self.admin_url}/fault", json={"path": path, "fault": fault, "times": times},
                      timeout=5).raise_for_status()

    def clear_requests(self) -> None:
        requests.post(f"{self.admin_url}/clear", timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.post(f"{self.admin_url}/clear_faults", timeout=5).raise_for_status()

    def reset(self) -> None:
        """Back to the options it started with: no faults, an empty request log (FakeOpenAIServer.reset)."""
        requests.post(f"{self.admin_url}/reset", timeout=5).raise_for_status()

    def requests_log(self) -> List[dict]:
        return requests.get(f"{self.admin_url}/requests", timeout=5).json()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            for stream in (self.process.stdout, self.process.stderr):
                if stream:
                    stream.close()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
