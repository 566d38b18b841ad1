"""Tests for the fake OpenAI-compatible server used by the rest of the test suite."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fake_openai_server import FakeOpenAIServer

AUTH = {"Authorization": "Bearer test-key"}
SCRIPT = Path(__file__).with_name("fake_openai_server.py")


@pytest.fixture
def server(fake_server: FakeOpenAIServer) -> FakeOpenAIServer:
    """A running fake server with default options (the shared fixture of conftest.py)."""
    return fake_server


def chat(srv: FakeOpenAIServer, stream: bool = False, model: str = "fake-chat-1",
         text: str = "hi", **extra: Any) -> requests.Response:
    """POST a chat completion request."""
    body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    return requests.post(srv.base_url + "/chat/completions", json={**body, **extra},
                         headers=AUTH, stream=stream, timeout=10)


def sse_events(raw: bytes) -> list[str]:
    """Split a raw SSE body into its event blocks (comments included)."""
    return [block for block in raw.decode("utf-8").split("\n\n") if block]


def reassemble(raw: bytes) -> dict:
    """Parse an SSE chat stream into content, reasoning, data payloads and flags."""
    out: dict[str, Any] = {"content": "", "reasoning": "", "chunks": [], "done": False,
                           "comments": 0, "invalid": []}
    for block in sse_events(raw):
        if block.startswith(":"):
            out["comments"] += 1
            continue
        data = block.removeprefix("data: ")
        if data == "[DONE]":
            out["done"] = True
            continue
        try:
            chunk = json.loads(data)
            delta = chunk["choices"][0]["delta"] if chunk.get("choices") else {}
        except (ValueError, TypeError, KeyError, AttributeError):
            out["invalid"].append(data)
            continue
        out["chunks"].append(chunk)
        out["content"] += delta.get("content") or ""
        out["reasoning"] += delta.get("reasoning_content") or ""
    return out


# ----- basics ---------------------------------------------------------------


def test_models_lists_chat_then_non_chat(server: FakeOpenAIServer) -> None:
    """GET /v1/models lists chat models then non-chat models."""
    resp = requests.get(server.base_url + "/models", headers=AUTH, timeout=5)
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["fake-chat-1", "fake-chat-2", "fake-embed-1"]
    assert all(m["object"] == "model" and m["owned_by"] == "fake" for m in body["data"])
    assert server.base_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("shape, bare, chat_fields, other_fields", [
    ("bare", True, {}, {}),
    ("together", True, {"type": "chat"}, {"type": "embedding"}),
    ("openrouter", False, {"architecture": {"output_modalities": ["text"]}},
     {"architecture": {"output_modalities": ["image"]}}),
    ("lmstudio", False, {"type": "llm"}, {"type": "embeddings"}),
    ("mistral", False, {"capabilities": {"completion_chat": True}}, {"capabilities": {"completion_chat": False}}),
])
def test_models_in_each_providers_shape(server: FakeOpenAIServer, shape: str, bare: bool,
                                        chat_fields: dict, other_fields: dict) -> None:
    """models_shape answers /models as that provider documents it; model_metadata adds fields to one entry."""
    server.set(models_shape=shape, model_metadata={"fake-chat-2": {"extra": 1}})
    body = requests.get(server.base_url + "/models", headers=AUTH, timeout=5).json()
    entries = body if bare else body["data"]
    assert isinstance(body, list) is bare
    by_id = {m["id"]: m for m in entries}
    assert list(by_id) == ["fake-chat-1", "fake-chat-2", "fake-embed-1"] and by_id["fake-chat-2"]["extra"] == 1
    for entry, fields in ((by_id["fake-chat-1"], chat_fields), (by_id["fake-embed-1"], other_fields)):
        for key, value in fields.items():
            got = entry[key]
            assert (got == value) if not isinstance(value, dict) else {k: got[k] for k in value} == value
    if shape == "openrouter":
        assert set(by_id["fake-chat-1"]["pricing"]) >= {"prompt", "completion"}
    with pytest.raises(ValueError, match="unknown models_shape"):
        server.set(models_shape="nope")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_bad_or_missing_key_is_401(server: FakeOpenAIServer, headers: dict) -> None:
    """A wrong or missing key gets OpenAI's 401 error and is logged."""
    resp = requests.get(server.base_url + "/models", headers=headers, timeout=5)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "invalid_api_key"
    assert resp.json()["error"]["message"] == "Incorrect API key provided."
    assert server.requests[-1]["status"] == 401


