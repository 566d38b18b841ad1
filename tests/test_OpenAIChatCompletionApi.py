"""OpenAIChatCompletionApi: request shaping, streaming from a real loopback server, error mapping."""
from __future__ import annotations

import json
from typing import List, Optional, Type

import pytest
import responses

from llmc.base.ChatEvents import ChatEvent, Finish, Notice, ReasoningDelta, TextDelta, ToolCallDelta, Usage
from llmc.base.ChatOptions import ChatOptions
from llmc.base.Errors import ApiError, IncompleteReplyError
from llmc.base.TokenUsage import TokenUsage
from llmc.transport.ProviderRefusals import ProviderRefusals
from llmc.transport.HttpSettings import HttpSettings
from llmc.OpenAIChatCompletionApi import (OpenAIChatCompletionApi, build_request_body,
                                             swap_token_limit, uses_fixed_temperature)
from llmc.ProviderConfig import ProviderConfig
from tests.conftest import shared_fake_server
from tests.fake_openai_server import FakeOpenAIServer

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
REPLY = "Héllo wörld, 世界! " * 5


server = shared_fake_server(reply=REPLY, chunk_size=5)


def api_for(srv: FakeOpenAIServer, key: str = "test-key", model: str = "fake-chat-1",
            **settings) -> OpenAIChatCompletionApi:
    config = ProviderConfig(name="Fake", base_api_url=srv.base_url, api_key=key)
    return OpenAIChatCompletionApi("fake", config, model, HttpSettings(**settings))


def collect(api: OpenAIChatCompletionApi, options: ChatOptions = ChatOptions()) -> List[ChatEvent]:
    return list(api.stream_chat(MESSAGES, options))


def text_of(events: List[ChatEvent], kind: Type[ChatEvent]) -> str:
    return "".join(event.text for event in events if type(event) is kind)  # type: ignore[union-attr]


def without_usage(events: List[ChatEvent]) -> List[ChatEvent]:
    """The reply's events but the closing Usage and the provider's finish reason."""
    return [event for event in events if not isinstance(event, (Usage, Finish))]


# ----- request shaping --------------------------------------------------------------------------

@pytest.mark.parametrize("model, fixed", [
    ("gpt-4o", False), ("gpt-4.1-mini-2025-04-14", False), ("gpt-3.5-turbo", False),
    ("gpt-5", True), ("gpt-5-mini", True), ("o1-mini", True), ("o3", True),
    ("deepseek-chat", False), ("Qwen/QwQ-32B", False), ("my-gpt-5", False),
    ("openai/gpt-5", True), ("openai/o4-mini", True), ("openai/gpt-4o", False), ("acme/gpt-5-tune", False),
])
def test_temperature_rule(model: str, fixed: bool) -> None:
    assert uses_fixed_temperature(model) is fixed
    assert build_request_body(model, MESSAGES, stream=True)["temperature"] == (1 if fixed else 0.0)


def test_request_body_fields() -> None:
    body = build_request_body("gpt-4o", MESSAGES, stream=False)
    assert body == {"model": "gpt-4o", "messages": MESSAGES, "temperature": 0.0, "stream": False}


def test_token_limit_field_follows_the_model() -> None:
    assert build_request_body("gpt-5-nano", MESSAGES, False, max_tokens=50)["max_completion_tokens"] == 50
    assert "max_tokens" not in build_request_body("gpt-5-nano", MESSAGES, False, max_tokens=50)
    assert build_request_body("deepseek-chat", MESSAGES, False, max_tokens=50)["max_tokens"] == 50


def test_swap_token_limit_after_a_refusal() -> None:
    body = build_request_body("custom", MESSAGES, False, max_tokens=9)
    error = ApiError("x: HTTP 400: Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens'.",
                     status=400)
    swapped = swap_token_limit(body, error)
    assert swapped["max_completion_tokens"] == 9 and "max_tokens" not in swapped
    assert swap_token_limit(body, ApiError("other", status=400)) is None
    assert swap_token_limit(body, ApiError("max_completion_tokens", status=500)) is None


# ----- streaming against the fake server --------------------------------------------------------

def test_deltas_are_passed_on_as_they_arrive_and_joined_per_network_read(server: FakeOpenAIServer) -> None:
    server.set(reply="one two three four", chunk_size=4, stream_delay=0.05)
    assert [e.text for e in collect(api_for(server)) if isinstance(e, TextDelta)] == [
        "one ", "two ", "thre", "e fo", "ur"]  # an event per read: each passed on alone
    server.set(stream_delay=0.0)  # all events in one write: one delta
    assert [e for e in collect(api_for(server)) if isinstance(e, TextDelta)] == [TextDelta("one two three four")]


