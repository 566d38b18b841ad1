"""mcp.json: the `mcpServers` shape, checked field by field; `${NAME}` filled from the environment."""
import json
from pathlib import Path

import pytest

from llmc.base.Errors import ConfigError
from llmc.tools.McpConfig import fill_variables, load_mcp_servers


def load(data_dir: Path, document, warnings=None):
    (data_dir / "mcp.json").write_text(document if isinstance(document, str) else json.dumps(document))
    return load_mcp_servers(data_dir, (warnings if warnings is not None else []).append)


def test_no_file_means_no_servers(data_dir):
    servers = load_mcp_servers(data_dir, print)
    assert servers.servers == () and servers.path == data_dir / "mcp.json"


def test_stdio_and_http_servers_in_the_file_order(data_dir):
    servers = load(data_dir, {"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "docs": {"type": "http", "url": "https://example.invalid/mcp?key=abc", "headers": {"X-Key": "${K}"}}}})
    assert servers.names() == ["time", "docs"]
    time, docs = servers.servers
    assert time.is_stdio and time.args == ("mcp-server-time",) and time.env == {"TZ": "UTC"}
    assert not docs.is_stdio and docs.headers == {"X-Key": "${K}"}
    assert time.where() == "stdio: uvx mcp-server-time"
    assert docs.where() == "http: https://example.invalid/mcp?********"  # a query may hold a key


@pytest.mark.parametrize("document, expected", [
    ("{not json", "not JSON"),
    ({"servers": {}}, "field 'mcpServers' must be an object"),
    ({"mcpServers": []}, "field 'mcpServers' must be an object"),
    ({"mcpServers": {"t": "x"}}, "field 'mcpServers.t' must be an object"),
    ({"mcpServers": {"t": {}}}, "field 'mcpServers.t' needs either 'command'"),
    ({"mcpServers": {"t": {"command": "a", "url": "http://h"}}}, "needs either 'command'"),
    ({"mcpServers": {"t": {"command": 3}}}, "field 'mcpServers.t.command' must be a non-empty string"),
    ({"mcpServers": {"t": {"command": "a", "args": "b"}}}, "field 'mcpServers.t.args' must be a list of strings"),
    ({"mcpServers": {"t": {"command": "a", "env": {"A": 1}}}}, "field 'mcpServers.t.env' must be an object"),
    ({"mcpServers": {"t": {"command": "a", "headers": {}}}}, "'mcpServers.t.headers' does not apply to a stdio"),
    ({"mcpServers": {"t": {"url": "ftp://h"}}}, "field 'mcpServers.t.url' must be an http"),
    ({"mcpServers": {"t": {"url": "http://h", "type": "sse"}}}, "field 'mcpServers.t.type' must be 'stdio'"),
    ({"mcpServers": {"all": {"command": "a"}}}, "server name 'all' is reserved"),
    ({"mcpServers": {"my server": {"command": "a"}}}, "must be one word"),
])
def test_a_bad_file_is_one_error_naming_the_file_and_the_field(data_dir, document, expected):
    with pytest.raises(ConfigError) as caught:
        load(data_dir, document)
    message = str(caught.value)
    assert message.startswith(str(data_dir / "mcp.json")) and expected in message and "\n" not in message


def test_an_unknown_field_is_a_warning(data_dir):
    warnings = []
    load(data_dir, {"mcpServers": {"t": {"command": "a", "disabled": True}}}, warnings)
    assert warnings == [f"Warning: {data_dir / 'mcp.json'}: field 'mcpServers.t.disabled' is not known; ignored"]


def test_variables_are_filled_in_or_named_when_unset(data_dir):
    server = load(data_dir, {"mcpServers": {"d": {"url": "http://127.0.0.1:9/${PATH_PART}",
                                                  "headers": {"Authorization": "Bearer ${TOKEN}"}}}}).servers[0]
    filled = server.filled({"TOKEN": "abc123456789", "PATH_PART": "mcp"}, data_dir / "mcp.json")
    assert filled.headers == {"Authorization": "Bearer abc123456789"} and filled.url == "http://127.0.0.1:9/mcp"
    assert server.secrets({"TOKEN": "abc123456789"}) == ["abc123456789"]
    with pytest.raises(ConfigError, match=r"field 'mcpServers.d.headers.Authorization' names the environment "
                                          r"variable TOKEN, which is not set"):
        server.filled({"PATH_PART": "mcp"}, data_dir / "mcp.json")
    with pytest.raises(ConfigError, match="is no environment variable name"):
        fill_variables("${1-bad}", {}, "here")
