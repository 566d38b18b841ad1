"""Tool calls on the model's side: a reply of tool calls streamed in ~27,000 argument fragments, read and
assembled, against a text reply of the same size in the same number of events; and one whole `llmc -p`
question with a round of tool calls (two requests and a call to mcp-server-time over stdio) against the same
question answered without tools.

Targets: the tool-call stream <= 1.5x the text stream; the question with tools <= 1.25x the question without
plus a bare SDK script in a fresh interpreter that starts mcp-server-time and makes the same call.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MAIN, PYTHON, fake_server, isolated_env, median, report, run_timed, work_dir  # noqa: E402

from llmc.base.ChatEvents import TextDelta, ToolCallDelta  # noqa: E402
from llmc.base.ChatOptions import ChatOptions  # noqa: E402
from llmc.base.ToolCalls import ToolCallAssembler  # noqa: E402
from llmc.OpenAIChatCompletionApi import OpenAIChatCompletionApi  # noqa: E402
from llmc.ProviderConfig import ProviderConfig  # noqa: E402
from llmc.transport.HttpSettings import HttpSettings  # noqa: E402
from tests.mcp_servers import time_server, write_mcp_file  # noqa: E402

CHUNK = 4
ARGUMENT_CHARS = 54_000  # per call, two calls: ~27,000 events of 4 characters
RUNS = 5
TOOL = {"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}


def arguments_text() -> str:
    """A JSON object of ARGUMENT_CHARS characters."""
    return json.dumps({"text": "x" * (ARGUMENT_CHARS - 12)})


def stream_seconds(url: str, tools: bool) -> float:
    """Median seconds to read (and, for tool calls, assemble) the server's reply through the API."""
    api = OpenAIChatCompletionApi("fake", ProviderConfig(name="Fake", base_api_url=url, api_key="test-key"),
                                  "chat-a", HttpSettings())
    options = ChatOptions(tools=(TOOL,) if tools else ())
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        calls, text = ToolCallAssembler(), []
        for event in api.send([{"role": "user", "content": "go"}], options):
            if isinstance(event, ToolCallDelta):
                calls.feed(event.index, event.id, event.name, event.arguments)
            elif isinstance(event, TextDelta):
                text.append(event.text)
        times.append(time.perf_counter() - started)
        assert (len(calls.calls()) == 2) if tools else len("".join(text)) == 2 * ARGUMENT_CHARS
    return median(times)


def parsing() -> bool:
    arguments = arguments_text()
    rounds = [[{"name": "t", "arguments": arguments}, {"name": "t", "arguments": arguments}]]
    with fake_server(chat_models=["chat-a"], chunk_size=CHUNK, reply="x" * (2 * ARGUMENT_CHARS),
                     tool_rounds=rounds, tool_rounds_forever=True) as url:
        ours, reference = stream_seconds(url, tools=True), stream_seconds(url, tools=False)
    return report(f"a reply of 2 tool calls in ~{2 * ARGUMENT_CHARS // CHUNK:,} events, read and assembled",
                  "tool-call deltas by index", ours, "a text reply of the same size", reference, "<= 1.5x",
                  ours <= 1.5 * reference)


def question_seconds(url: str, tools: bool) -> List[float]:
    base = work_dir("llmc-bench-toolcalls-")
    data = base / "data"
    data.mkdir()
    write_mcp_file(data, {"time": time_server()})
    (data / "config.toml").write_text(
        f'model = "fake/chat-a"\nallowed_tools = ["time.*"]\n[providers.fake]\nname = "Fake"\n'
        f'base_api_url = "{url}"\napi_key = "test-key"\nvalid_models = {{ "chat-a" = "a" }}\n')
    (data / "config.toml").chmod(0o600)
    command = [PYTHON, MAIN, "-d", str(data), *(["-T", "time"] if tools else []), "-p", "What time is it?"]
    return run_timed(command, isolated_env(base / "home", LLMC_LOCAL_PORTS=""), repeat=RUNS)


BARE_SCRIPT = """
import anyio, sys
from mcp import Client, StdioServerParameters
async def main():
    async with Client(StdioServerParameters(command=sys.executable, args=sys.argv[1:]), mode="legacy") as client:
        await client.list_tools()
        await client.call_tool("get_current_time", {"timezone": "UTC"})
anyio.run(main)
"""


def bare_call_seconds() -> float:
    """A bare SDK script in a fresh interpreter: import the SDK, start mcp-server-time, list, call once."""
    entry = time_server()
    return median(run_timed([PYTHON, "-c", BARE_SCRIPT, *entry["args"]], isolated_env(work_dir("llmc-bench-") / "home"),
                            repeat=RUNS))


def whole_question() -> bool:
    rounds = [[{"name": "time_get_current_time", "arguments": '{"timezone": "UTC"}'}]]
    with fake_server(chat_models=["chat-a"], reply="It is noon.", tool_rounds=rounds) as url:
        ours, plain = median(question_seconds(url, True)), median(question_seconds(url, False))
    bare = bare_call_seconds()
    return report("llmc -p with a round of tool calls (mcp-server-time over stdio, allowed by config.toml)",
                  "-T time: 2 requests + 1 call", ours,
                  f"no tools ({plain:.2f} s) + a bare SDK script ({bare:.2f} s)", plain + bare, "<= 1.25x",
                  ours <= 1.25 * (plain + bare))


def main() -> int:
    results = [parsing(), whole_question()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