def test_text_before_an_error_event_in_the_same_read_is_passed_on_first(server: FakeOpenAIServer) -> None:
    server.set(raw_events=['{"choices": [{"delta": {"content": "Half an "}}]}',
                           '{"choices": [{"delta": {"content": "answer"}}]}',
                           '{"error": {"message": "overloaded"}}'])
    deltas = []
    with pytest.raises(ApiError, match="error in stream: overloaded"):
        for delta in api_for(server).stream_chat(MESSAGES):
            deltas.append(delta)
    assert deltas == [TextDelta("Half an answer")]


def test_streams_content_and_sends_the_request(server: FakeOpenAIServer) -> None:
    deltas = collect(api_for(server))
    assert text_of(deltas, TextDelta) == REPLY
    request = server.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer test-key"
    assert request["json"]["stream"] is True and request["json"]["messages"] == MESSAGES
    assert request["json"]["temperature"] == 0.0


def test_reasoning_content_comes_first(server: FakeOpenAIServer) -> None:
    server.set(reasoning="Let me think… carefully.")
    deltas = collect(api_for(server))
    assert text_of(deltas, ReasoningDelta) == "Let me think… carefully."
    kinds = [type(event) for event in deltas]
    assert kinds.index(TextDelta) > max(i for i, k in enumerate(kinds) if k is ReasoningDelta)


@pytest.mark.parametrize("options", [
    {"stream_chunked": False}, {"keepalive_every": 1}, {"chunk_size": 1}, {"chunk_size": 1000}])
def test_stream_variants(server: FakeOpenAIServer, options: dict) -> None:
    server.set(**options)
    assert text_of(collect(api_for(server)), TextDelta) == REPLY


def test_split_utf8_bytes(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "split_utf8"})
    assert text_of(collect(api_for(server)), TextDelta) == REPLY


def test_complete_without_streaming(server: FakeOpenAIServer) -> None:
    assert api_for(server).complete(MESSAGES) == REPLY
    assert server.requests[-1]["json"]["stream"] is False


def test_complete_events_keeps_the_reasoning(server: FakeOpenAIServer) -> None:
    server.set(reasoning="thinking…")
    assert without_usage(api_for(server).complete_events(MESSAGES)) == [ReasoningDelta("thinking…"), TextDelta(REPLY)]
    assert api_for(server).complete(MESSAGES) == REPLY


@pytest.mark.parametrize("finish, notice", [("length", "fake: the reply was cut short by the token limit"),
                                            ("content_filter",
                                             "fake: the reply was stopped by the provider's content filter")])
def test_a_reply_ended_early_says_why(server: FakeOpenAIServer, finish: str, notice: str) -> None:
    server.set(finish_reason=finish)
    streamed = collect(api_for(server))
    assert text_of(streamed, TextDelta) == REPLY and without_usage(streamed)[-1] == Notice(notice)
    assert without_usage(api_for(server).complete_events(MESSAGES)) == [TextDelta(REPLY), Notice(notice)]


def test_complete_events_of_a_refusal_and_of_several_choices() -> None:
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", json={"choices": [
            {"index": 1, "message": {"role": "assistant", "content": "other choice"}},
            {"index": 0, "message": {"role": "assistant", "content": None, "refusal": "I can't help."}}]})
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
        assert api.complete_events(MESSAGES) == [TextDelta("I can't help.")]


def sse_deltas(body: bytes, seen: Optional[List[ChatEvent]] = None) -> List[ChatEvent]:
    """The deltas stream_chat yields for an SSE body sent in one piece (also in `seen` if it raises)."""
    seen = [] if seen is None else seen
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", body=body, content_type="text/event-stream")
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
        for delta in api.stream_chat(MESSAGES):
            seen.append(delta)
    return seen


def test_a_byte_order_mark_before_the_first_event_is_ignored() -> None:
    body = '\ufeffdata: {"choices": [{"index": 0, "delta": {"content": "first"}}]}\n\n' \
           'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
    assert without_usage(sse_deltas(body.encode())) == [TextDelta("first")]