def test_no_api_key_accepts_anonymous() -> None:
    """With api_key=None no Authorization header is needed."""
    with FakeOpenAIServer(api_key=None, chat_models=["a"], non_chat_models=[]) as srv:
        resp = requests.get(srv.base_url + "/models", timeout=5)
    assert [m["id"] for m in resp.json()["data"]] == ["a"]


def test_chat_non_stream(server: FakeOpenAIServer) -> None:
    """A non-streaming request gets a standard chat.completion."""
    body = chat(server).json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-chat-1"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello from the fake server."}
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] > 0
    logged = server.requests[-1]
    assert logged["method"] == "POST" and logged["path"] == "/v1/chat/completions"
    assert logged["json"]["messages"][0]["content"] == "hi"
    assert logged["headers"]["Authorization"] == "Bearer test-key"


def test_chat_non_stream_with_reasoning(server: FakeOpenAIServer) -> None:
    """The reasoning option adds reasoning_content to the message."""
    server.set(reasoning="Let me think.")
    assert chat(server).json()["choices"][0]["message"]["reasoning_content"] == "Let me think."


def test_echo_and_replies_by_model(server: FakeOpenAIServer) -> None:
    """echo repeats the last user message; replies_by_model overrides per model."""
    server.set(echo=True, replies_by_model={"fake-chat-2": "two"})
    assert chat(server, text="ping").json()["choices"][0]["message"]["content"] == "echo: ping"
    assert chat(server, model="fake-chat-2").json()["choices"][0]["message"]["content"] == "two"


def test_unknown_model_404_and_non_chat_400(server: FakeOpenAIServer) -> None:
    """Unknown models are 404, non-chat models are 400, with OpenAI's messages."""
    unknown = chat(server, model="nope")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "The model `nope` does not exist"
    non_chat = chat(server, model="fake-embed-1")
    assert non_chat.status_code == 400
    assert non_chat.json()["error"]["message"] == (
        "fake-embed-1 is not a chat model and not supported in the v1/chat/completions endpoint.")


def test_refused_fields_and_images_on_demand(server: FakeOpenAIServer) -> None:
    """refuse_fields answers a request carrying one with a 400 naming it; refuse_images one with an image."""
    server.set(refuse_fields=["stream_options", "max_tokens"], refuse_images=True)
    refused = chat(server, stream=True, stream_options={"include_usage": True})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Unrecognized request argument supplied: stream_options"
    assert "Use 'max_completion_tokens' instead." in chat(server, max_tokens=5).json()["error"]["message"]
    image = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]
    no_image = chat(server, messages=[{"role": "user", "content": image}])
    assert no_image.status_code == 400 and "image_url is only supported" in no_image.json()["error"]["message"]
    assert chat(server, max_completion_tokens=5).status_code == 200  # fields not named are taken


# ----- streaming ------------------------------------------------------------


def test_stream_reassembles_reply(server: FakeOpenAIServer) -> None:
    """Deltas concatenate to the reply; role first, stop last, then [DONE]."""
    reply = "Grüße, 世界! " * 5
    server.set(reply=reply, chunk_size=3, keepalive_every=2)
    resp = chat(server, stream=True, stream_options={"include_usage": True})
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    parsed = reassemble(resp.content)
    assert parsed["content"] == reply and parsed["done"] and not parsed["invalid"]
    assert parsed["comments"] > 0
    chunks = parsed["chunks"]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                        "finish_reason": "stop"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert all(len(p) <= 3 for p in pieces)


def test_stream_reasoning_chunks(server: FakeOpenAIServer) -> None:
    """Reasoning is streamed in reasoning_content pieces before the content."""
    server.set(reasoning="abcdefghij", reply="xyz", chunk_size=4)
    parsed = reassemble(chat(server, stream=True).content)
    assert parsed["reasoning"] == "abcdefghij" and parsed["content"] == "xyz"
    deltas = [c["choices"][0]["delta"] for c in parsed["chunks"][1:-1]]
    assert deltas == [{"reasoning_content": "abcd"}, {"reasoning_content": "efgh"},
                      {"reasoning_content": "ij"}, {"content": "xyz"}]


def test_large_stream_is_fast(server: FakeOpenAIServer) -> None:
    """A 100 KB reply in 4-character chunks streams well under 2 s."""
    server.set(reply="x" * 100_000, chunk_size=4)
    start = time.monotonic()
    raw = b"".join(chat(server, stream=True).iter_content(chunk_size=None))
    elapsed = time.monotonic() - start
    assert reassemble(raw)["content"] == "x" * 100_000
    assert elapsed < 2.0


