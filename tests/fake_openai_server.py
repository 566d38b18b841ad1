"""A small, real OpenAI-compatible HTTP server for tests (stdlib only, 127.0.0.1 only).

In-process:
    with FakeOpenAIServer(reply="hi") as srv:
        requests.get(srv.base_url + "/models", headers={"Authorization": "Bearer test-key"})

As a process:
    python3 tests/fake_openai_server.py [--config FILE.json] [--port N] [--max-seconds S]
prints one line ``http://127.0.0.1:PORT/v1`` once listening, then serves until
SIGTERM/SIGINT or until --max-seconds have passed.
"""

from __future__ import annotations

import argparse
import copy
import json
import signal
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit

HOST = "127.0.0.1"
COMPACT = (",", ":")
FLUSH_BYTES = 64 * 1024
DONE_EVENT = b"data: [DONE]\n\n"
KEEPALIVE_EVENT = b": keep-alive\n\n"
MALFORMED_EVENT = b"data: {not valid json\n\n"
BAD_SHAPE_EVENT = b'data: {"choices": "oops"}\n\n'

DEFAULT_OPTIONS: dict[str, Any] = {
    "api_key": "test-key",
    "chat_models": ["fake-chat-1", "fake-chat-2"],
    "non_chat_models": ["fake-embed-1"],
    "latency": 0.0,
    "reply": "Hello from the fake server.",
    "reasoning": "",
    "chunk_size": 8,
    "echo": False,
    "replies_by_model": {},
    "keepalive_every": 0,
    "stream_delay": 0.0,
    "stream_chunked": True,
    "fault_rate": {},
    "finish_reason": "stop",
    "model_metadata": {},  # model id -> extra fields of its /models entry (e.g. OpenRouter "pricing")
    "models_shape": "openai",  # how /models answers: one of MODELS_SHAPES
    "refuse_fields": [],  # top-level request fields answered with a 400 naming them
    "refuse_images": False,  # a 400 for messages holding image_url parts, as text-only models answer
    "raw_events": None,  # a list of SSE data payloads sent verbatim instead of a reply ([] : an empty stream)
    "server_kind": "openai",  # a local server to impersonate: see SERVER_KINDS
    # model id -> {"tools": bool, "vision": bool, "context": int}: what a local server's own endpoints say
    # (llama.cpp /props of its one model, Ollama /api/show, LM Studio /api/v0/models)
    "native_capabilities": {},
    # Tool calls, answered as OpenAI does to a request that offers `tools`: round N of the turn (N = the
    # assistant tool-call messages since the last user message) answers with tool_rounds[N], a list of
    # {"name", "arguments" (JSON text, sent as is, in chunk_size pieces), "id" (optional)}; past the last
    # round, the reply; with tool_rounds_forever the last round again and again.
    "tool_rounds": [],
    "tool_rounds_forever": False,
    "numbered_replies": False,  # each text reply ends with " #N", N counting the replies since the last reset
}
# /models as each provider documents it: "openai" (also Groq, DeepSeek, vLLM, llama.cpp) {"object": "list",
# "data": [...]}; "bare" a bare array; "together" a bare array with `type`, `pricing` per million;
# "openrouter" `architecture.output_modalities` and `pricing` per token as text; "lmstudio" `type`
# llm/embeddings; "mistral" `capabilities.completion_chat`.
MODELS_SHAPES = {"openai", "bare", "together", "openrouter", "lmstudio", "mistral"}

# What each kind of local server says in /v1/models' `owned_by`, and its own endpoints besides /v1.
SERVER_KINDS = {"openai": "fake", "ollama": "library", "lmstudio": "organization_owner",
                "llamacpp": "llamacpp", "vllm": "vllm"}
NATIVE_ROUTES = {("ollama", "GET", "/api/version"), ("lmstudio", "GET", "/api/v0/models"),
                 ("llamacpp", "GET", "/props"), ("ollama", "POST", "/api/show")}

GENERIC_KINDS = {"html_error", "non_json", "drop"}
MODELS_KINDS = {"empty_data", "no_data", "error_200", "missing_ids"}
CHAT_KINDS = {"missing_choices", "stall", "keepalive_stall", "cut", "malformed_chunk", "bad_shape_chunk",
              "split_utf8"}