def test_refusals_stream_as_content_and_choice_0_wins() -> None:
    body = ('data: {"choices": [{"index": 1, "delta": {"content": "B"}}, {"index": 0, "delta": {"content": "A"}}]}\n\n'
            'data: {"choices": [{"index": 0, "delta": {"refusal": "I can\'t"}}]}\n\n'
            'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
    assert without_usage(sse_deltas(body.encode())) == [TextDelta("AI can't")]  # one read: its deltas joined


@pytest.mark.parametrize("sent, passed_on", [("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"),
                                              ("Stop\x1b[31m", "other")])
def test_the_finish_reason_is_passed_on_and_an_odd_one_as_other(sent: str, passed_on: str) -> None:
    finish = json.dumps({"choices": [{"index": 0, "finish_reason": sent}]})
    body = f'data: {{"choices": [{{"index": 0, "delta": {{"content": "ok"}}}}]}}\n\ndata: {finish}\n\ndata: [DONE]\n\n'
    assert [e for e in sse_deltas(body.encode()) if isinstance(e, Finish)] == [Finish(passed_on)]


def test_several_malformed_chunks_are_counted_at_the_end() -> None:
    good = 'data: {"choices": [{"index": 0, "delta": {"content": "ok"}}]}\n\n'
    body = good + "data: {bad\n\n" * 3 + good + 'data: {"choices": [{"index": 0, "finish_reason": "stop"}]}\n\n'
    deltas = sse_deltas((body + "data: [DONE]\n\n").encode())
    assert deltas == [TextDelta("ok"), Notice("fake: skipped a malformed stream chunk: '{bad'"),
                      TextDelta("ok"), Finish("stop"), Notice("fake: skipped 3 malformed stream chunks")]
    seen: List[ChatEvent] = []
    with pytest.raises(IncompleteReplyError):  # a stream that breaks off still gives the count first
        sse_deltas((good + "data: {bad\n\n" * 2).encode(), seen)
    assert seen[-1] == Notice("fake: skipped 2 malformed stream chunks")


def test_a_server_that_ignores_stream_true() -> None:
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", json={
            "choices": [{"message": {"role": "assistant", "content": "whole", "reasoning_content": "r"}}]})
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
        assert list(api.stream_chat(MESSAGES)) == [ReasoningDelta("r"), TextDelta("whole")]


# ----- errors -----------------------------------------------------------------------------------

def test_wrong_key(server: FakeOpenAIServer) -> None:
    with pytest.raises(ApiError) as info:
        collect(api_for(server, key="wrong-key-1234"))
    assert info.value.status == 401
    assert "FAKE_API_KEY" in str(info.value) and "wrong-key-1234" not in str(info.value)


def test_non_chat_model_refused(server: FakeOpenAIServer) -> None:
    with pytest.raises(ApiError) as info:
        collect(api_for(server, model="fake-embed-1"))
    assert info.value.status == 400 and "not a chat model" in str(info.value)


def test_stream_cut_keeps_the_partial_reply(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 12})
    received: List[str] = []
    with pytest.raises(IncompleteReplyError) as info:
        for event in api_for(server).stream_chat(MESSAGES):
            received.append(event.text)  # type: ignore[union-attr]
    assert info.value.partial == REPLY[:12] == "".join(received)
    assert str(info.value) == "fake: connection lost after 12 characters"


def test_stalled_stream_ends_with_a_message(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "stall", "after_chars": 10, "seconds": 5})
    with pytest.raises(IncompleteReplyError) as info:
        collect(api_for(server, read_timeout=0.3))
    assert info.value.partial == REPLY[:10]
    assert "stalled: nothing received for 0.3 s after 10 characters" in str(info.value)


def test_a_stream_of_only_keep_alive_comments_ends_with_a_message(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "keepalive_stall", "after_chars": 10, "seconds": 5})
    with pytest.raises(IncompleteReplyError) as info:
        # a comment every 0.05 s resets the read timeout (0.5 s: ten comments' margin on a busy machine)
        collect(api_for(server, read_timeout=0.5, stall_timeout=1))
    assert info.value.partial == REPLY[:10]
    assert str(info.value) == ("fake: the stream stalled: only keep-alives, no reply text, for 1 s (stall_timeout "
                               "in config.toml); cut after 10 characters")


def test_stalled_unchunked_stream_ends_with_a_message(server: FakeOpenAIServer) -> None:
    server.set(stream_chunked=False)
    server.add_fault("/chat/completions", {"kind": "stall", "after_chars": 10, "seconds": 5})
    with pytest.raises(IncompleteReplyError, match="stalled"):
        collect(api_for(server, read_timeout=0.3))


