"""MCP tools: one tool round-trip through ToolBox against the same round-trip made by a bare script with the
SDK, over Streamable HTTP (the SDK's server in its own process on 127.0.0.1) and over stdio (mcp-server-time
from PyPI); and start-up with tools configured but unused against start-up with none.

Targets: a round-trip <= 1.5x the bare SDK's; start-up with tools configured <= 1.1x start-up without.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MAIN, PYTHON, ROOT, isolated_env, median, report, work_dir  # noqa: E402

CALLS = 50  # per block; blocks of ToolBox and bare calls alternate, so the machine's load falls on both alike
BLOCKS = 4
STARTS = 25
ECHO = ("echo", {"text": "round trip"})
TIME = ("get_current_time", {"timezone": "Asia/Tokyo"})


@contextmanager
def http_server() -> Iterator[str]:
    """tests/mcp_servers.py --http as its own process (it never shares a GIL with the client); its URL."""
    process = subprocess.Popen([PYTHON, str(ROOT / "tests" / "mcp_servers.py"), "--http"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the MCP server did not start: {url!r}")
        yield url
    finally:
        process.stdin.close()
        process.wait(timeout=20)


def time_server() -> Dict[str, Any]:
    return {"command": PYTHON, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


def per_call(call: Callable[[], Any], count: int) -> List[float]:
    """Seconds of each of `count` calls."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def toolbox_round_trip(entry: Dict[str, Any], tool: str, arguments: Dict[str, Any]) -> List[float]:
    """Seconds of each ToolBox.call once the server has started."""
    from llmc.base.OutputChannel import OutputChannel
    from llmc.tools.McpConfig import load_mcp_servers
    from llmc.tools.ToolBox import ToolBox
    data = work_dir("llmc-bench-tools-")
    (data / "mcp.json").write_text(json.dumps({"mcpServers": {"s": entry}}))
    toolbox = ToolBox(load_mcp_servers(data, print), ["s"], OutputChannel(notice=print), 60)
    try:
        name = next(spec.name for spec in toolbox.specs() if spec.tool == tool)
        outcome = toolbox.call(name, arguments)
        assert not outcome.is_error, outcome
        return per_call(lambda: toolbox.call(name, arguments), CALLS)
    finally:
        toolbox.close()


def bare_round_trip(entry: Dict[str, Any], tool: str, arguments: Dict[str, Any]) -> List[float]:
    """The same calls from a bare SDK script: one Client, awaited in its own event loop."""
    import anyio
    from mcp import Client, StdioServerParameters

    server = entry["url"] if "url" in entry else StdioServerParameters(command=entry["command"], args=entry["args"])

    async def main() -> List[float]:
        async with Client(server, mode="legacy") as client:
            await client.list_tools()
            await client.call_tool(tool, arguments)
            times = []
            for _ in range(CALLS):
                started = time.perf_counter()
                await client.call_tool(tool, arguments)
                times.append(time.perf_counter() - started)
            return times
    return anyio.run(main)


def compare(title: str, entry: Dict[str, Any], tool: str, arguments: Dict[str, Any]) -> bool:
    """Alternating blocks of ToolBox calls and bare SDK calls; their medians side by side."""
    ours: List[float] = []
    bare: List[float] = []
    for _ in range(BLOCKS):
        ours += toolbox_round_trip(entry, tool, arguments)
        bare += bare_round_trip(entry, tool, arguments)
    value, reference = median(ours), median(bare)
    return report(f"{title} (median of {CALLS * BLOCKS} calls each)", "ToolBox.call", value,
                  "bare SDK script (Client.call_tool)", reference, "<= 1.5x", value <= 1.5 * reference)


def start_up_seconds(data: Path, env: dict) -> float:
    """Seconds of one `llmc -e -p hello` (echo mode: the start-up and nothing else)."""
    started = time.perf_counter()
    subprocess.run([PYTHON, MAIN, "-d", str(data), "-e", "-p", "hello"], env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def start_up() -> bool:
    work = work_dir("llmc-bench-tools-start-")
    env = isolated_env(work / "home")
    plain, tooled = work / "plain", work / "tooled"
    plain.mkdir()
    tooled.mkdir()
    (plain / "config.toml").write_text("stream = true\n")  # both read a config.toml: only the tools differ
    (tooled / "mcp.json").write_text(json.dumps({"mcpServers": {
        "time": time_server(), "docs": {"url": "http://127.0.0.1:9/mcp", "headers": {"A": "${X}"}}}}))
    (tooled / "config.toml").write_text('tools = ["all"]\n')
    without, with_tools = [], []
    for turn in range(STARTS):  # one of each in turn, each first half the time: the load falls on both alike
        pair = [(without, plain), (with_tools, tooled)]
        for times, data in pair if turn % 2 else reversed(pair):
            times.append(start_up_seconds(data, env))
    value, reference = median(with_tools), median(without)
    return report("start-up (llmc -e -p), tools configured but unused", "mcp.json with 2 servers, tools=all",
                  value, "no mcp.json", reference, "<= 1.1x", value <= 1.1 * reference)


def main() -> int:
    results = []
    with http_server() as url:
        results.append(compare("one tool round-trip over Streamable HTTP", {"url": url}, *ECHO))
    results.append(compare("one tool round-trip over stdio, mcp-server-time", time_server(), *TIME))
    results.append(start_up())
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
