"""Tool calls end to end: the fake provider asks for calls exactly as OpenAI streams them, real MCP servers
answer (the SDK's Streamable HTTP server on loopback, mcp-server-time from PyPI over stdio), and the proof
of a round is the `tool` message the provider received next."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from tests.conftest import MCP_TOKEN
from tests.e2e.cli_support import YAML_NAME, fake_provider, run_llmc_in_process, write_config
from tests.fake_openai_server import FakeOpenAIServer
from tests.mcp_servers import time_server, write_mcp_file

SLOW = 120
ANSWER = "Done with the tools."


@pytest.fixture
def provider():
    with FakeOpenAIServer(chat_models=["chat-a"], reply=ANSWER, chunk_size=4) as srv:
        yield srv


def setup(data_dir: Path, provider: FakeOpenAIServer, loopback: Any = None, extra: str = "",
          **fields: Any) -> Dict[str, str]:
    servers: Dict[str, Any] = {"time": time_server()}
    if loopback is not None:
        servers["docs"] = {"url": loopback.url, "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}}
    write_mcp_file(data_dir, servers)
    write_config(data_dir, {"fake": fake_provider(provider.base_url, valid_models={"chat-a": "a"}, **fields)},
                 extra=f'model = "fake/chat-a"\n{extra}')
    return {"MCP_TOKEN": MCP_TOKEN}


def llmc(data_dir: Path, home: Path, env: Dict[str, str], *args: str, stdin: str = ""):
    return run_llmc_in_process(["-d", str(data_dir), *args], home, stdin=stdin, env=env)


def chat_requests(provider: FakeOpenAIServer) -> List[dict]:
    return [r["json"] for r in provider.requests if r["path"].endswith("/chat/completions")]


def tool_messages(body: dict) -> List[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def test_two_calls_streamed_in_pieces_run_on_a_real_http_server_and_the_results_go_back(
        data_dir, home, provider, loopback_mcp):
    env = setup(data_dir, provider, loopback_mcp)
    provider.set(tool_rounds=[[{"name": "docs_add", "arguments": '{"a": 2, "b": 3}', "id": "call_add"},
                               {"name": "docs_echo", "arguments": '{"text": "hi there"}', "id": "call_echo"}]])
    result = llmc(data_dir, home, env, "-T", "docs", "--approve-tools", "-u", "-p", "Add and echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER + "\n"  # stdout is the answer alone
    first, second = chat_requests(provider)
    assert [t["function"]["name"] for t in first["tools"]] == [
        "docs_echo", "docs_add", "docs_slow", "docs_get_weather_now", "docs_die"]
    assert second["messages"][-3]["tool_calls"][0]["function"] == {"name": "docs_add", "arguments": '{"a": 2, "b": 3}'}
    assert tool_messages(second) == [{"role": "tool", "tool_call_id": "call_add", "content": "5"},
                                     {"role": "tool", "tool_call_id": "call_echo", "content": "echo: hi there"}]
    lines = result.stderr.splitlines()
    assert lines[0] == "--approve-tools: every tool call of this run runs without asking"
    assert '⚙ docs.add {"a": 2, "b": 3}' in lines and "  → 5" in lines and "  → echo: hi there" in lines
    usage = [line for line in lines if line.startswith("Usage:")]
    from llmc.store.ChatStore import ChatStore
    store = ChatStore(data_dir)
    _, saved = store.load(store.latest())
    rounds = [m["usage"] for m in saved if m["role"] == "assistant"]
    assert len(rounds) == 2  # each round's own count is kept in the chat file
    assert usage == [f"Usage: {sum(r['prompt_tokens'] for r in rounds):,} prompt + "
                     f"{sum(r['completion_tokens'] for r in rounds):,} completion tokens"]  # every round counted
    assert MCP_TOKEN not in result.stdout + result.stderr


def test_mcp_server_time_over_stdio_answers_and_the_chat_file_keeps_the_round(data_dir, home, provider):
    env = setup(data_dir, provider, extra='allowed_tools = ["time.*"]')
    provider.set(tool_rounds=[[{"name": "time_get_current_time", "arguments": '{"timezone": "UTC"}'}]])
    result = llmc(data_dir, home, env, "-T", "time", "-p", "What time is it?")
    assert result.returncode == 0, result.stderr
    [answer] = tool_messages(chat_requests(provider)[1])
    assert json.loads(answer["content"])["timezone"] == "UTC" and "datetime" in answer["content"]
    assert "--approve-tools" not in result.stderr  # allowed by config.toml: nothing asked, nothing refused
    provider.clear_requests()
    provider.set(tool_rounds=[])
    resumed = llmc(data_dir, home, env, "-C", "-p", "And now?")
    assert resumed.returncode == 0, resumed.stderr
    sent = chat_requests(provider)[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[3] == answer and "tools" not in chat_requests(provider)[0]  # -C without -T offers none


def test_without_a_terminal_a_call_is_refused_the_model_told_and_one_line_says_how_to_allow_it(
        data_dir, home, provider):
    env = setup(data_dir, provider)
    provider.set(tool_rounds=[[{"name": "time_get_current_time", "arguments": '{"timezone": "UTC"}'}]])
    result = llmc(data_dir, home, env, "-T", "time", "-p", "What time is it?")
    assert result.returncode == 0, result.stderr
    assert tool_messages(chat_requests(provider)[1])[0]["content"] == "The user declined to run this tool call."
    refusals = [line for line in result.stderr.splitlines() if line.startswith("Refused the call")]
    assert refusals == ["Refused the call of time.get_current_time: no terminal to ask in. To allow it, give "
                        "--approve-tools, or list it in config.toml's allowed_tools (e.g. allowed_tools = "
                        "[\"time.get_current_time\"])"]


def test_unknown_tools_and_arguments_that_are_not_json_are_told_to_the_model(data_dir, home, provider):
    env = setup(data_dir, provider)
    provider.set(tool_rounds=[[{"name": "time_delete_everything", "arguments": "{}"},
                               {"name": "time_convert_time", "arguments": '{"source_timezone": "UTC", '}]])
    result = llmc(data_dir, home, env, "-T", "time", "--approve-tools", "-p", "Go")
    assert result.returncode == 0, result.stderr
    unknown, bad = tool_messages(chat_requests(provider)[1])
    assert unknown["content"] == ("There is no tool named 'time_delete_everything'; the tools on offer are: "
                                  "time_convert_time, time_get_current_time.")
    assert bad["content"].startswith("Not run: the arguments are not JSON")


def test_a_loop_that_never_ends_stops_after_max_tool_steps(data_dir, home, provider):
    env = setup(data_dir, provider, extra="max_tool_steps = 3")
    provider.set(tool_rounds=[[{"name": "time_get_current_time", "arguments": '{"timezone": "UTC"}'}]],
                 tool_rounds_forever=True)
    result = llmc(data_dir, home, env, "-T", "time", "--approve-tools", "-p", "Loop")
    assert result.returncode == 1
    assert len(chat_requests(provider)) == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "llmc: error: Stopped after 3 rounds of tool calls without an answer (max_tool_steps in config.toml); "
        "the calls and their results are kept in the chat")


def test_a_refusal_naming_tools_is_learnt_in_one_line_and_the_next_run_asks_without_tools(data_dir, home, provider):
    env = setup(data_dir, provider)
    provider.set(refuse_fields=["tools"])
    result = llmc(data_dir, home, env, "-T", "time", "-p", "Hi")
    assert result.returncode == 1 and len(chat_requests(provider)) == 1  # no second request
    assert result.stderr.strip().splitlines()[-1] == (
        "llmc: error: fake/chat-a takes no tool calls: the provider refused them (API request failed with status "
        "code 400. Bad Request: Unrecognized request argument supplied: tools); remembered for this model")
    saved = yaml.safe_load((data_dir / YAML_NAME).read_text())["providers"]["fake"]
    assert saved["model_capabilities"] == {"chat-a": {"tools": False}}
    provider.clear_requests()
    again = llmc(data_dir, home, env, "-T", "time", "-p", "Hi")
    assert again.returncode == 0, again.stderr
    assert "tools" not in chat_requests(provider)[0]
    assert again.stderr.splitlines()[0] == ("fake/chat-a takes no tool calls (as its provider said; see llmc "
                                            "--list-models --long): asked without tools")


def test_what_is_known_is_used_before_sending_images_and_the_context(data_dir, home, provider, tmp_path):
    env = setup(data_dir, provider)
    (data_dir / YAML_NAME).write_text(yaml.safe_dump({"providers": {"fake": {
        "model_capabilities": {"chat-a": {"images": False, "context_length": 100}}}}}))
    image = tmp_path / "pixel.png"
    image.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                                    "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"))
    refused = llmc(data_dir, home, env, "-a", str(image), "-p", "What is this?")
    assert refused.returncode == 1 and chat_requests(provider) == []
    assert refused.stderr.strip() == ("llmc: error: fake/chat-a takes no images (as its provider said; see llmc "
                                      "--list-models --long): not sent; pick a model that does with -m or /model")
    long = llmc(data_dir, home, env, "-p", "word " * 200)
    assert long.returncode == 0 and len(chat_requests(provider)) == 1
    assert long.stderr.splitlines()[0] == (
        "This conversation is about 281 tokens, more than the 100 of fake/chat-a's context: the provider may "
        "refuse it or drop its start (/clear starts afresh)")


def test_tool_calls_in_a_whole_reply_run_as_streamed_ones_do(data_dir, home, provider, loopback_mcp):
    env = setup(data_dir, provider, loopback_mcp, extra="stream = false")
    provider.set(tool_rounds=[[{"name": "docs_add", "arguments": '{"a": 40, "b": 2}', "id": "call_1"},
                               {"name": "docs_echo", "arguments": '{"text": "whole"}', "id": "call_2"}]])
    result = llmc(data_dir, home, env, "-T", "docs", "--approve-tools", "-p", "Add")
    assert result.returncode == 0, result.stderr
    first, second = chat_requests(provider)
    assert first["stream"] is False and second["stream"] is False
    assert tool_messages(second) == [{"role": "tool", "tool_call_id": "call_1", "content": "42"},
                                     {"role": "tool", "tool_call_id": "call_2", "content": "echo: whole"}]
    assert result.stdout == ANSWER + "\n"