def test_malformed_chunk_is_skipped_with_one_warning(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "malformed_chunk", "after_chars": 10})
    deltas = collect(api_for(server))
    assert text_of(deltas, TextDelta) == REPLY
    warnings = [event.text for event in deltas if isinstance(event, Notice)]
    assert warnings == ["fake: skipped a malformed stream chunk: '{not valid json'"]


def test_bad_shape_chunk_is_skipped(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "bad_shape_chunk", "after_chars": 10})
    deltas = collect(api_for(server))
    assert text_of(deltas, TextDelta) == REPLY
    assert len([event for event in deltas if isinstance(event, Notice)]) == 1


def test_stream_without_choices_fails_clearly(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "missing_choices"})
    with pytest.raises(ApiError, match="no usable text"):
        collect(api_for(server))


def test_missing_choices_without_streaming(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "missing_choices"})
    with pytest.raises(ApiError, match="fake: the reply has no choices"):
        api_for(server).complete(MESSAGES)


@pytest.mark.parametrize("fault, expected", [
    ({"kind": "non_json"}, "fake: the reply is not JSON: 'not json at all'"),
    ({"kind": "html_error", "status": 502}, "API request failed with status code 502. Bad Gateway: HTML error page"),
    ({"status": 500}, "fake: API request failed with status code 500. Internal Server Error"),
    ({"kind": "drop"}, "(fake) closed the connection without replying"),
])
def test_server_faults_give_api_errors(server: FakeOpenAIServer, fault: dict, expected: str) -> None:
    server.add_fault("/chat/completions", fault)
    with pytest.raises(ApiError) as info:
        collect(api_for(server, max_retries=0))
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("raw, shown", [("overloaded", "overloaded"),
                                        ("overloaded \x1b[31m now", "overloaded \u241b[31m now")])
def test_error_event_inside_the_stream(raw: str, shown: str) -> None:
    body = b'data: {"choices": [{"delta": {"content": "part "}}]}\n\n'
    body += b'data: {"error": {"message": "' + raw.encode() + b'"}}\n\n'  # raw control characters too
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", body=body, content_type="text/event-stream")
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
        with pytest.raises(ApiError) as info:
            collect(api)
    assert str(info.value) == f"fake: error in stream: {shown}"


def test_stream_errors_never_contain_the_key() -> None:
    key = "sk-live-0123456789abcdef"
    body = f'data: {{"bad": "{key}"\n\ndata: {{"error": {{"message": "key {key} revoked"}}}}\n\n'.encode()
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", body=body, content_type="text/event-stream")
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1",
                                                             api_key=key), "m")
        seen: List[str] = []
        with pytest.raises(ApiError) as info:
            for event in api.stream_chat(MESSAGES):
                seen.append(event.text)  # type: ignore[union-attr]
    assert key not in str(info.value) and not any(key in text for text in seen)


def test_non_streaming_reply_cut_off(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "cut"})
    with pytest.raises(ApiError) as info:
        api_for(server).complete(MESSAGES)
    assert str(info.value).endswith("(fake) lost in the middle of the reply")


def test_non_streaming_reply_stalled(server: FakeOpenAIServer) -> None:
    server.add_fault("/chat/completions", {"kind": "stall", "seconds": 5})
    with pytest.raises(ApiError, match=r"\(fake\) sent nothing for 0.3 s \(read timeout\)"):
        api_for(server, read_timeout=0.3).complete(MESSAGES)


def test_a_stream_of_only_keep_alives_ends_after_the_stall_limit() -> None:
    from llmc.OpenAIChatCompletionApi import _StreamState
    api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m",
                                  HttpSettings(stall_timeout=10))
    ticks = iter(range(1000))
    state = _StreamState(clock=lambda: next(ticks))
    pieces = [b'data: {"choices": [{"delta": {"content": "Think"}}]}\n\n'] + [b": keep-alive\n\n"] * 50
    batches = api._payload_batches(iter(pieces), state)
    api._pieces(next(batches)[0], state)
    with pytest.raises(IncompleteReplyError, match="stalled: only keep-alives, no reply text, for 10 s"):
        list(batches)
    state = _StreamState(clock=lambda: 0)
    assert sum(map(len, api._payload_batches(iter(pieces), state))) == 1  # no limit hit