AFTER_CHARS_KINDS = {"stall", "keepalive_stall", "cut", "malformed_chunk", "bad_shape_chunk"}
FAULT_KINDS = GENERIC_KINDS | MODELS_KINDS | CHAT_KINDS
ROUTES = {("GET", "/models"), ("POST", "/chat/completions")}

HTML_ERROR_PAGE = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def normalize_path(path: str) -> str:
    """Map "/v1/models", "models" or "/models" to the route key "/models"."""
    path = "/" + path.strip("/")
    return path[3:] if path.startswith("/v1/") else path


def validate_fault(fault: dict) -> None:
    """Raise ValueError for a fault dict this server does not understand."""
    if not isinstance(fault, dict):
        raise ValueError(f"fault must be a dict, got {fault!r}")
    kind = fault.get("kind")
    if kind is None and "status" not in fault:
        raise ValueError(f"fault needs a 'kind' or a 'status': {fault!r}")
    if kind is not None and kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")


def error_body(message: str, type_: str = "invalid_request_error", code: str | None = None) -> dict:
    """Build an OpenAI-style error object."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def refusal_message(field: str) -> str:
    """What OpenAI-like servers say about a request field they do not take."""
    if field == "max_tokens":
        return ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.")
    return f"Unrecognized request argument supplied: {field}"


def status_phrase(status: int) -> str:
    """Return the standard reason phrase for a status code, or "HTTP <code>"."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def text_pieces(text: str, size: int) -> list[str]:
    """Split text into pieces of at most size characters."""
    size = max(1, int(size))
    return [text[i:i + size] for i in range(0, len(text), size)]


def message_text(content: Any) -> str:
    """Return the text of a message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def has_image_part(messages: Any) -> bool:
    """True when a message's content holds an image_url part."""
    return any(isinstance(m, dict) and isinstance(m.get("content"), list)
               and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
               for m in (messages if isinstance(messages, list) else []))