def test_stream_delay_delivers_events_incrementally(server: FakeOpenAIServer) -> None:
    """With stream_delay the first event arrives long before the stream ends."""
    server.set(reply="abcd", chunk_size=1, stream_delay=0.1)
    start = time.monotonic()
    blocks = chat(server, stream=True).iter_content(chunk_size=None)
    first = next(blocks)
    first_at = time.monotonic() - start
    rest = b"".join(blocks)
    assert first_at < 0.3 < time.monotonic() - start
    assert reassemble(first + rest)["content"] == "abcd"


def test_stream_without_chunked_encoding(server: FakeOpenAIServer) -> None:
    """stream_chunked=False streams until the connection closes."""
    server.set(stream_chunked=False)
    resp = chat(server, stream=True)
    assert "Transfer-Encoding" not in resp.headers
    assert reassemble(resp.content)["content"] == "Hello from the fake server."


# ----- faults ---------------------------------------------------------------


def test_fault_429_with_retry_after_then_recovers(server: FakeOpenAIServer) -> None:
    """A queued 429 is served once, with Retry-After, then normal service resumes."""
    server.add_fault("/chat/completions", {"status": 429, "retry_after": "1"})
    first = chat(server)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.json()["error"]["message"] == "Rate limit reached"
    assert server.requests[-1]["fault"] == {"status": 429, "retry_after": "1"}
    assert chat(server).status_code == 200


def test_faults_consumed_in_order_and_times(server: FakeOpenAIServer) -> None:
    """Faults for a path are consumed in order, each `times` times."""
    server.add_fault("/models", {"status": 503}, times=2)
    server.add_fault("/v1/models", {"status": 500, "body": "boom"})
    get = lambda: requests.get(server.base_url + "/models", headers=AUTH, timeout=5)  # noqa: E731
    codes = [get().status_code for _ in range(4)]
    assert codes == [503, 503, 500, 200]
    assert chat(server).status_code == 200


def test_fault_raw_body_and_content_type(server: FakeOpenAIServer) -> None:
    """A status fault can carry a raw body and content type."""
    server.add_fault("/models", {"status": 500, "body": "<oops>", "content_type": "text/xml"})
    resp = requests.get(server.base_url + "/models", headers=AUTH, timeout=5)
    assert (resp.status_code, resp.text) == (500, "<oops>")
    assert resp.headers["Content-Type"] == "text/xml"


def test_fault_rate_applies_to_every_request(server: FakeOpenAIServer) -> None:
    """fault_rate faults apply persistently until cleared."""
    server.set(fault_rate={"/chat/completions": {"status": 503}})
    assert [chat(server).status_code for _ in range(2)] == [503, 503]
    server.set(fault_rate={})
    assert chat(server).status_code == 200


def test_fault_html_error(server: FakeOpenAIServer) -> None:
    """html_error sends an HTML page with the given status."""
    server.add_fault("/chat/completions", {"kind": "html_error", "status": 502})
    resp = chat(server)
    assert resp.status_code == 502
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "<html>" in resp.text and "502 Bad Gateway" in resp.text