def test_a_whole_json_reply_to_a_stream_request_may_start_with_a_byte_order_mark() -> None:
    body = b'\xef\xbb\xbf{"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}'
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", body=body, content_type="application/json")
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
        assert collect(api) == [TextDelta("hi")]


# ----- temperature and token cap ---------------------------------------------------------------

def test_temperature_and_token_cap_are_sent(server: FakeOpenAIServer) -> None:
    config = ProviderConfig(name="Fake", base_api_url=server.base_url, api_key="test-key")
    api = OpenAIChatCompletionApi("fake", config, "fake-chat-1")
    options = ChatOptions(temperature=0.7, max_tokens=64)
    assert text_of(collect(api, options), TextDelta) == REPLY
    assert api.complete(MESSAGES, options) == REPLY
    assert text_of(collect(api, ChatOptions(temperature=1.5)), TextDelta) == REPLY  # the same API, other options
    sent = [request["json"] for request in server.requests]
    assert [(body["temperature"], body.get("max_tokens"), body["stream"]) for body in sent] == [
        (0.7, 64, True), (0.7, 64, False), (1.5, None, True)]


def test_send_streams_or_not_as_the_options_say(server: FakeOpenAIServer) -> None:
    api = api_for(server)
    streamed = list(api.send(MESSAGES, ChatOptions(stream=True)))
    whole = list(api.send(MESSAGES, ChatOptions(stream=False)))
    assert text_of(streamed, TextDelta) == text_of(whole, TextDelta) == REPLY
    assert [request["json"]["stream"] for request in server.requests] == [True, False]
    assert isinstance(streamed[-1], Usage) and streamed[-1] == whole[-1]  # the usage comes last, both ways


