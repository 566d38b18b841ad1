"""The MCP servers as a user meets them: --list-tools, -T, config.toml's `tools`, a bad mcp.json, and /tools
in a real terminal. Servers are real: mcp-server-time from PyPI over stdio, the SDK's server over HTTP."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import MCP_TOKEN
from tests.e2e.cli_support import run_llmc
from tests.e2e.pty_support import finish, send, spawn
from tests.mcp_servers import stdio_server, time_server, write_mcp_file

SLOW = 120  # seconds: two Python servers start on a loaded machine


def test_list_tools_starts_every_server_and_lists_its_tools(data_dir: Path, home: Path, loopback_mcp) -> None:
    write_mcp_file(data_dir, {"time": time_server(),
                              "docs": {"url": loopback_mcp.url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}}})
    (data_dir / "config.toml").write_text('tools = ["time"]\n')
    result = run_llmc(["-d", str(data_dir), "--list-tools"], home, env={"MCP_TOKEN": MCP_TOKEN}, timeout=SLOW)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("time  [on]  stdio: ") and lines[0].endswith("(2 tools)")
    assert any(line.startswith("  [ on] time.convert_time") and "Convert time" in line for line in lines)
    assert f"docs  [off]  http: {loopback_mcp.url}  (5 tools)" in lines
    assert any(line.startswith("  [off] docs.get.weather now") and "(sent as docs_get_weather_now)" in line
               for line in lines)
    assert MCP_TOKEN not in result.stdout + result.stderr
    assert result.stderr == ""


def test_list_tools_with_a_server_that_fails_says_so_in_one_line_and_exits_1(data_dir: Path, home: Path) -> None:
    write_mcp_file(data_dir, {"gone": {"command": "llmc-no-such-command"}, "local": stdio_server()})
    result = run_llmc(["-d", str(data_dir), "--list-tools", "-T", "local"], home, timeout=SLOW)
    assert result.returncode == 1
    assert "gone  [off]  stdio: llmc-no-such-command  did not start: no such command: llmc-no-such-command" \
        in result.stdout
    assert "local  [on]" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "MCP server gone did not start: no such command: llmc-no-such-command; going on without its tools."]
    assert "Traceback" not in result.stderr


def test_list_tools_without_a_file_says_where_it_looked(data_dir: Path, home: Path) -> None:
    result = run_llmc(["-d", str(data_dir), "--list-tools"], home)
    assert (result.returncode, result.stdout) == (0, f"No MCP servers are configured (in {data_dir / 'mcp.json'}).\n")


def test_bad_names_and_a_bad_file_are_one_line_and_exit_2(data_dir: Path, home: Path) -> None:
    write_mcp_file(data_dir, {"time": time_server()})
    unknown = run_llmc(["-d", str(data_dir), "-T", "nope", "-p", "hi"], home)
    assert unknown.returncode == 2
    assert unknown.stderr == (f"llmc: error: -T/--tools: no MCP server 'nope' in {data_dir / 'mcp.json'} "
                              "(there are: time; or all / none)\n")
    (data_dir / "config.toml").write_text('tools = ["time", "other"]\n')
    configured = run_llmc(["-d", str(data_dir), "-p", "hi"], home)
    assert configured.returncode == 2 and f"{data_dir / 'config.toml'}: field 'tools'" in configured.stderr
    (data_dir / "config.toml").write_text('tools = "time"\n')
    wrong_type = run_llmc(["-d", str(data_dir), "-p", "hi"], home)
    assert wrong_type.returncode == 2 and "field 'tools'" in wrong_type.stderr
    combined = run_llmc(["-d", str(data_dir), "-T", "time", "--list-models"], home)
    assert combined.returncode == 2 and "-T/--tools works only with a chat or a prompt" in combined.stderr
    (data_dir / "config.toml").unlink()
    (data_dir / "mcp.json").write_text('{"mcpServers": {"time": {"command": ["x"]}}}')
    bad = run_llmc(["-d", str(data_dir), "--list-tools"], home)
    assert bad.returncode == 2
    assert bad.stderr == (f"llmc: error: {data_dir / 'mcp.json'}: field 'mcpServers.time.command' must be a "
                          "non-empty string\n")


def test_tools_configured_but_unused_start_nothing(data_dir: Path, home: Path) -> None:
    marker = data_dir / "started"
    write_mcp_file(data_dir, {"spy": {"command": "sh", "args": ["-c", f"touch {marker}"]}})
    (data_dir / "config.toml").write_text('tools = ["all"]\n')
    result = run_llmc(["-d", str(data_dir), "-e", "-p", "hello"], home)
    assert (result.returncode, result.stdout) == (0, "hello\n")
    assert not marker.exists()


def test_tools_in_the_chat_list_and_switch(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    write_mcp_file(data, {"time": time_server(), "local": stdio_server(), "gone": {"command": "llmc-no-such"}})
    (data / "config.toml").write_text('tools = ["time"]\nmodel = "openai/4o"\n')
    child = spawn(data, "-e")
    child.expect_exact(">")
    send(child, "/tools")
    child.expect_exact("time  [on]", timeout=SLOW)
    child.expect_exact("[ on] time.get_current_time")
    child.expect_exact("local  [off]")
    child.expect_exact("(not started)")
    child.expect_exact("gone  [off]")
    send(child, "/tools on local.echo")
    child.expect_exact("The tool local.echo is on for this chat.", timeout=SLOW)
    send(child, "/tools off time")
    child.expect_exact("The tools of server time are off for this chat.")
    send(child, "/tools")
    child.expect_exact("time  [off]")
    child.expect_exact("[off] time.convert_time")
    child.expect_exact("[ on] local.echo")
    child.expect_exact("[off] local.add")
    send(child, "/tools on gone")
    child.expect_exact("The tools of server gone are on for this chat.")
    send(child, "/tools")
    child.expect_exact("MCP server gone did not start: no such command: llmc-no-such", timeout=SLOW)
    send(child, "/tools on nothing")
    child.expect_exact("ERROR: no MCP server or tool 'nothing'")
    send(child, "/tools maybe")
    child.expect_exact("ERROR: usage: /tools, /tools on NAME or /tools off NAME (got 'maybe')")
    child.expect_exact(">")
    finish(child)
