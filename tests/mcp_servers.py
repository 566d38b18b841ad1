"""MCP servers for the tests, built with the SDK's own server classes: one over Streamable HTTP on loopback,
one over stdio (run this file) that can be told to die. The proof of a request is what they received."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer

TOKEN_HEADER = "authorization"
THIS_FILE = str(Path(__file__).resolve())


def time_server() -> Dict[str, Any]:
    """mcp-server-time from PyPI over stdio, in UTC so its answers do not depend on the machine."""
    return {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


def stdio_server(name: str = "stdio") -> Dict[str, Any]:
    """build_server() over stdio (this file run as a script)."""
    return {"command": sys.executable, "args": [THIS_FILE, name]}


def write_mcp_file(data_dir: Path, servers: Dict[str, Any]) -> Path:
    """`<data_dir>/mcp.json` with these servers."""
    path = data_dir / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return path


def build_server(name: str = "loopback") -> MCPServer:
    """A server with an echo, an adder, a slow tool and a tool whose name needs cleaning up."""
    server = MCPServer(name, log_level="ERROR")

    @server.tool(description="Say the text back")
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool(description="Add two whole numbers")
    def add(a: int, b: int) -> str:
        return str(a + b)

    @server.tool(description="Sleep for some seconds, then answer")
    async def slow(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "done sleeping"

    @server.tool(name="get.weather now", description="A name with a dot and a space")
    def weather() -> str:
        return "sunny"

    @server.tool(description="End the server's process at once")
    def die() -> str:
        os._exit(3)

    return server


class RecordingApp:
    """ASGI middleware: records each request's headers; refuses one without the expected token (if set)."""

    def __init__(self, app: Any, token: Optional[str]) -> None:
        self.app = app
        self.token = token
        self.headers: List[Dict[str, str]] = []

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
            self.headers.append(headers)
            if self.token is not None and headers.get(TOKEN_HEADER) != f"Bearer {self.token}":
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"bad token"})
                return
        await self.app(scope, receive, send)


class LoopbackMcpServer:
    """build_server() over Streamable HTTP on 127.0.0.1, an OS-chosen port, in a thread."""

    def __init__(self, token: Optional[str] = None, name: str = "loopback") -> None:
        self.app = RecordingApp(build_server(name).streamable_http_app(), token)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        config = uvicorn.Config(self.app, log_level="critical", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)

    def __enter__(self) -> "LoopbackMcpServer":
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback MCP server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


def serve_http_until_stdin_closes() -> None:
    """The HTTP server as its own process (for the benchmarks): prints its URL, serves until stdin closes."""
    with LoopbackMcpServer() as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":  # python tests/mcp_servers.py [NAME]: over stdio; --http: over HTTP on loopback
    if sys.argv[1:] == ["--http"]:
        serve_http_until_stdin_closes()
    else:
        build_server(sys.argv[1] if len(sys.argv) > 1 else "stdio").run()