def test_fault_non_json(server: FakeOpenAIServer) -> None:
    """non_json sends 200 application/json with a non-JSON body."""
    server.add_fault("/models", {"kind": "non_json"})
    resp = requests.get(server.base_url + "/models", headers=AUTH, timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    assert resp.text == "not json at all"


def test_fault_missing_choices(server: FakeOpenAIServer) -> None:
    """missing_choices drops `choices` from a chat completion."""
    server.add_fault("/chat/completions", {"kind": "missing_choices"})
    body = chat(server).json()
    assert body["object"] == "chat.completion" and "choices" not in body


@pytest.mark.parametrize(("kind", "expected"), [("empty_data", {"object": "list", "data": []}),
                                                ("no_data", {"object": "list"})])
def test_fault_models_shapes(server: FakeOpenAIServer, kind: str, expected: dict) -> None:
    """empty_data and no_data change the models body."""
    server.add_fault("/models", {"kind": kind})
    assert requests.get(server.base_url + "/models", headers=AUTH, timeout=5).json() == expected


def test_fault_stall(server: FakeOpenAIServer) -> None:
    """stall pauses mid-stream, then the stream completes normally."""
    server.set(reply="0123456789", chunk_size=2)
    server.add_fault("/chat/completions", {"kind": "stall", "after_chars": 4, "seconds": 0.4})
    blocks = chat(server, stream=True).iter_content(chunk_size=None)
    raw = b""
    while reassemble(raw)["content"] != "0123":
        raw += next(blocks)
    start = time.monotonic()
    raw += b"".join(blocks)
    assert time.monotonic() - start >= 0.3
    parsed = reassemble(raw)
    assert parsed["content"] == "0123456789" and parsed["done"]


def test_fault_cut(server: FakeOpenAIServer) -> None:
    """cut sends part of the reply then closes the connection without [DONE]."""
    server.set(reply="0123456789", chunk_size=2)
    server.add_fault("/chat/completions", {"kind": "cut", "after_chars": 4})
    resp = chat(server, stream=True)
    raw = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for block in resp.iter_content(chunk_size=None):
            raw += block
    parsed = reassemble(raw)
    assert parsed["content"] == "0123" and not parsed["done"]


@pytest.mark.parametrize(("kind", "line"), [("malformed_chunk", "{not valid json"),
                                            ("bad_shape_chunk", '{"choices": "oops"}')])
def test_fault_bad_chunks(server: FakeOpenAIServer, kind: str, line: str) -> None:
    """malformed_chunk / bad_shape_chunk inject one bad event, then continue."""
    server.set(reply="0123456789", chunk_size=2)
    server.add_fault("/chat/completions", {"kind": kind, "after_chars": 6})
    raw = chat(server, stream=True).content
    events = sse_events(raw)
    bad = events.index("data: " + line)
    assert reassemble("\n\n".join(events[:bad]).encode())["content"] == "012345"
    parsed = reassemble(raw)
    assert parsed["content"] == "0123456789" and parsed["done"]


def test_fault_split_utf8(server: FakeOpenAIServer) -> None:
    """split_utf8 writes the stream one byte at a time."""
    server.set(reply="héllo wörld ✓")
    server.add_fault("/chat/completions", {"kind": "split_utf8"})
    blocks = list(chat(server, stream=True).iter_content(chunk_size=None))
    assert max(len(b) for b in blocks) <= 2
    assert reassemble(b"".join(blocks))["content"] == "héllo wörld ✓"


def test_fault_drop(server: FakeOpenAIServer) -> None:
    """drop closes the connection with no response at all."""
    server.add_fault("/models", {"kind": "drop"})
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.base_url + "/models", headers=AUTH, timeout=5)
    assert requests.get(server.base_url + "/models", headers=AUTH, timeout=5).status_code == 200


def test_unknown_fault_and_option_rejected(server: FakeOpenAIServer) -> None:
    """Typos in fault kinds or option names fail loudly."""
    with pytest.raises(ValueError):
        server.add_fault("/models", {"kind": "nope"})
    with pytest.raises(ValueError):
        server.set(replyy="x")


# ----- admin, concurrency, subprocess --------------------------------------


def test_admin_endpoints(server: FakeOpenAIServer) -> None:
    """Admin endpoints change options, queue faults and expose the log, without auth."""
    root = server.base_url.removesuffix("/v1")
    assert requests.post(root + "/_admin/set", json={"reply": "admin!"}, timeout=5).ok
    fault = {"path": "/chat/completions", "fault": {"status": 503}, "times": 1}
    assert requests.post(root + "/_admin/fault", json=fault, timeout=5).ok
    assert chat(server).status_code == 503
    assert chat(server).json()["choices"][0]["message"]["content"] == "admin!"
    log = requests.get(root + "/_admin/requests", timeout=5).json()
    assert [(e["path"], e["status"]) for e in log] == [("/v1/chat/completions", 503),
                                                      ("/v1/chat/completions", 200)]
    assert requests.post(root + "/_admin/set", json={"bogus": 1}, timeout=5).status_code == 400
    assert requests.post(root + "/_admin/clear", timeout=5).ok
    assert requests.get(root + "/_admin/requests", timeout=5).json() == []


def test_concurrent_requests_with_latency() -> None:
    """20 concurrent requests with 0.2 s latency overlap instead of queueing."""
    with FakeOpenAIServer(latency=0.2) as srv:
        url = srv.base_url + "/models"
        get = lambda _: requests.get(url, headers=AUTH, timeout=5)  # noqa: E731
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = [r.status_code for r in pool.map(get, range(20))]
        elapsed = time.monotonic() - start
    assert codes == [200] * 20
    assert 0.2 <= elapsed < 2.0