def last_user_text(messages: Any) -> str:
    """Return the text of the last user message, or ""."""
    for msg in reversed(messages if isinstance(messages, list) else []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return message_text(msg.get("content"))
    return ""


def usage_for(messages: Any, reply: str) -> dict:
    """Return a deterministic, roughly token-like usage object."""
    prompt = sum(len(message_text(m.get("content"))) for m in messages or [] if isinstance(m, dict))
    prompt_tokens, completion_tokens = prompt // 4 + 1, len(reply) // 4 + 1
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def tool_calls_due(opts: dict, body: dict) -> list:
    """The calls this request is answered with: none unless it offers tools and a round is left."""
    rounds = opts["tool_rounds"]
    if not rounds or not body.get("tools"):
        return []
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    done = sum(1 for m in messages[(users[-1] if users else 0):]
               if isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls"))
    if done >= len(rounds) and not opts["tool_rounds_forever"]:
        return []
    calls = rounds[min(done, len(rounds) - 1)]
    return [{"id": call.get("id") or f"call_{done}_{index}_{uuid.uuid4().hex[:8]}", "name": call["name"],
             "arguments": call.get("arguments", "{}")} for index, call in enumerate(calls)]


def shaped_fields(shape: str, chats: bool) -> dict:
    """The metadata one provider's /models entry carries, for a chat model or another kind."""
    if shape == "together":
        return {"type": "chat" if chats else "embedding", "display_name": "Fake", "organization": "Fake",
                "context_length": 8192,
                "pricing": {"hourly": 0, "input": 0.2, "output": 0.6, "base": 0, "finetune": 0}}
    if shape == "openrouter":
        return {"name": "Fake", "context_length": 8192,
                "architecture": {"modality": "text->text" if chats else "text->image",
                                 "input_modalities": ["text"], "output_modalities": ["text" if chats else "image"]},
                "pricing": {"prompt": "0.0000002", "completion": "0.0000006", "request": "0", "image": "0"}}
    if shape == "lmstudio":
        return {"type": "llm" if chats else "embeddings", "publisher": "fake", "state": "loaded"}
    if shape == "mistral":
        return {"type": "base", "capabilities": {"completion_chat": chats, "completion_fim": False,
                                                 "function_calling": chats, "fine_tuning": False, "vision": False}}
    return {}


class ChunkFactory:
    """Build chat.completion.chunk SSE events quickly from a precomputed JSON head."""

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        """Precompute the constant part of every chunk."""
        head = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": "fp_fake"}
        self.head = "data: " + json.dumps(head, separators=COMPACT)[:-1]

    def delta(self, delta: dict, finish_reason: str | None = None) -> bytes:
        """Return one event carrying the given delta."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._event(json.dumps([choice], separators=COMPACT))

    def text(self, field: str, piece: str) -> bytes:
        """Return one event whose delta is {field: piece} (fast path)."""
        choices = '[{"index":0,"delta":{"%s":%s},"logprobs":null,"finish_reason":null}]' % (
            field, json.dumps(piece))
        return self._event(choices)

    def arguments(self, index: int, piece: str) -> bytes:
        """Return one event carrying a piece of tool call `index`'s arguments (fast path)."""
        return self._event('[{"index":0,"delta":{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]},'
                           '"logprobs":null,"finish_reason":null}]' % (index, json.dumps(piece)))

    def usage(self, usage: dict) -> bytes:
        """Return the final usage-only event (stream_options.include_usage)."""
        usage_json = json.dumps(usage, separators=COMPACT)
        return (self.head + ',"choices":[],"usage":' + usage_json + "}\n\n").encode()

    def _event(self, choices_json: str) -> bytes:
        """Wrap a choices JSON array into an SSE data event."""
        return (self.head + ',"choices":' + choices_json + "}\n\n").encode()


class EventWriter:
    """Buffered SSE writer: batches events unless a delay or byte-wise writes are requested."""

    def __init__(self, handler: "FakeHandler", *, chunked: bool, delay: float,
                 keepalive_every: int, byte_writes: bool) -> None:
        """Bind the writer to a request handler."""
        self.handler, self.chunked, self.delay = handler, chunked, delay
        self.keepalive_every, self.byte_writes = keepalive_every, byte_writes
        self.buffer = bytearray()
        self.count = 0

    def event(self, data: bytes) -> None:
        """Queue one event (plus an optional keep-alive comment) and flush if needed."""
        if self.delay > 0 and self.count:
            self.handler.fake.sleep(self.delay)
        self.buffer += data
        self.count += 1
        if self.keepalive_every and self.count % self.keepalive_every == 0:
            self.buffer += KEEPALIVE_EVENT
        if self.delay > 0 or self.byte_writes or len(self.buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Send everything buffered so far."""
        if not self.buffer:
            return
        data, self.buffer = bytes(self.buffer), bytearray()
        if self.byte_writes:
            for i in range(len(data)):
                self._send(data[i:i + 1])
        else:
            self._send(data)

    def finish(self) -> None:
        """Flush and terminate the body."""
        self.flush()
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")

    def _send(self, data: bytes) -> None:
        """Write raw bytes, framed as one HTTP chunk when chunked."""
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.handler.wfile.write(data)
        self.handler.wfile.flush()


class FakeHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks open connections and stays quiet about client hang-ups."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, fake: "FakeOpenAIServer", port: int) -> None:
        """Bind to 127.0.0.1:port."""
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_opened = 0
        self.connections_lock = threading.Lock()
        super().__init__((HOST, port), FakeHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host name."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def track(self, conn: socket.socket, add: bool) -> None:
        """Add or remove an open connection."""
        with self.connections_lock:
            (self.connections.add if add else self.connections.discard)(conn)
            self.connections_opened += add

    def close_connections(self) -> None:
        """Shut down every connection still open (wakes handlers blocked on I/O)."""
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore connection errors; print anything else."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeHandler(BaseHTTPRequestHandler):
    """Request handler implementing the fake OpenAI API and the admin endpoints."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60
    server: FakeHTTPServer
    entry: dict | None = None

    @property
    def fake(self) -> "FakeOpenAIServer":
        """The owning FakeOpenAIServer."""
        return self.server.fake

    def setup(self) -> None:
        """Register the connection so stop() can close it."""
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        """Unregister the connection, ignoring errors from a dead socket."""
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.track(self.connection, False)

    def handle(self) -> None:
        """Serve requests, treating client disconnects as normal."""
        try:
            super().handle()
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """Record the status in the request log, then send it."""
        if self.entry is not None:
            self.entry["status"] = code
        super().send_response(code, message)

    def do_GET(self) -> None:
        """Dispatch a GET request."""
        self.dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST request."""
        self.dispatch("POST")

    # ----- plumbing -------------------------------------------------------

    def read_json(self) -> Any:
        """Read the request body and parse it as JSON (None if empty or invalid)."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            return json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            return None

    def send_body(self, status: int, body: bytes, content_type: str = "application/json",
                  headers: dict | None = None, byte_writes: bool = False) -> None:
        """Send a complete response with Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        if byte_writes:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
        else:
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        """Send a JSON response."""
        self.send_body(status, json.dumps(obj).encode(), headers=headers)

    def hang_up(self) -> None:
        """Close the connection abruptly, without finishing the response."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ----- routing --------------------------------------------------------

    def dispatch(self, method: str) -> None:
        """Route one request: admin, auth, faults, then the API handler."""
        self.entry = None
        path = urlsplit(self.path).path
        body = self.read_json()
        if path.startswith("/_admin/"):
            return self.admin(method, path, body)
        opts = self.fake.options()
        self.entry = self.fake.log_request(method, path, dict(self.headers), body)
        self.fake.sleep(float(opts["latency"] or 0))
        if (opts["server_kind"], method, path.rstrip("/")) in NATIVE_ROUTES:
            return self.native(opts, path.rstrip("/"), body)
        route = normalize_path(path) if path.startswith("/v1/") else None
        if (method, route) not in ROUTES:
            return self.send_json(404, error_body(f"Unknown request URL: {method} {path}.",
                                                  code="unknown_url"))
        if not self.authorized(opts):
            return self.send_json(401, error_body("Incorrect API key provided.",
                                                  code="invalid_api_key"))
        fault = self.fake.take_fault(route)
        if fault is not None:
            self.entry["fault"] = fault
            if self.apply_generic_fault(fault):
                return
        handler = self.models if route == "/models" else self.chat
        handler(opts, body, fault or {})

    def authorized(self, opts: dict) -> bool:
        """Check the Bearer token when an api_key is configured."""
        key = opts["api_key"]
        return key is None or self.headers.get("Authorization", "") == f"Bearer {key}"

    def apply_generic_fault(self, fault: dict) -> bool:
        """Apply a fault that replaces the whole response; return True if it did."""
        kind = fault.get("kind")
        if kind == "drop":
            self.hang_up()
        elif kind == "non_json":
            self.send_body(200, b"not json at all")
        elif kind == "html_error":
            self.send_html_error(int(fault.get("status", 502)), fault)
        elif kind is None:
            self.send_status_fault(int(fault["status"]), fault)
        else:
            return False
        return True

    def send_html_error(self, status: int, fault: dict) -> None:
        """Send a proxy-style HTML error page."""
        page = fault.get("body") or HTML_ERROR_PAGE.format(status=status,
                                                           phrase=status_phrase(status))
        self.send_body(status, page.encode(), fault.get("content_type", "text/html"),
                       fault.get("headers"))

    def send_status_fault(self, status: int, fault: dict) -> None:
        """Send an error status with a JSON (or raw) body and optional Retry-After."""
        headers = dict(fault.get("headers") or {})
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        if "body" in fault:
            body = str(fault["body"]).encode()
            content_type = fault.get("content_type", "text/plain; charset=utf-8")
        else:
            body = json.dumps(error_body(*self.status_message(status))).encode()
            content_type = fault.get("content_type", "application/json")
        self.send_body(status, body, content_type, headers)

    @staticmethod
    def status_message(status: int) -> tuple[str, str]:
        """Return an OpenAI-like (message, type) for an error status."""
        if status == 429:
            return "Rate limit reached", "rate_limit_exceeded"
        return status_phrase(status), "server_error"

    # ----- admin ----------------------------------------------------------

    def admin(self, method: str, path: str, body: Any) -> None:
        """Serve /_admin/set, /_admin/fault, /_admin/requests, /_admin/clear, /_admin/clear_faults and
        /_admin/reset."""
        actions: dict[tuple[str, str], Callable[[], Any]] = {
            ("POST", "/_admin/set"): lambda: self.fake.set(**(body or {})),
            ("POST", "/_admin/fault"): lambda: self.fake.add_fault(
                body["path"], body["fault"], int(body.get("times", 1))),
            ("POST", "/_admin/clear"): self.fake.clear_requests,
            ("POST", "/_admin/clear_faults"): self.fake.clear_faults,
            ("POST", "/_admin/reset"): self.fake.reset,
            ("GET", "/_admin/requests"): self.fake.request_log,
        }
        action = actions.get((method, path))
        if action is None:
            return self.send_json(404, error_body(f"Unknown admin URL: {method} {path}."))
        try:
            result = action()
        except (ValueError, TypeError, KeyError) as exc:
            return self.send_json(400, error_body(f"bad admin request: {exc!r}"))
        self.send_json(200, result if result is not None else {"ok": True})

    # ----- API ------------------------------------------------------------

    def native(self, opts: dict, path: str, body: Any) -> None:
        """Ollama's GET /api/version and POST /api/show, LM Studio's GET /api/v0/models, llama.cpp's GET /props
        (no key asked, as those servers do), saying what `native_capabilities` gives."""
        known = opts["native_capabilities"]
        if path == "/api/version":
            return self.send_json(200, {"version": "0.6.2"})
        if path == "/api/show":
            model = body.get("model") if isinstance(body, dict) else None
            if model not in known:
                return self.send_json(404, {"error": f"model '{model}' not found"})
            words = ["completion"] + ["tools"] * known[model].get("tools", False) \
                + ["vision"] * known[model].get("vision", False)
            return self.send_json(200, {"capabilities": words, "details": {"family": "fake"},
                                        "model_info": {"fake.context_length": known[model].get("context", 2048)}})
        if path == "/props":
            first = known.get(opts["chat_models"][0], {})
            return self.send_json(200, {"default_generation_settings": {"n_ctx": first.get("context", 4096)},
                                        "chat_template_caps": {"supports_tools": first.get("tools", False)},
                                        "modalities": {"vision": first.get("vision", False)}})
        data = []
        for m in list(opts["chat_models"]) + list(opts["non_chat_models"]):
            said = known.get(m, {})
            kind = "embeddings" if m in opts["non_chat_models"] else "vlm" if said.get("vision") else "llm"
            data.append({"id": m, "object": "model", "type": kind, "publisher": "fake", "state": "not-loaded",
                         "max_context_length": said.get("context", 4096),
                         **({"capabilities": ["tool_use"]} if said.get("tools") else {})})
        self.send_json(200, {"object": "list", "data": data})

    def models(self, opts: dict, body: Any, fault: dict) -> None:
        """Serve GET /v1/models."""
        kind = fault.get("kind")
        if kind == "no_data":
            return self.send_json(200, {"object": "list"})
        if kind == "error_200":  # an error object with status 200, as some proxies send
            return self.send_json(200, error_body(fault.get("message", "models endpoint disabled")))
        ids = list(opts["chat_models"]) + list(opts["non_chat_models"])
        if kind == "empty_data":
            ids = []
        shape, metadata = opts["models_shape"], opts["model_metadata"] or {}
        chat = set(opts["chat_models"])
        owner = SERVER_KINDS[opts["server_kind"]]
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": owner,
                 **shaped_fields(shape, m in chat), **metadata.get(m, {})} for m in ids]
        if kind == "missing_ids":  # `count` extra entries without an "id"
            data += [{"object": "model", "name": f"nameless-{i}"} for i in range(int(fault.get("count", 1)))]
        self.send_json(200, data if shape in ("bare", "together") else {"object": "list", "data": data})

    def chat(self, opts: dict, body: Any, fault: dict) -> None:
        """Serve POST /v1/chat/completions."""
        if not isinstance(body, dict):
            return self.send_json(400, error_body(
                "We could not parse the JSON body of your request."))
        model = body.get("model")
        if model in opts["non_chat_models"]:
            return self.send_json(400, error_body(
                f"{model} is not a chat model and not supported in the "
                "v1/chat/completions endpoint."))
        if model not in opts["chat_models"]:
            return self.send_json(404, error_body(
                f"The model `{model}` does not exist", code="model_not_found"))
        refused = [field for field in opts["refuse_fields"] if field in body]
        if refused:
            return self.send_json(400, error_body(refusal_message(refused[0]), code="unsupported_parameter"))
        if opts["refuse_images"] and has_image_part(body.get("messages")):
            return self.send_json(400, error_body(
                "Invalid content type. image_url is only supported by certain models.", code="invalid_type"))
        calls = tool_calls_due(opts, body)
        if calls:
            return (self.stream_tool_calls if body.get("stream") else self.complete_tool_calls)(opts, body, calls)
        reply = self.reply_for(opts, model, body.get("messages"))
        if opts["numbered_replies"]:
            reply += f" #{self.fake.next_reply_number()}"
        if body.get("stream"):
            self.stream(opts, body, reply, fault)
        else:
            self.complete(opts, body, reply, fault)

    @staticmethod
    def reply_for(opts: dict, model: str, messages: Any) -> str:
        """Pick the reply: replies_by_model, then echo, then reply."""
        by_model = opts.get("replies_by_model") or {}
        if model in by_model:
            return str(by_model[model])
        if opts.get("echo"):
            return "echo: " + last_user_text(messages)
        return str(opts["reply"])

    def complete(self, opts: dict, body: dict, reply: str, fault: dict) -> None:
        """Send a non-streaming chat.completion."""
        kind = fault.get("kind")
        message: dict[str, Any] = {"role": "assistant", "content": reply}
        if opts["reasoning"]:
            message["reasoning_content"] = opts["reasoning"]
        result: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"], "system_fingerprint": "fp_fake"}
        if kind != "missing_choices":
            result["choices"] = [{"index": 0, "message": message, "logprobs": None,
                                  "finish_reason": opts["finish_reason"]}]
            result["usage"] = usage_for(body.get("messages"), reply)
        if kind == "stall":
            self.fake.sleep(float(fault.get("seconds", 1.0)))
        if kind == "cut":
            return self.send_truncated(json.dumps(result).encode())
        self.send_body(200, json.dumps(result).encode(), byte_writes=kind == "split_utf8")

    def complete_tool_calls(self, opts: dict, body: dict, calls: list) -> None:
        """A whole chat.completion asking for `calls` (finish_reason "tool_calls")."""
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
            for call in calls]}
        self.send_json(200, {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                             "created": int(time.time()), "model": body["model"],
                             "choices": [{"index": 0, "message": message, "logprobs": None,
                                          "finish_reason": "tool_calls"}],
                             "usage": usage_for(body.get("messages"), json.dumps(message["tool_calls"]))})

    def stream_tool_calls(self, opts: dict, body: dict, calls: list) -> None:
        """Stream `calls` as OpenAI does: per call, a first delta with its index, id, type, name and empty
        arguments, then its arguments in chunk_size pieces keyed by index; finish_reason "tool_calls"."""
        self.start_stream(True)
        writer = EventWriter(self, chunked=True, delay=float(opts["stream_delay"] or 0), keepalive_every=0,
                             byte_writes=False)
        events = ChunkFactory(f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), body["model"])
        writer.event(events.delta({"role": "assistant", "content": None}))
        for index, call in enumerate(calls):
            writer.event(events.delta({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                                       "function": {"name": call["name"], "arguments": ""}}]}))
            for piece in text_pieces(call["arguments"], int(opts["chunk_size"])):
                writer.event(events.arguments(index, piece))
        writer.event(events.delta({}, "tool_calls"))
        if (body.get("stream_options") or {}).get("include_usage"):
            writer.event(events.usage(usage_for(body.get("messages"), json.dumps(calls))))
        writer.event(DONE_EVENT)
        writer.finish()

    def send_truncated(self, body: bytes) -> None:
        """Announce the full Content-Length, send half of the body, then hang up."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.hang_up()

    def start_stream(self, chunked: bool) -> None:
        """Send the headers of an SSE response."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def stream(self, opts: dict, body: dict, reply: str, fault: dict) -> None:
        """Send a streaming chat completion as chat.completion.chunk SSE events."""
        kind = fault.get("kind")
        chunked = bool(opts["stream_chunked"])
        self.start_stream(chunked)
        writer = EventWriter(self, chunked=chunked, delay=float(opts["stream_delay"] or 0),
                             keepalive_every=int(opts["keepalive_every"] or 0),
                             byte_writes=kind == "split_utf8")
        events = ChunkFactory(f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), body["model"])
        if opts["raw_events"] is not None:  # what a hostile or odd server streams, byte for byte
            for payload in opts["raw_events"]:
                writer.event(b"data: " + str(payload).encode("utf-8", "surrogatepass") + b"\n\n")
            return writer.finish()
        if kind == "missing_choices":
            writer.event(events.head.encode() + b"}\n\n")
            writer.event(DONE_EVENT)
            return writer.finish()
        size = int(opts["chunk_size"])
        writer.event(events.delta({"role": "assistant", "content": ""}))
        for piece in text_pieces(opts["reasoning"] or "", size):
            writer.event(events.text("reasoning_content", piece))
        split = len(reply)
        if kind in AFTER_CHARS_KINDS:
            split = int(fault.get("after_chars", len(reply) // 2))
        for piece in text_pieces(reply[:split], size):
            writer.event(events.text("content", piece))
        if kind in AFTER_CHARS_KINDS and not self.stream_fault(writer, fault):
            return
        for piece in text_pieces(reply[split:], size):
            writer.event(events.text("content", piece))
        writer.event(events.delta({}, opts["finish_reason"]))
        if (body.get("stream_options") or {}).get("include_usage"):
            writer.event(events.usage(usage_for(body.get("messages"), reply)))
        writer.event(DONE_EVENT)
        writer.finish()

    def stream_fault(self, writer: EventWriter, fault: dict) -> bool:
        """Apply a mid-stream fault; return False if the stream must end here."""
        writer.flush()
        kind = fault["kind"]
        if kind == "cut":
            self.hang_up()
            return False
        if kind == "stall":
            self.fake.sleep(float(fault.get("seconds", 1.0)))
        elif kind == "keepalive_stall":  # "still busy" comments only, every 50 ms, for `seconds`
            for _ in range(int(float(fault.get("seconds", 1.0)) / 0.05)):
                writer.event(KEEPALIVE_EVENT)
                writer.flush()
                self.fake.sleep(0.05)
        elif kind == "malformed_chunk":
            writer.event(MALFORMED_EVENT)
        elif kind == "bad_shape_chunk":
            writer.event(BAD_SHAPE_EVENT)
        return True


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 running in a background thread."""

    def __init__(self, *, api_key: str | None = "test-key", chat_models: list[str] | None = None,
                 non_chat_models: list[str] | None = None, latency: float = 0.0,
                 reply: str = "Hello from the fake server.", reasoning: str = "",
                 chunk_size: int = 8, port: int = 0, **options: Any) -> None:
        """Configure the server; extra options: see DEFAULT_OPTIONS."""
        self._lock = threading.Lock()
        self._options: dict[str, Any] = copy.deepcopy(DEFAULT_OPTIONS)
        self._faults: dict[str, deque[dict]] = {}
        self._stopping = threading.Event()
        self._httpd: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.base_url = ""
        self.requests: list[dict] = []
        self._replies_numbered = 0
        self.set(api_key=api_key, latency=latency, reply=reply, reasoning=reasoning,
                 chunk_size=chunk_size, **options)
        if chat_models is not None:
            self.set(chat_models=chat_models)
        if non_chat_models is not None:
            self.set(non_chat_models=non_chat_models)
        self._initial_options = self.options()

    # ----- lifecycle ------------------------------------------------------

    def start(self) -> "FakeOpenAIServer":
        """Bind to 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = FakeHTTPServer(self, self.port)
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://{HOST}:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"fake-openai-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOpenAIServer":
        """Start on entering the context."""
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        """Stop on leaving the context."""
        self.stop()

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since start (shows whether clients reuse connections)."""
        return self._httpd.connections_opened if self._httpd is not None else 0

    # ----- configuration --------------------------------------------------

    def set(self, **options: Any) -> None:
        """Change options at runtime (same names as DEFAULT_OPTIONS)."""
        unknown = set(options) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown option(s) {sorted(unknown)}; known: {sorted(DEFAULT_OPTIONS)}")
        if options.get("server_kind", "openai") not in SERVER_KINDS:
            raise ValueError(f"unknown server_kind {options['server_kind']!r}; known: {sorted(SERVER_KINDS)}")
        fault_rate = options.get("fault_rate") or {}
        for fault in fault_rate.values():
            validate_fault(fault)
        if "models_shape" in options and options["models_shape"] not in MODELS_SHAPES:
            raise ValueError(f"unknown models_shape {options['models_shape']!r}; known: {sorted(MODELS_SHAPES)}")
        if "fault_rate" in options:
            options["fault_rate"] = {normalize_path(p): f for p, f in fault_rate.items()}
        with self._lock:
            self._options.update(copy.deepcopy(options))

    def reset(self) -> None:
        """Back to how it started: the options it was made with, no faults, an empty request log."""
        with self._lock:
            self._options = copy.deepcopy(self._initial_options)
            self._faults.clear()
            self.requests.clear()
            self._replies_numbered = 0

    def options(self) -> dict[str, Any]:
        """Return a snapshot of the current options."""
        with self._lock:
            return copy.deepcopy(self._options)

    def next_reply_number(self) -> int:
        """The number of the next numbered reply (1 for the first since the last reset)."""
        with self._lock:
            self._replies_numbered += 1
            return self._replies_numbered

    def add_fault(self, path: str, fault: dict, times: int = 1) -> None:
        """Queue a one-off fault for "/models" or "/chat/completions" (used `times` times)."""
        validate_fault(fault)
        with self._lock:
            queue = self._faults.setdefault(normalize_path(path), deque())
            queue.extend(copy.deepcopy(fault) for _ in range(int(times)))

    def take_fault(self, route: str) -> dict | None:
        """Pop the next queued fault for a route, else the persistent fault_rate one."""
        with self._lock:
            queue = self._faults.get(route)
            if queue:
                return queue.popleft()
            fault = self._options["fault_rate"].get(route)
            return copy.deepcopy(fault) if fault else None

    # ----- request log ----------------------------------------------------

    def log_request(self, method: str, path: str, headers: dict, body: Any) -> dict:
        """Append a request to the log and return its (mutable) entry."""
        entry = {"method": method, "path": path, "headers": headers, "json": body, "status": None}
        with self._lock:
            self.requests.append(entry)
        return entry

    def request_log(self) -> list[dict]:
        """Return a copy of the request log."""
        with self._lock:
            return copy.deepcopy(self.requests)

    def clear_faults(self) -> None:
        """Drop every queued one-off fault and the persistent fault_rate ones."""
        with self._lock:
            self._faults.clear()
            self._options["fault_rate"] = {}

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self.requests.clear()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early if the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse command-line arguments."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server on 127.0.0.1.")
    parser.add_argument("--config", help="JSON file of options, - for stdin (may include 'faults': "
                                         "[{path, fault, times}])")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop after this long")
    parser.add_argument("--log-requests", action="store_true",
                        help="after the base URL, print each request received as a JSON line (method, path, headers)")
    return parser.parse_args(argv)


def load_config(path: str | None) -> tuple[dict, list[dict]]:
    """Read options and queued faults from a JSON config file."""
    if not path:
        return {}, []
    if path == "-":  # from stdin: a server run as another user may not open the caller's files
        options = json.load(sys.stdin)
    else:
        with open(path, encoding="utf-8") as fh:
            options = json.load(fh)
    faults = options.pop("faults", [])
    return options, faults


def main(argv: list[str] | None = None) -> int:
    """Run the server as a process until SIGTERM/SIGINT or --max-seconds."""
    args = parse_args(argv)
    options, faults = load_config(args.config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = FakeOpenAIServer(port=args.port, **options).start()
    for item in faults:
        server.add_fault(item["path"], item["fault"], int(item.get("times", 1)))
    print(server.base_url, flush=True)
    deadline = time.monotonic() + args.max_seconds
    logged = 0
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        logged = _log_new_requests(server, logged) if args.log_requests else logged
    server.stop()
    if args.log_requests:
        _log_new_requests(server, logged)
    return 0


def _log_new_requests(server: FakeOpenAIServer, logged: int) -> int:
    """Print the requests received since the first `logged` ones; how many are printed now."""
    requests = server.request_log()
    for entry in requests[logged:]:
        print(json.dumps({k: entry[k] for k in ("method", "path", "headers")}), flush=True)
    return len(requests)


if __name__ == "__main__":
    sys.exit(main())
