"""The MCP SDK's sessions, run on one background event-loop thread, behind plain blocking calls.

This module imports the SDK (`mcp`, anyio, httpx2): ToolBox imports it only when a server is first used,
so a run that uses no tool never pays for it."""
from __future__ import annotations

import json
import logging
import tempfile
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AsyncExitStack
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, TypeVar

import anyio
import httpx2
from anyio.from_thread import BlockingPortal
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, EmbeddedResource, ImageContent, ResourceLink, TextContent, Tool

from ..base.Text import one_line
from .McpConfig import McpServer

Result = TypeVar("Result")
STDERR_TAIL_BYTES = 4096  # of a stdio server's stderr, to say why it stopped
HTTP_CONNECT_SECONDS = 10.0
CLOSE_SECONDS = 8.0  # the SDK gives a stdio server 2 s to leave after its stdin closes, 2 more after SIGTERM


def _quiet_sdk_loggers() -> None:
    """The SDK and its HTTP client log warnings; with no handler Python would print them on the chat's screen."""
    for name in ("mcp", "client", "httpx2", "httpcore2"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


_quiet_sdk_loggers()


class ServerGone(Exception):
    """The server's connection is closed: it exited, or its HTTP endpoint went away."""


class McpLoop:
    """One background thread running an event loop for every MCP session of a run."""

    def __init__(self) -> None:
        started: Future = Future()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                started.set_result(portal)
                await portal.sleep_until_stopped()

        self._thread = threading.Thread(target=anyio.run, args=(serve,), name="llmc-mcp", daemon=True)
        self._thread.start()
        self.portal: BlockingPortal = started.result()

    def run(self, function: Callable[..., Awaitable[Result]], *args: Any) -> Result:
        """`await function(*args)` on the loop; Ctrl-C while waiting cancels it there and is raised here."""
        future: Future = self.portal.start_task_soon(function, *args)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()
            raise

    def start(self, function: Callable[..., Awaitable[Result]], *args: Any) -> Future:
        """Start `function(*args)` on the loop; its Future."""
        return self.portal.start_task_soon(function, *args)

    def close(self) -> None:
        """Cancel what still runs (the sessions close, stdio servers are stopped) and let the thread end,
        waiting at most CLOSE_SECONDS: a server that will not go must not hold up the end of the run."""
        try:
            self.portal.call(self.portal.stop, True)
        except RuntimeError:  # the loop has ended already
            pass
        self._thread.join(CLOSE_SECONDS)


class McpConnection:
    """One live server: a task on the loop holds its session open until `close`."""

    def __init__(self, server: McpServer, loop: McpLoop) -> None:
        """`server` has its `${NAME}` variables filled in already."""
        self.server = server
        self.loop = loop
        self.tools: List[Tool] = []
        self.client: Optional[Client] = None
        self.failure: Optional[BaseException] = None
        self._ready: Future = Future()
        self._holder: Optional[Future] = None
        self._stderr = tempfile.TemporaryFile(mode="w+b") if server.is_stdio else None

    def begin(self) -> None:
        """Start the server on the loop; `wait_ready` says when its tools are known."""
        self._holder = self.loop.start(self._hold)

    def wait_ready(self, wait: float, deadline: float) -> List[Tool]:
        """The server's tools once it has started; raises what failed, or TimeoutError (saying `deadline`, its
        deadline in seconds) after waiting `wait` seconds more. Ctrl-C while waiting stops the server and is raised."""
        try:
            self._ready.result(wait)
        except FutureTimeout:
            self.close()
            raise TimeoutError(f"it did not answer within {deadline:g} s") from None
        except KeyboardInterrupt:
            self.close()
            raise
        return self.tools

    async def _hold(self) -> None:
        try:
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(Client(await self._transport(stack), mode="legacy"))
                self.tools = await _all_tools(client)
                self.client = client
                self._ready.set_result(True)
                await anyio.sleep_forever()
        except Exception as exc:  # noqa: BLE001 - whatever ended the session is told as its failure
            self.failure = self.failure or exc
            if not self._ready.done():
                self._ready.set_exception(exc)
        finally:
            self.client = None

    async def _transport(self, stack: AsyncExitStack) -> Any:
        """The SDK's transport to the server; an HTTP client it needs is closed with `stack`."""
        server = self.server
        if server.command is not None:
            parameters = StdioServerParameters(command=server.command, args=list(server.args),
                                               env=dict(server.env) or None, cwd=server.cwd)
            # a binary file: the SDK hands only its file descriptor to the child
            return stdio_client(parameters, errlog=self._stderr)  # type: ignore[arg-type]
        assert server.url is not None  # McpConfig gives every server a command or a url
        http = await stack.enter_async_context(httpx2.AsyncClient(
            headers=dict(server.headers), timeout=httpx2.Timeout(HTTP_CONNECT_SECONDS, read=None)))
        return streamable_http_client(server.url, http_client=http)

    def call(self, tool: str, arguments: Dict[str, Any], timeout: float) -> CallToolResult:
        """One tools/call within `timeout` seconds (TimeoutError after); ServerGone if the server is gone.

        Ctrl-C while waiting cancels the call on the loop and is raised."""
        return self.loop.run(self._call, tool, arguments, timeout)

    async def _call(self, tool: str, arguments: Dict[str, Any], timeout: float) -> CallToolResult:
        client = self.client
        if client is None:
            raise ServerGone(self.why_gone())
        try:
            with anyio.fail_after(timeout):
                return await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            raise ServerGone(self.why_gone(exc)) from None
        except MCPError as exc:
            if self.client is None or exc.code == CONNECTION_CLOSED:
                raise ServerGone(self.why_gone(exc)) from None
            raise

    def why_gone(self, exc: Optional[BaseException] = None) -> str:
        """One line: why the server stopped (with its last stderr line, where it wrote one)."""
        cause = self.failure or exc
        reason = describe_failure(cause) if cause is not None else "its connection closed"
        last = self.stderr_tail()
        return f"{reason} ({last})" if last else reason

    def stderr_tail(self) -> str:
        """The last line the stdio server wrote to stderr, as one printable line."""
        if self._stderr is None:
            return ""
        try:
            self._stderr.flush()
            size = self._stderr.seek(0, 2)
            self._stderr.seek(max(0, size - STDERR_TAIL_BYTES))
            lines = [line for line in self._stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return one_line(lines[-1], 200) if lines else ""

    def close(self) -> None:
        """Stop the server (its session closes on the loop); its stderr file goes."""
        if self._holder is not None:
            self._holder.cancel()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


CONNECTION_CLOSED = -32000


def describe_failure(exc: BaseException) -> str:
    """One line for what stopped a server or a call: the SDK's errors are often groups of one."""
    grouped: Sequence[BaseException] = getattr(exc, "exceptions", ())
    while len(grouped) == 1:  # an exception group of one (3.10 has no builtin name)
        exc = grouped[0]
        grouped = getattr(exc, "exceptions", ())
    if isinstance(exc, FileNotFoundError):
        return f"no such command: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        return f"cannot run {exc.filename or 'the command'}: permission denied"
    if isinstance(exc, MCPError):
        return "its connection closed" if exc.code == CONNECTION_CLOSED else one_line(exc.message, 200)
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from the server"
    if isinstance(exc, httpx2.ConnectError):
        return "cannot connect to the server"
    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)):
        return "its connection closed"
    text = one_line(str(exc), 200)
    return text if text else type(exc).__name__


async def _all_tools(client: Client) -> List[Tool]:
    """Every page of the server's tools/list."""
    tools: List[Tool] = []
    cursor: Optional[str] = None
    for _ in range(100):  # a server that pages forever is cut off
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def result_text(result: CallToolResult) -> str:
    """What a tool returned, as text for the model: text parts joined, other parts named."""
    parts: List[str] = []
    for block in result.content:
        if isinstance(block, TextContent):
            parts.append(block.text)
        elif isinstance(block, ImageContent):
            parts.append(f"[image: {block.mime_type}, {len(block.data) * 3 // 4} bytes, not shown]")
        elif isinstance(block, EmbeddedResource):
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource: {resource.uri}]")
        elif isinstance(block, ResourceLink):
            parts.append(f"[resource link: {block.uri}]")
        else:
            parts.append(f"[{getattr(block, 'type', 'content')} part, not shown]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)
