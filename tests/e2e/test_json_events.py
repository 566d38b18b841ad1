"""`llmc -p --json` end to end against the loopback server: one JSON object per line, each of a type the
schema below holds (docs/json-events.md documents the same), text merged into pieces, `done` last."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli_support import run_llmc, run_llmc_in_process, write_config
from tests.fake_openai_server import FakeOpenAIServer

REPLY = "First line of the answer.\nSecond line, a little longer than the first.\n\n```sh\nls -la\n```\nThe end."
SCHEMA = {  # type -> its fields and their JSON types: what a script may rely on
    "text": {"type": str, "text": str},
    "reasoning": {"type": str, "text": str},
    "tool_call": {"type": str, "id": str, "name": str, "arguments": str},
    "tool_result": {"type": str, "id": str, "name": str, "ok": bool, "text": str},
    "usage": {"type": str, "prompt_tokens": int, "completion_tokens": int, "cost_usd": (float, int, type(None))},
    "error": {"type": str, "message": str, "exit_status": int},
    "done": {"type": str, "model": (str, type(None)), "chat_id": (str, type(None)),
             "finish_reason": (str, type(None)), "exit_status": int, "version": int},
}


@pytest.fixture
def server():
    with FakeOpenAIServer(api_key=None, chat_models=["coder"], reply=REPLY, reasoning="Let me think.\nYes.",
                          chunk_size=3) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    data = tmp_path / "data"
    write_config(data, {"local": {"base_api_url": server.base_url, "valid_models": {"coder": "coder"},
                                  "max_retries": 0}}, extra='model = "local/coder"')
    return data


def events_of(stdout: str) -> list:
    """Each stdout line as a JSON object, checked against SCHEMA."""
    events = [json.loads(line) for line in stdout.splitlines()]
    for event in events:
        fields = SCHEMA[event["type"]]
        assert set(event) == set(fields), event
        for name, kind in fields.items():
            assert isinstance(event[name], kind), (name, event)
    return events


def test_a_streamed_reply_is_text_and_reasoning_in_pieces_then_usage_then_done(data, home, server):
    result = run_llmc(["-d", str(data), "--json", "explain ls"], home)
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    kinds = [event["type"] for event in events]
    assert kinds[-2:] == ["usage", "done"] and set(kinds[:-2]) == {"reasoning", "text"}
    assert kinds.index("text") > max(i for i, kind in enumerate(kinds) if kind == "reasoning")
    assert "".join(e["text"] for e in events if e["type"] == "reasoning") == "Let me think.\nYes."
    assert "".join(e["text"] for e in events if e["type"] == "text") == REPLY
    assert kinds.count("text") <= REPLY.count("\n") + 1 < len(REPLY) // 3  # merged, not one per 3-char chunk
    usage, done = events[-2:]
    assert usage["prompt_tokens"] > 0 and usage["cost_usd"] is None  # the provider gave no price
    chat_file = next((data / "chats").glob("*.jsonl"))
    assert done == {"type": "done", "model": "local/coder", "chat_id": chat_file.stem, "finish_reason": "stop",
                    "exit_status": 0, "version": 1}


def test_the_cost_is_given_where_the_provider_priced_the_model_and_length_is_the_finish(data, home, server):
    (data / "openaicompat-providers.yaml").write_text(
        "providers:\n  local:\n    model_prices:\n      coder: {prompt: 1000000.0, completion: 0.0, request: 0.0}\n")
    (data / "openaicompat-providers.yaml").chmod(0o600)
    server.set(finish_reason="length", reasoning="")
    result = run_llmc_in_process(["-d", str(data), "-p", "hi", "--json"], home)
    assert result.returncode == 0, result.stderr
    usage, done = events_of(result.stdout)[-2:]
    assert usage["cost_usd"] == pytest.approx(usage["prompt_tokens"])  # $1 a token
    assert done["finish_reason"] == "length" and "cut short by the token limit" in result.stderr


def test_a_failure_is_an_error_then_done_and_stderr_keeps_its_line(data, home, server):
    server.add_fault("/chat/completions", {"status": 500})
    result = run_llmc_in_process(["-d", str(data), "--json", "-p", "hi"], home)
    assert result.returncode == 1
    error, done = events_of(result.stdout)
    assert error["type"] == "error" and error["exit_status"] == 1
    assert "API request failed with status code 500" in error["message"]
    assert not error["message"].startswith("llmc:")
    assert done["exit_status"] == 1 and done["model"] == "local/coder" and done["finish_reason"] is None
    assert result.stderr.count("llmc: error:") == 1


def test_json_needs_a_prompt_and_says_so_in_json_too(data, home):
    result = run_llmc_in_process(["-d", str(data), "--json", "--list-models"], home)
    assert result.returncode == 2
    error, done = events_of(result.stdout)
    assert error["message"] == ("--json works only with a prompt (-p, a positional prompt or a piped stdin), "
                                "not with -l/--list-models")
    assert done["model"] is None and done["exit_status"] == 2


def test_a_piped_prompt_and_echo_mode_work_with_json(data, home):
    echoed = run_llmc_in_process(["-d", str(data), "--json", "-e"], home, stdin="say this\n")
    assert events_of(echoed.stdout) == [{"type": "text", "text": "say this\n"},
                                        {"type": "done", "model": None, "chat_id": None, "finish_reason": None,
                                         "exit_status": 0, "version": 1}]


def test_tool_calls_and_results_are_events_between_the_rounds(data_dir, home, loopback_mcp):
    from tests.conftest import MCP_TOKEN
    from tests.e2e.cli_support import fake_provider
    from tests.mcp_servers import write_mcp_file
    with FakeOpenAIServer(chat_models=["chat-a"], reply="Five.", chunk_size=4) as provider:
        write_mcp_file(data_dir, {"docs": {"url": loopback_mcp.url,
                                           "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}}})
        write_config(data_dir, {"fake": fake_provider(provider.base_url, valid_models={"chat-a": "a"})},
                     extra='model = "fake/chat-a"\n')
        provider.set(tool_rounds=[[{"name": "docs_add", "arguments": '{"a": 2, "b": 3}', "id": "call_add"}]])
        result = run_llmc_in_process(["-d", str(data_dir), "-T", "docs", "--approve-tools", "--json", "-p", "add"],
                                     home, env={"MCP_TOKEN": MCP_TOKEN})
    assert result.returncode == 0, result.stderr
    events = events_of(result.stdout)
    assert [e for e in events if e["type"].startswith("tool_")] == [
        {"type": "tool_call", "id": "call_add", "name": "docs_add", "arguments": '{"a": 2, "b": 3}'},
        {"type": "tool_result", "id": "call_add", "name": "docs_add", "ok": True, "text": "5"}]
    assert [e["type"] for e in events][-3:] == ["text", "usage", "done"] and events[-1]["finish_reason"] == "stop"
