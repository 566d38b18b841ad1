"""The MCP servers of one run (a chat or `-p`), offered to the model as tools: which are on, what they are
called, and calling them with a deadline. Servers start on first use and live until `close`."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ..base.Errors import ConfigError, LlmcError
from ..base.OutputChannel import OutputChannel
from ..base.Secrets import redact, remember_keys, without_known_keys
from ..base.Text import one_line
from .McpConfig import RESERVED_NAMES, McpServer, McpServers
from .ToolNames import display_name, function_name

if TYPE_CHECKING:
    from types import ModuleType

    from .McpSessions import McpConnection, McpLoop

MAX_RESULT_CHARS = 32_000  # what one call may hand back to the model
MAX_DESCRIPTION_CHARS = 2_000
EMPTY_PARAMETERS: Dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True)
class ToolSpec:
    """One tool offered to the model; `name` is unique and valid for the OpenAI format."""

    name: str
    server: str
    tool: str  # the MCP tool's own name
    description: str
    parameters: Dict[str, Any]  # JSON schema

    @property
    def display(self) -> str:
        """`server.tool`, as the user reads and types it."""
        return display_name(self.server, self.tool)

    def as_openai(self) -> Dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


@dataclass(frozen=True)
class ToolOutcome:
    """What goes back to the model as the `tool` message: untrusted, capped in size, keys masked."""

    text: str
    is_error: bool


@dataclass(frozen=True)
class ServerState:
    """One server as /tools and --list-tools show it; `tools` are known once it has started."""

    name: str
    where: str
    on: bool
    started: bool
    error: Optional[str]
    tools: Tuple[Tuple[ToolSpec, bool], ...]  # each tool and whether it is offered


def _sessions() -> "ModuleType":
    """McpSessions, which imports the MCP SDK: only when a server is first used (start-up stays light)."""
    from . import McpSessions  # noqa: PLC0415 - mcp: the SDK only when a server is first used
    return McpSessions


def chosen_servers(names: Iterable[str], servers: McpServers, source: str) -> List[str]:
    """The server names `names` picks (`all`: every one, `none`: none); ConfigError naming `source` for an
    unknown one."""
    chosen: List[str] = []
    for name in names:
        if name == "all":
            chosen += servers.names()
        elif name == "none":
            continue
        elif name in servers.names():
            chosen.append(name)
        elif not servers.servers:
            raise ConfigError(f"{source}: no MCP servers are configured (in {servers.path}), so there is "
                              f"no '{name}'")
        else:
            raise ConfigError(f"{source}: no MCP server '{name}' in {servers.path} (there are: "
                              f"{', '.join(servers.names())}; or {' / '.join(RESERVED_NAMES)})")
    return list(dict.fromkeys(chosen))


class ToolBox:
    """The MCP servers of one run: tools switched on or off, started on first use, called with a deadline."""

    def __init__(self, servers: McpServers, enabled: Iterable[str], output: OutputChannel, timeout: float,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        """`enabled`: the server names whose tools are offered (see chosen_servers); `output`: where a
        server that fails is told, in one line; `timeout`: seconds a server may take to start, and a call."""
        self.configured = servers
        self.output = output
        self.timeout = timeout
        self.environ = os.environ if environ is None else environ
        self._server_on: Dict[str, bool] = {name: name in set(enabled) for name in servers.names()}
        self._tool_on: Dict[Tuple[str, str], bool] = {}  # a tool switched apart from its server
        self._specs: Dict[str, List[ToolSpec]] = {}  # by server, once started
        self._taken: Set[str] = set()
        self._errors: Dict[str, str] = {}  # server -> why it failed to start or stopped
        self._connections: Dict[str, "McpConnection"] = {}
        self._loop: Optional["McpLoop"] = None
        self._secrets = [secret for server in servers.servers for secret in server.secrets(self.environ)]
        remember_keys(self._secrets)

    # What is offered
    def servers(self, start_all: bool = False) -> List[ServerState]:
        """Every configured server and its tools; starts those switched on (all of them with `start_all`)."""
        self._start([name for name in self.configured.names() if start_all or self._server_on[name]])
        return [self._state(server) for server in self.configured.servers]

    def specs(self) -> List[ToolSpec]:
        """The tools switched on, in the file's order; starts their servers on first use."""
        self._start([name for name, on in self._server_on.items() if on or self._has_tool_on(name)])
        return [spec for name in self.configured.names() if name not in self._errors
                for spec in self._specs.get(name, []) if self._is_on(spec)]

    def set_enabled(self, name: str, on: bool) -> str:
        """Switch a server (all its tools) or one tool (`server.tool`, or its function name) on or off for
        this run; what was switched, as the user reads it. LlmcError naming what is unknown."""
        if name in self._server_on:
            self._server_on[name] = on
            self._tool_on = {key: value for key, value in self._tool_on.items() if key[0] != name}
            return f"server {name}"
        spec = self._find_tool(name)
        self._tool_on[(spec.server, spec.tool)] = on
        return spec.display

    def _find_tool(self, name: str) -> ToolSpec:
        server = next((server for server in self.configured.names() if name.startswith(server + ".")), None)
        if server is not None:
            self._start([server])
        for spec in (spec for specs in self._specs.values() for spec in specs):
            if name in (spec.display, spec.name):
                return spec
        if server is not None and server in self._errors:
            raise LlmcError(f"MCP server {server} is not running ({self._errors[server]})")
        known = ", ".join(self.configured.names()) or f"none: see {self.configured.path}"
        raise LlmcError(f"no MCP server or tool '{name}' (servers: {known}; a tool is SERVER.TOOL)")

    def _is_on(self, spec: ToolSpec) -> bool:
        return self._tool_on.get((spec.server, spec.tool), self._server_on[spec.server])

    def _has_tool_on(self, server: str) -> bool:
        return any(on for (name, _), on in self._tool_on.items() if name == server)

    def _state(self, server: McpServer) -> ServerState:
        specs = self._specs.get(server.name, [])
        return ServerState(server.name, self._safe(server.where()), self._server_on[server.name],
                           server.name in self._connections and server.name not in self._errors,
                           self._errors.get(server.name),
                           tuple((spec, self._is_on(spec)) for spec in specs))

    # Calling
    def call(self, name: str, arguments: Dict[str, Any]) -> ToolOutcome:
        """Call the tool the model knows as `name`; a failed, dead or slow server gives an error outcome (and
        one line on the notice channel), never an exception. Ctrl-C stops the call and is raised."""
        spec = next((spec for specs in self._specs.values() for spec in specs if spec.name == name), None)
        if spec is None or not self._is_on(spec):
            return ToolOutcome(f"There is no tool named {name!r} on offer.", True)
        if spec.server in self._errors:
            return ToolOutcome(f"The MCP server {spec.server} is not running ({self._errors[spec.server]}).", True)
        sessions = _sessions()
        connection = self._connections[spec.server]
        try:
            result = connection.call(spec.tool, arguments, self.timeout)
        except TimeoutError:
            self.output.notice(f"The tool {spec.display} did not answer within {self.timeout:g} s; stopped.")
            return ToolOutcome(f"The tool {spec.display} did not answer within {self.timeout:g} s.", True)
        except sessions.ServerGone as exc:
            self._fail(spec.server, f"stopped: {exc}")
            return ToolOutcome(f"The MCP server {spec.server} stopped: {self._safe(str(exc))}.", True)
        except Exception as exc:  # noqa: BLE001 - the server's error is the model's to read, not a crash
            return ToolOutcome(self._safe(f"The tool {spec.display} failed: {sessions.describe_failure(exc)}"), True)
        return ToolOutcome(self._capped(self._safe(sessions.result_text(result))), bool(result.is_error))

    def _safe(self, text: str) -> str:
        return without_known_keys(redact(text, *self._secrets))

    @staticmethod
    def _capped(text: str) -> str:
        if len(text) <= MAX_RESULT_CHARS:
            return text
        return text[:MAX_RESULT_CHARS] + f"\n[cut: {len(text) - MAX_RESULT_CHARS} more characters]"

    # Servers
    def _start(self, names: Iterable[str]) -> None:
        """Start the servers of `names` not yet started, side by side; a failure is one line, not an error."""
        waiting = [name for name in names if name not in self._connections and name not in self._errors]
        if not waiting:
            return
        sessions = _sessions()
        if self._loop is None:
            self._loop = sessions.McpLoop()
        begun = []
        for name in waiting:
            try:
                server = self.configured[name].filled(self.environ, self.configured.path)
            except ConfigError as exc:
                self._fail(name, f"did not start: {exc}")
                continue
            self._connections[name] = connection = sessions.McpConnection(server, self._loop)
            connection.begin()
            begun.append(name)
        deadline = time.monotonic() + self.timeout  # they start side by side: one deadline for all
        try:
            for name in begun:
                self._await_start(name, deadline)
        except KeyboardInterrupt:  # those not yet up are stopped, and started again at the next use
            for name in begun:
                if name not in self._specs and name not in self._errors:
                    self._connections.pop(name).close()
            raise

    def _await_start(self, name: str, deadline: float) -> None:
        connection = self._connections[name]
        try:
            tools = connection.wait_ready(max(0.0, deadline - time.monotonic()), self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure to start is one line and the run goes on
            detail = str(exc) if isinstance(exc, TimeoutError) else connection.why_gone(exc)
            self._fail(name, f"did not start: {detail}")
            return
        self._specs[name] = [self._spec(name, tool) for tool in tools]

    def _spec(self, server: str, tool: Any) -> ToolSpec:
        description = one_line(tool.description or "", MAX_DESCRIPTION_CHARS)
        parameters = tool.input_schema if isinstance(tool.input_schema, dict) and tool.input_schema else \
            dict(EMPTY_PARAMETERS)
        return ToolSpec(function_name(server, tool.name, self._taken), server, tool.name, description, parameters)

    def _fail(self, name: str, why: str) -> None:
        """Note that server `name` cannot be used, and say so once."""
        if name in self._errors:
            return
        self._errors[name] = self._safe(one_line(why, 600))
        self.output.notice(f"MCP server {name} {self._errors[name]}; going on without its tools.")
        connection = self._connections.get(name)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """Stop every server and the loop's thread."""
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None