def test_tools_are_offered_in_the_body_only_when_there_are_some() -> None:
    tool = {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    assert build_request_body("m", MESSAGES, True, tools=(tool,))["tools"] == [tool]
    assert "tools" not in build_request_body("m", MESSAGES, True)
    assert ToolCallDelta(0, "call_1", "now", "{}").arguments == "{}"


def test_a_fixed_temperature_model_keeps_it_with_one_notice(server: FakeOpenAIServer) -> None:
    server.set(chat_models=["gpt-5-mini"])
    try:
        config = ProviderConfig(name="Fake", base_api_url=server.base_url, api_key="test-key")
        api = OpenAIChatCompletionApi("fake", config, "gpt-5-mini")
        options = ChatOptions(temperature=0.2, max_tokens=10)
        first, second = collect(api, options), collect(api, options)
        third = collect(api, ChatOptions(temperature=0.3, max_tokens=10))  # /temperature 0.3: said again
    finally:
        server.set(chat_models=["fake-chat-1", "fake-chat-2"])
    notice = Notice("fake: gpt-5-mini accepts only temperature 1: using 1, not 0.2")
    assert first[0] == notice and notice not in second
    assert third[0] == Notice("fake: gpt-5-mini accepts only temperature 1: using 1, not 0.3")
    body = server.requests[-1]["json"]
    assert body["temperature"] == 1 and body["max_completion_tokens"] == 10 and "max_tokens" not in body


def test_a_refused_max_tokens_is_resent_as_max_completion_tokens_and_remembered(server: FakeOpenAIServer) -> None:
    server.set(refuse_fields=["max_tokens"])
    try:
        config = ProviderConfig(name="Fake", base_api_url=server.base_url, api_key="test-key")
        refusals = ProviderRefusals()
        api = OpenAIChatCompletionApi("fake", config, "fake-chat-2", refusals=refusals)
        assert text_of(collect(api, ChatOptions(max_tokens=32)), TextDelta) == REPLY
        again = OpenAIChatCompletionApi("fake", config, "fake-chat-2", refusals=refusals)
        assert again.complete(MESSAGES, ChatOptions(max_tokens=32)) == REPLY
        assert refusals.token_field_swapped("fake-chat-2") and not refusals.token_field_swapped("fake-chat-1")
    finally:
        server.set(refuse_fields=[])
    sent = [r["json"] for r in server.requests]
    assert [("max_tokens" in b, b.get("max_completion_tokens")) for b in sent] == [
        (True, None), (False, 32), (False, 32)]  # refused once, then remembered for this model
    assert [r["status"] for r in server.requests] == [400, 200, 200]


# ----- hostile text: surrogate halves, empty streams (issue 9 items 2 and 17) -------------------------

def content_event(escaped_text: str, field: str = "content") -> str:
    return '{"choices":[{"index":0,"delta":{"%s":"%s"}}]}' % (field, escaped_text)


STOP_EVENT = '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'


def test_an_emoji_split_into_escaped_halves_across_events_is_joined(server: FakeOpenAIServer) -> None:
    server.set(raw_events=[content_event("smile "), content_event("\\ud83d"), content_event("\\ude00!"),
                           content_event("\\ud83e", "reasoning_content"), content_event("\\udd14", "reasoning_content"),
                           STOP_EVENT, "[DONE]"])
    try:
        deltas = collect(api_for(server))
    finally:
        server.set(raw_events=None)
    assert text_of(deltas, TextDelta) == "smile \U0001F600!" and text_of(deltas, ReasoningDelta) == "\U0001F914"


def test_lone_halves_in_a_stream_are_shown_as_replacement_characters(server: FakeOpenAIServer) -> None:
    server.set(raw_events=[content_event("a\\udc00b"), content_event("c\\ud800"), content_event("d"),
                           content_event("end\\ud800"), STOP_EVENT, "[DONE]"])
    try:
        deltas = collect(api_for(server))
    finally:
        server.set(raw_events=None)
    assert text_of(deltas, TextDelta) == "a\ufffdbc\ufffddend\ufffd"


@responses.activate
def test_lone_halves_in_a_whole_reply_are_shown_as_replacement_characters() -> None:
    body = '{"choices":[{"index":0,"message":{"role":"assistant","content":"x\\ud800y","reasoning_content":"\\udfff"}}]}'
    responses.post("http://127.0.0.1:9/v1/chat/completions", body=body, content_type="application/json")
    api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
    assert api.complete_events(MESSAGES) == [ReasoningDelta("\ufffd"), TextDelta("x\ufffdy")]


def test_an_empty_stream_says_the_prompt_may_exceed_the_context(server: FakeOpenAIServer) -> None:
    server.set(raw_events=[])  # llama.cpp's answer to a prompt longer than its context: 200, no event
    try:
        with pytest.raises(ApiError) as caught:
            collect(api_for(server))
    finally:
        server.set(raw_events=None)
    assert str(caught.value) == ("fake: the server sent an empty stream: the prompt may be longer than the "
                                 "model's context (llama.cpp answers so; stream = false shows its error)")


# ----- usage ------------------------------------------------------------------------------------

def test_streams_ask_for_usage_and_keep_the_counts(server: FakeOpenAIServer) -> None:
    api = api_for(server)
    streamed = collect(api)
    assert text_of(streamed, TextDelta) == REPLY
    assert server.requests[-1]["json"]["stream_options"] == {"include_usage": True}
    prompt_chars = sum(len(m["content"]) for m in MESSAGES)
    counted = Usage(TokenUsage(prompt_chars // 4 + 1, len(REPLY) // 4 + 1))  # what the server counted
    assert streamed[-1] == counted and streamed.count(counted) == 1  # the stream's last event
    whole = api.complete_events(MESSAGES)
    assert "stream_options" not in server.requests[-1]["json"]
    assert whole[-1] == counted


def test_a_refused_stream_options_is_dropped_once_and_remembered_for_the_provider(server: FakeOpenAIServer) -> None:
    server.set(refuse_fields=["stream_options"])
    try:
        config = ProviderConfig(name="Fake", base_api_url=server.base_url, api_key="test-key")
        refusals = ProviderRefusals()
        api = OpenAIChatCompletionApi("fake", config, "fake-chat-1", refusals=refusals)
        events = collect(api)
        assert text_of(events, TextDelta) == REPLY
        assert not any(isinstance(event, Usage) for event in events)  # the provider was not asked
        other_model = OpenAIChatCompletionApi("fake", config, "fake-chat-2", refusals=refusals)
        assert text_of(list(other_model.stream_chat(MESSAGES)), TextDelta) == REPLY
    finally:
        server.set(refuse_fields=[])
    assert [("stream_options" in r["json"], r["status"]) for r in server.requests] == [
        (True, 400), (False, 200), (False, 200)]



def test_a_reply_without_end_is_cut_at_the_size_limit() -> None:
    from llmc.transport.BodyReader import MAX_BODY_BYTES, PIECE_BYTES
    from tests.hostile_server import HostileServer, sse_event
    event = sse_event("x" * 60_000)

    def script(request, reply) -> None:
        reply.head(200, {"Content-Type": "text/event-stream"})
        while reply.send(event):
            pass
    with HostileServer(script) as server:
        api = OpenAIChatCompletionApi("evil", ProviderConfig(base_api_url=server.base_url, api_key="k"), "m")
        received = 0
        with pytest.raises(IncompleteReplyError) as info:
            for piece in api.stream_chat(MESSAGES):
                received += len(piece.text)  # type: ignore[union-attr]
    assert str(info.value).startswith("evil: the reply grew past 16 MB (the most llmc keeps); cut after ")
    # checked after each read: the read that passes the limit is the last, and it completes the event begun
    # before it and the events it holds (how many depends on how the reads fall, which load changes)
    assert MAX_BODY_BYTES < received <= MAX_BODY_BYTES + PIECE_BYTES + 60_000
    assert len(info.value.partial) == received


def test_an_event_decodes_alike_with_or_without_space_around_it() -> None:
    from llmc.OpenAIChatCompletionApi import _decode_event
    assert _decode_event('{"a": "b"}') == _decode_event(' {"a": "b"} \t') == {"a": "b"}
    assert _decode_event('"raw\tcontrol"') == "raw\tcontrol"  # lenient, as the rest of llmc
    for bad in ('{"a": 1} x', '', '{"a"', '1 2'):
        with pytest.raises(ValueError):
            _decode_event(bad)


# ----- tool calls -------------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "time_now", "parameters": {"type": "object"}}}
TWO_CALLS = [[{"name": "time_now", "arguments": '{"timezone": "Europe/Paris", "format": "iso"}', "id": "call_a"},
              {"name": "calc_add", "arguments": '{"a": 1, "b": 2}', "id": "call_b"}]]


@pytest.mark.parametrize("stream", [True, False])
def test_tool_calls_streamed_in_pieces_or_whole_come_as_deltas_keyed_by_index(server, stream) -> None:
    from llmc.base.ToolCalls import ToolCall, ToolCallAssembler
    server.set(tool_rounds=TWO_CALLS, stream_delay=0.002)  # each event its own write: fragments arrive apart
    try:
        events = list(api_for(server).send(MESSAGES, ChatOptions(stream=stream, tools=(TOOL,))))
    finally:
        server.set(tool_rounds=[])
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) > 2 if stream else len(deltas) == 2  # streamed: the arguments in several pieces
    assembler = ToolCallAssembler()
    for delta in deltas:
        assembler.feed(delta.index, delta.id, delta.name, delta.arguments)
    assert assembler.calls() == [ToolCall("call_a", "time_now", '{"timezone": "Europe/Paris", "format": "iso"}'),
                                 ToolCall("call_b", "calc_add", '{"a": 1, "b": 2}')]
    assert text_of(events, TextDelta) == "" and not [e for e in events if isinstance(e, Notice)]
    assert isinstance(events[-1], Usage)
    assert server.requests[-1]["json"]["tools"] == [TOOL]


def test_fragments_of_one_call_read_together_come_joined(server) -> None:
    server.set(tool_rounds=TWO_CALLS)  # no delay: the whole reply comes in one read
    try:
        events = list(api_for(server).send(MESSAGES, ChatOptions(tools=(TOOL,))))
    finally:
        server.set(tool_rounds=[])
    assert [(e.index, e.id, e.arguments) for e in events if isinstance(e, ToolCallDelta)] == [
        (0, "call_a", TWO_CALLS[0][0]["arguments"]), (1, "call_b", TWO_CALLS[0][1]["arguments"])]


def test_a_stream_of_tool_calls_alone_is_a_reply_and_malformed_tool_calls_are_skipped(server) -> None:
    head = '{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
    server.set(raw_events=[head % ('{"tool_calls":[{"index":0,"id":"c1","function":{"name":"t","arguments":""}}]}',
                                   "null"),
                           head % ('{"tool_calls":"oops"}', "null"),
                           head % ('{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}', "null"),
                           head % ("{}", '"tool_calls"'), "[DONE]"])
    events = collect(api_for(server), ChatOptions(tools=(TOOL,)))
    assert [(e.index, e.id, e.name, e.arguments) for e in events if isinstance(e, ToolCallDelta)] == [
        (0, "c1", "t", ""), (0, None, None, "{}")]
    assert [e.text for e in events if isinstance(e, Notice)][0].startswith("fake: skipped a malformed stream chunk")
