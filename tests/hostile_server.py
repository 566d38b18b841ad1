"""A loopback HTTP server whose every byte is scripted: the provider as the attacker (127.0.0.1 only).

    def script(request, reply):
        reply.head(200, {"Content-Length": "10"})
        reply.trickle(b"0123456789", every=2.0)
    with HostileServer(script) as server:
        ... server.base_url ... server.requests

`script(request, reply)` is called for every request; the connection is closed when it returns.
"""
from __future__ import annotations

import gzip
import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

HOST = "127.0.0.1"


@dataclass
class Request:
    """What the server received."""

    method: str
    path: str
    headers: Dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    received: float = field(default_factory=time.monotonic)  # when it had arrived whole

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Reply:
    """Writes a response to one connection, as slowly or as badly as a test wants."""

    def __init__(self, connection: socket.socket, stopping: threading.Event) -> None:
        self.connection = connection
        self.stopping = stopping

    def send(self, data: bytes) -> bool:
        """Write raw bytes; False once the client went away or the server stops."""
        if self.stopping.is_set():
            return False
        try:
            self.connection.sendall(data)
            return True
        except OSError:
            return False

    def head(self, status: int, headers: Optional[Dict[str, str]] = None, reason: str = "X") -> bool:
        """The status line and headers (Connection: close is added)."""
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{name}: {value}" for name, value in {"Connection": "close", **(headers or {})}.items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def whole(self, status: int, body: bytes, content_type: str = "application/json",
              headers: Optional[Dict[str, str]] = None) -> bool:
        """A complete response with Content-Length."""
        return (self.head(status, {"Content-Type": content_type, "Content-Length": str(len(body)),
                                   **(headers or {})})
                and self.send(body))

    def trickle(self, data: bytes, every: float, size: int = 1) -> None:
        """Send `data` `size` bytes at a time, one piece every `every` seconds."""
        for start in range(0, len(data), size):
            if not self.send(data[start:start + size]) or self.stopping.wait(every):
                return

    def chunk(self, data: bytes) -> bool:
        """One piece of a chunked body (b"" ends it)."""
        return self.send(b"%x\r\n%s\r\n" % (len(data), data))

    def wait(self, seconds: float) -> None:
        """Sleep, waking when the server stops."""
        self.stopping.wait(seconds)


class _Handler(socketserver.BaseRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        self.request.settimeout(30)
        reader = self.request.makefile("rb")
        try:
            request = _read_request(reader)
        except (OSError, ValueError):
            return
        if request is None:
            return
        self.server.owner.requests.append(request)
        try:
            self.server.owner.script(request, Reply(self.request, self.server.owner.stopping))
        except OSError:
            pass
        finally:
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: "HostileServer") -> None:
        self.owner = owner
        super().__init__((HOST, 0), _Handler)


def _read_request(reader: Any) -> Optional[Request]:
    line = reader.readline(65536).decode("latin-1").strip()
    if not line:
        return None
    method, path, _ = line.split(" ", 2)
    headers = {}
    while True:
        header = reader.readline(65536).decode("latin-1").strip()
        if not header:
            break
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length") or 0))
    return Request(method, path, headers, body)


class HostileServer:
    """Runs `script` for every request on 127.0.0.1 in a background thread."""

    def __init__(self, script: Callable[[Request, Reply], None]) -> None:
        self.script = script
        self.requests: List[Request] = []
        self.stopping = threading.Event()
        self._server: Optional[_Server] = None

    @property
    def origin(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    @property
    def host(self) -> str:
        return self.origin.removeprefix("http://")

    def __enter__(self) -> "HostileServer":
        self._server = _Server(self)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


# ----- building blocks of scripts ------------------------------------------------------------------

def chat_completion(text: str) -> bytes:
    """A whole chat.completion carrying `text`."""
    return json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}).encode()


def models_list(*ids: str) -> bytes:
    """A /models reply listing `ids`."""
    return json.dumps({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}).encode()


def sse_event(content: Optional[str] = None, finish: Optional[str] = None) -> bytes:
    """One chat.completion.chunk event; `content` None leaves the delta empty."""
    delta = {} if content is None else {"content": content}
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).encode() + b"\n\n"


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)
