"""ChatEvents: the typed events a reply arrives as, and the Reply they add up to."""
from __future__ import annotations

import dataclasses

import pytest

from llmc.base.ChatEvents import Notice, ReasoningDelta, Reply, TextDelta, ToolCallDelta, Usage
from llmc.base.ChatOptions import ChatOptions
from llmc.base.TokenUsage import TokenUsage


def test_events_are_small_values_compared_by_kind_and_text() -> None:
    assert TextDelta("a") == TextDelta("a") != ReasoningDelta("a")
    assert Notice("cut short") != TextDelta("cut short")
    assert Usage(TokenUsage(3, 4)).tokens.completion_tokens == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        TextDelta("a").text = "b"  # type: ignore[misc]


def test_a_tool_call_delta_carries_its_index_and_a_fragment_of_its_arguments() -> None:
    first, more = ToolCallDelta(0, id="call_1", name="now", arguments='{"tz"'), ToolCallDelta(0, arguments=': "UTC"}')
    assert (first.index, first.id, first.name) == (0, "call_1", "now")
    assert first.arguments + more.arguments == '{"tz": "UTC"}' and more.id is None


def test_a_reply_holds_its_text_usage_and_model() -> None:
    reply = Reply("Hi.", TokenUsage(1, 2), "fake/fake-chat-1")
    assert (reply.text, reply.usage, reply.model) == ("Hi.", (1, 2), "fake/fake-chat-1")
    assert Reply("x").usage is None and Reply("x").model is None


def test_chat_options_default_to_a_streamed_request_with_the_providers_defaults() -> None:
    options = ChatOptions()
    assert (options.temperature, options.max_tokens, options.stream, options.tools) == (None, None, True, ())
    assert dataclasses.replace(options, temperature=0.5).temperature == 0.5