def test_stop_interrupts_stalled_stream() -> None:
    """stop() returns promptly even while a handler is stalled."""
    srv = FakeOpenAIServer().start()
    srv.add_fault("/chat/completions", {"kind": "stall", "after_chars": 2, "seconds": 30})
    resp = chat(srv, stream=True)
    next(resp.iter_content(chunk_size=None))
    start = time.monotonic()
    srv.stop()
    assert time.monotonic() - start < 2.0
    resp.close()


def start_process(*args: str) -> tuple[subprocess.Popen, str]:
    """Start the server as a process and return it with its base URL."""
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url
    return proc, url


def test_subprocess_mode(tmp_path: Path) -> None:
    """The script prints its URL, serves with its config, and exits cleanly on SIGTERM."""
    config = tmp_path / "fake.json"
    config.write_text(json.dumps({"api_key": "k", "chat_models": ["m"], "non_chat_models": [],
                                  "faults": [{"path": "/models", "fault": {"status": 503}}]}))
    proc, url = start_process("--config", str(config))
    try:
        headers = {"Authorization": "Bearer k"}
        assert requests.get(url + "/models", headers=headers, timeout=5).status_code == 503
        models = requests.get(url + "/models", headers=headers, timeout=5).json()
        assert [m["id"] for m in models["data"]] == ["m"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
    stdout, stderr = proc.communicate(timeout=5)
    assert "Traceback" not in stderr
    assert stdout == ""


def test_subprocess_max_seconds() -> None:
    """The script stops by itself after --max-seconds."""
    proc, _ = start_process("--max-seconds", "0.3")
    try:
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
    assert "Traceback" not in proc.communicate(timeout=5)[1]


def test_admin_clear_faults_drops_queued_and_persistent_faults(server: FakeOpenAIServer) -> None:
    """POST /_admin/clear_faults leaves the server answering normally."""
    server.add_fault("/models", {"status": 500}, times=3)
    server.set(fault_rate={"/chat/completions": {"status": 503}})
    root = server.base_url[: -len("/v1")]
    assert requests.post(root + "/_admin/clear_faults", timeout=5).ok
    assert requests.get(server.base_url + "/models", headers=AUTH, timeout=5).status_code == 200
    assert chat(server).status_code == 200


def test_tool_calls_stream_as_openai_sends_them_split_and_keyed_by_index():
    rounds = [[{"name": "time_get_current_time", "arguments": '{"timezone": "Europe/Paris"}'},
               {"name": "loop_add", "arguments": '{"a": 1, "b": 2}'}]]
    tools = [{"type": "function", "function": {"name": "time_get_current_time", "parameters": {}}}]
    with FakeOpenAIServer(chat_models=["m"], chunk_size=5, tool_rounds=rounds) as srv:
        body = {"model": "m", "stream": True, "tools": tools, "messages": [{"role": "user", "content": "time?"}]}
        response = requests.post(srv.base_url + "/chat/completions", json=body,
                                 headers={"Authorization": "Bearer test-key"})
        events = [json.loads(line[6:]) for line in response.text.splitlines()
                  if line.startswith("data: {")]
        deltas = [e["choices"][0]["delta"].get("tool_calls") for e in events if e["choices"]]
        pieces = [d[0] for d in deltas if d]
        assert pieces[0]["index"] == 0 and pieces[0]["function"] == {"name": "time_get_current_time", "arguments": ""}
        assert "".join(p["function"]["arguments"] for p in pieces if p["index"] == 0) == rounds[0][0]["arguments"]
        assert "".join(p["function"]["arguments"] for p in pieces if p["index"] == 1) == rounds[0][1]["arguments"]
        assert len([p for p in pieces if p["index"] == 0]) > 2  # the arguments came in several events
        assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"
        answered = body["messages"] + [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "x", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "12:00"}]
        whole = requests.post(srv.base_url + "/chat/completions",
                              json={**body, "stream": False, "messages": answered},
                              headers={"Authorization": "Bearer test-key"}).json()
        assert whole["choices"][0]["message"]["content"] == "Hello from the fake server."  # rounds done
        srv.set(tool_rounds_forever=True)
        again = requests.post(srv.base_url + "/chat/completions", json={**body, "stream": False, "messages": answered},
                              headers={"Authorization": "Bearer test-key"}).json()
        assert again["choices"][0]["finish_reason"] == "tool_calls"
        assert [c["function"]["name"] for c in again["choices"][0]["message"]["tool_calls"]] == \
            ["time_get_current_time", "loop_add"]
