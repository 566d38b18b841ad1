"""`<data dir>/mcp.json`: the MCP servers, in the `mcpServers` shape other MCP clients use, checked field by field.

A value of `env`, `headers`, `args`, `command` or `url` may name environment variables as `${NAME}`; they
are filled in when the server starts, so the file need hold no secret."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..base.Errors import ConfigError
from ..base.SafeFiles import read_text_file
from ..base.Secrets import mask_url, redact

MCP_FILE_NAME = "mcp.json"
RESERVED_NAMES = ("all", "none")  # -T all, -T none
VARIABLE = re.compile(r"\$\{([^}]*)\}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STDIO_FIELDS = {"command", "args", "env", "cwd"}
HTTP_FIELDS = {"url", "headers"}
OTHER_FIELDS = {"type", "description"}
HTTP_TYPES = ("http", "streamable-http", "streamableHttp", "streamable_http")


@dataclass(frozen=True)
class McpServer:
    """One configured server: a command run over stdio, or a Streamable HTTP `url`."""

    name: str
    command: Optional[str] = None
    args: Tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Optional[str] = None
    url: Optional[str] = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_stdio(self) -> bool:
        return self.command is not None

    def where(self) -> str:
        """How it is reached, safe to show: the command as written, or the URL with its query masked."""
        if self.is_stdio:
            return "stdio: " + redact(" ".join([self.command or "", *self.args]))
        return "http: " + mask_url(self.url or "")

    def secrets(self, environ: Mapping[str, str]) -> List[str]:
        """What its env and headers hold that must never be shown: the variables they name, else the
        values themselves."""
        found: List[str] = []
        for value in [*self.env.values(), *self.headers.values()]:
            names = VARIABLE.findall(value)
            found += [environ[name] for name in names if environ.get(name)] if names else [value]
        return found

    def filled(self, environ: Mapping[str, str], path: Path) -> "McpServer":
        """This server with every `${NAME}` filled from `environ`; ConfigError naming the field of an unset one."""
        def fill(value: str, where: str) -> str:
            return fill_variables(value, environ, f"{path}: field 'mcpServers.{self.name}.{where}'")
        return McpServer(
            self.name, fill(self.command, "command") if self.command is not None else None,
            tuple(fill(arg, f"args[{index}]") for index, arg in enumerate(self.args)),
            {key: fill(value, f"env.{key}") for key, value in self.env.items()},
            fill(self.cwd, "cwd") if self.cwd is not None else None,
            fill(self.url, "url") if self.url is not None else None,
            {key: fill(value, f"headers.{key}") for key, value in self.headers.items()})


@dataclass(frozen=True)
class McpServers:
    """The servers of one mcp.json, in the file's order (none when there is no file)."""

    path: Path
    servers: Tuple[McpServer, ...] = ()

    def names(self) -> List[str]:
        return [server.name for server in self.servers]

    def __getitem__(self, name: str) -> McpServer:
        return next(server for server in self.servers if server.name == name)


def fill_variables(value: str, environ: Mapping[str, str], where: str) -> str:
    """`value` with each `${NAME}` replaced by that environment variable; ConfigError (saying `where`) if unset."""
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if not VARIABLE_NAME.fullmatch(name):
            raise ConfigError(f"{where}: '${{{name}}}' is no environment variable name")
        if name not in environ:
            raise ConfigError(f"{where} names the environment variable {name}, which is not set")
        return environ[name]
    return VARIABLE.sub(replace, value)


def load_mcp_servers(data_directory: Path, warn: Callable[[str], None]) -> McpServers:
    """The servers of `<data_directory>/mcp.json`; ConfigError naming the file and the field that is wrong."""
    path = Path(data_directory) / MCP_FILE_NAME
    text = read_text_file(path, "MCP server file")
    if text is None:
        return McpServers(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be an MCP server file") from None
    if not isinstance(document, dict) or not isinstance(document.get("mcpServers"), dict):
        raise ConfigError(f"{path}: field 'mcpServers' must be an object of servers by name")
    return McpServers(path, tuple(_server(name, entry, path, warn)
                                  for name, entry in document["mcpServers"].items()))


def _server(name: str, entry: Any, path: Path, warn: Callable[[str], None]) -> McpServer:
    where = f"{path}: field 'mcpServers.{name}"
    if not name.strip() or any(character.isspace() for character in name):
        raise ConfigError(f"{path}: server name {name!r} must be one word (it is typed after -T and /tools)")
    if name in RESERVED_NAMES:
        raise ConfigError(f"{path}: server name '{name}' is reserved (-T {name}); rename it")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}' must be an object with 'command' (stdio) or 'url' (Streamable HTTP)")
    for key in sorted(set(entry) - STDIO_FIELDS - HTTP_FIELDS - OTHER_FIELDS):
        warn(f"Warning: {where}.{key}' is not known; ignored")
    kind = entry.get("type")
    if kind is not None and kind not in ("stdio",) + HTTP_TYPES:
        raise ConfigError(f"{where}.type' must be 'stdio' or 'http' (Streamable HTTP), not {kind!r}")
    if ("command" in entry) == ("url" in entry):
        raise ConfigError(f"{where}' needs either 'command' (a stdio server) or 'url' (a Streamable HTTP "
                          "server)")
    if "command" in entry:
        _refuse_fields(entry, HTTP_FIELDS, where, "a stdio server")
        return McpServer(name, command=_text(entry, "command", where), args=tuple(_texts(entry, where)),
                         env=_table(entry, "env", where), cwd=_optional_text(entry, "cwd", where))
    _refuse_fields(entry, STDIO_FIELDS, where, "a Streamable HTTP server")
    url = _text(entry, "url", where)
    if not re.match(r"(?i)https?://|\$\{", url):
        raise ConfigError(f"{where}.url' must be an http:// or https:// URL")
    return McpServer(name, url=url, headers=_table(entry, "headers", where))


def _refuse_fields(entry: Dict[str, Any], fields: set, where: str, kind: str) -> None:
    for key in sorted(fields & set(entry)):
        raise ConfigError(f"{where}.{key}' does not apply to {kind}")


def _text(entry: Dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}.{key}' must be a non-empty string")
    return value


def _optional_text(entry: Dict[str, Any], key: str, where: str) -> Optional[str]:
    return _text(entry, key, where) if key in entry else None


def _texts(entry: Dict[str, Any], where: str) -> List[str]:
    value = entry.get("args", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}.args' must be a list of strings")
    return value


def _table(entry: Dict[str, Any], key: str, where: str) -> Dict[str, str]:
    value = entry.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise ConfigError(f"{where}.{key}' must be an object of strings")
    return dict(value)
