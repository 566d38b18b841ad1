"""ToolCalls: calls assembled from stream fragments as OpenAI sends them, read from whole replies."""
from __future__ import annotations

from llmc.base.ToolCalls import (MAX_ARGUMENT_CHARS, MAX_CALLS_PER_REPLY, ToolCall, ToolCallAssembler,
                                 assistant_message, tool_calls_of, tool_message)


def test_two_interleaved_calls_with_arguments_split_across_fragments():
    assembler = ToolCallAssembler()
    assert not assembler
    assembler.feed(0, "call_a", "time_get_current_time", "")
    assembler.feed(0, None, None, '{"timezo')
    assembler.feed(1, "call_b", "time_convert_time", '{"time":')
    assembler.feed(0, None, None, 'ne": "Europe/Paris"}')
    assembler.feed(1, None, None, ' "16:30"}')
    assert assembler
    assert assembler.calls() == [ToolCall("call_a", "time_get_current_time", '{"timezone": "Europe/Paris"}'),
                                 ToolCall("call_b", "time_convert_time", '{"time": "16:30"}')]
    assert assembler.calls()[0].parsed_arguments() == ({"timezone": "Europe/Paris"}, None)


def test_odd_servers_names_in_pieces_repeated_names_no_index_no_id():
    assembler = ToolCallAssembler()
    assembler.feed(None, None, "get_", "")
    assembler.feed(None, None, "time", "{}")
    assert assembler.calls() == [ToolCall("call_0", "get_time", "{}")]
    repeated = ToolCallAssembler()
    repeated.feed(0, "c", "get_time", "{")
    repeated.feed(0, "c", "get_time", "}")
    assert repeated.calls() == [ToolCall("c", "get_time", "{}")]


def test_limits_on_calls_and_argument_size():
    assembler = ToolCallAssembler()
    for index in range(MAX_CALLS_PER_REPLY + 5):
        assembler.feed(index, f"c{index}", "t", "{}")
    assert len(assembler.calls()) == MAX_CALLS_PER_REPLY
    big = ToolCallAssembler()
    big.feed(0, "c", "t", "x" * MAX_ARGUMENT_CHARS)
    big.feed(0, None, None, "more")
    assert len(big.calls()[0].arguments) == MAX_ARGUMENT_CHARS


def test_arguments_that_are_not_a_json_object_say_why():
    assert ToolCall("c", "t", "").parsed_arguments() == ({}, None)
    arguments, why = ToolCall("c", "t", '{"a": ').parsed_arguments()
    assert arguments is None and why.startswith("the arguments are not JSON")
    assert ToolCall("c", "t", "[1, 2]").parsed_arguments() == (None, "the arguments are not a JSON object")


def test_a_whole_replys_calls_and_the_messages_that_carry_them():
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": {"y": 2}}},
        "garbage", {"id": "call_3", "type": "function"}]}
    calls = tool_calls_of(message)
    assert calls == [ToolCall("call_1", "a", '{"x": 1}'), ToolCall("call_2", "b", '{"y": 2}')]
    assert tool_calls_of({"content": "no calls"}) == [] and tool_calls_of(None) == []
    assert assistant_message("", calls[:1]) == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}}]}
    assert assistant_message("hi", []) == {"role": "assistant", "content": "hi"}
    assert tool_message(calls[0], "42") == {"role": "tool", "tool_call_id": "call_1", "content": "42"}
