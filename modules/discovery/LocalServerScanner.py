"""Looks for model servers on this machine's default ports and tells their kinds apart."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ..ProviderConfig import is_loopback_url
from .SocketOwner import FOREIGN, SocketOwner, owner_of_port

HOST = "127.0.0.1"
# Ollama, LM Studio, llama.cpp (8080 and its announced new default 9931), vLLM
DEFAULT_PORTS = (11434, 1234, 8080, 9931, 8000)
PORTS_VARIABLE = "LLMC_LOCAL_PORTS"  # internal: ports to look at, comma-separated; empty: none (tests)
CONNECT_TIMEOUT = 0.2  # loopback refuses at once; this bounds a port that drops packets
READ_TIMEOUT = 1.5     # a server that accepted the connection gets this long to answer all its probes
SCAN_SLACK = 0.3      # for the threads to start and the answers to be read
SCAN_DEADLINE = CONNECT_TIMEOUT + READ_TIMEOUT + SCAN_SLACK  # the whole scan, whatever the ports send
MAX_PROBE_BYTES = 1 << 20
KIND_LABELS = {"ollama": "Ollama", "lmstudio": "LM Studio", "llamacpp": "llama.cpp", "vllm": "vLLM",
               "local": "OpenAI-compatible"}


@dataclass(frozen=True)
class LocalServer:
    """A server found on a local port: its kind (provider name), port and what it answered."""

    kind: str
    port: int
    model_count: int = 0
    needs_key: bool = False
    owner: Optional[SocketOwner] = field(default=None, compare=False)  # who listens there; FOREIGN: not probed

    @property
    def base_url(self) -> str:
        """Its OpenAI-compatible API root."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def label(self) -> str:
        """The kind as people write it, e.g. "LM Studio"."""
        return KIND_LABELS[self.kind]


def ports_from_environment(environ: Mapping[str, str]) -> Tuple[int, ...]:
    """The ports to look at: LLMC_LOCAL_PORTS when set (numbers that are no port are left out), else the defaults."""
    text = environ.get(PORTS_VARIABLE)
    if text is None:
        return DEFAULT_PORTS
    ports = (int(word) for word in text.replace(",", " ").split() if word.isdigit())
    return tuple(dict.fromkeys(port for port in ports if 0 < port < 65536))


def local_ports_of(urls: Iterable[str]) -> set:
    """The ports on this machine that the given base URLs point at."""
    ports = set()
    for url in urls:
        if not is_loopback_url(url):
            continue
        try:
            parts = urlsplit(url)
            ports.add(parts.port or (443 if parts.scheme == "https" else 80))
        except ValueError:
            continue
    return ports


class LocalServerScanner:
    """Probes local ports in parallel, within SCAN_DEADLINE in all; a port where nothing listens costs a refused
    connect, and a port another ordinary user listens on is not sent a byte."""

    def __init__(self, ports: Iterable[int] = DEFAULT_PORTS, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT,
                 owner_of: Callable[[int], SocketOwner] = owner_of_port) -> None:
        """`owner_of(port)` says who listens on a port (by /proc/net on Linux)."""
        self.ports = tuple(ports)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.owner_of = owner_of

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> "LocalServerScanner":
        """The scanner of the ports LLMC_LOCAL_PORTS names (the process environment by default)."""
        return cls(ports_from_environment(os.environ if environ is None else environ))

    @property
    def deadline(self) -> float:
        """Seconds the whole scan may take: a connect and one port's probes (the ports are probed in parallel)."""
        return self.connect_timeout + self.read_timeout + SCAN_SLACK

    def scan(self, skip_ports: Iterable[int] = ()) -> List[LocalServer]:
        """The servers that listen on the ports, in port order (those of another user unprobed), as far as
        they answered within the deadline; `skip_ports` are not probed. Ctrl-C ends it at once: the
        probes run in daemon threads that nothing waits for."""
        skipped = set(skip_ports)
        ports = [port for port in self.ports if port not in skipped]
        found: Dict[int, LocalServer] = {}
        lock = threading.Lock()
        over = threading.Event()  # past the deadline: a late answer is not taken

        def probe(port: int) -> None:
            server = self._probe(port)
            with lock:
                if server is not None and not over.is_set():
                    found[port] = server

        threads = [threading.Thread(target=probe, args=(port,), name=f"local-scan-{port}", daemon=True)
                   for port in ports]
        for thread in threads:
            thread.start()
        ends = time.monotonic() + self.deadline
        for thread in threads:
            thread.join(max(0.0, ends - time.monotonic()))
        with lock:
            over.set()
            return [found[port] for port in ports if port in found]

    def _probe(self, port: int) -> Optional[LocalServer]:
        if not self._listening(port):
            return None
        owner = self.owner_of(port)
        if owner.trust == FOREIGN:
            return LocalServer("local", port, owner=owner)
        try:
            server = self._identify(port)
        except Exception:  # noqa: BLE001 - whatever else listens there is no model server of ours
            return None
        if server is None or self.owner_of(port) != owner:  # the listener changed while it was asked
            return None
        return LocalServer(server.kind, port, server.model_count, server.needs_key, owner)

    def _listening(self, port: int) -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=self.connect_timeout):
                return True
        except OSError:
            return False

    def _identify(self, port: int) -> Optional[LocalServer]:
        """What the server on `port` is, asked within `read_timeout` in all (a trickle is cut off)."""
        import requests  # noqa: PLC0415 - requests: the HTTP stack only when a port is listening
        from ..transport.RequestDeadline import RequestDeadline, watched_adapter  # noqa: PLC0415 - requests
        with requests.Session() as session, RequestDeadline(self.read_timeout) as deadline:
            session.trust_env = False  # a proxy from the environment never stands between us and 127.0.0.1
            session.mount("http://", watched_adapter(1))
            server = self._answers(session, port)
            return None if deadline.expired else server

    def _answers(self, session: Any, port: int) -> Optional[LocalServer]:
        """The server `port`'s answers show, None if they show no model server."""
        status, models = self._get(session, port, "/v1/models")
        if status in (401, 403):
            return LocalServer("local", port, needs_key=True)
        data = models.get("data") if isinstance(models, dict) else None
        if status == 200 and isinstance(models, dict) and "data" in models and data is None:
            data = []  # Ollama with no model pulled says "data": null
        if status != 200 or not isinstance(data, list):
            return None
        return LocalServer(self._kind(session, port, data), port, model_count=len(data))

    def _kind(self, session: Any, port: int, models: list) -> str:
        owners = {m.get("owned_by") for m in models if isinstance(m, dict)}
        for kind in ("llamacpp", "vllm"):
            if kind in owners:
                return kind
        status, version = self._get(session, port, "/api/version")
        if status == 200 and isinstance(version, dict) and isinstance(version.get("version"), str):
            return "ollama"
        status, listing = self._get(session, port, "/api/v0/models")
        if status == 200 and isinstance(listing, dict) and isinstance(listing.get("data"), list):
            return "lmstudio"
        return "local"

    def _get(self, session: Any, port: int, path: str) -> Tuple[int, Any]:
        """(status, JSON body or None) of a GET; a body beyond MAX_PROBE_BYTES counts as none."""
        response = session.get(f"http://{HOST}:{port}{path}", stream=True, allow_redirects=False,
                               timeout=(self.connect_timeout, self.read_timeout))
        with response:
            raw = response.raw.read(MAX_PROBE_BYTES + 1, decode_content=True)
        if len(raw) > MAX_PROBE_BYTES:
            return response.status_code, None
        try:
            return response.status_code, json.loads(raw.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            return response.status_code, None
