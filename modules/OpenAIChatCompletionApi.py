"""Chat completions against one provider: request shaping, SSE streaming and error mapping."""
from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import Any, Callable, Dict, Generator, Iterator, List, Optional, Tuple, Type, Union

import urllib3

from .base.ChatEvents import ChatEvent, Finish, Notice, ReasoningDelta, TextDelta, ToolCallDelta, Usage
from .base.ChatOptions import ChatOptions
from .base.Errors import ApiError, IncompleteReplyError
from .transport.BodyReader import MAX_BODY_BYTES, BodyReader, charset_of, size_text
from .transport.HttpClient import LENIENT_JSON, HttpClient, provider_error_text
from .transport.HttpSettings import HttpSettings
from .transport.ProviderRefusals import ProviderRefusals
from .ProviderConfig import ProviderConfig
from .transport.SseParser import SseParser
from .base.SurrogateJoiner import SurrogateJoiner, without_lone_surrogates
from .base.TokenUsage import TokenUsage
from .base.ToolCalls import MAX_ARGUMENT_CHARS, tool_calls_of

Message = Dict[str, Any]
_TextEvent = Union[Type[TextDelta], Type[ReasoningDelta], Type[Notice], Type[Finish]]
_Piece = Tuple[_TextEvent, str]  # an event's class and text, made into the event once a read's pieces are joined
_Item = Union[_Piece, ToolCallDelta]  # what a stream event gives: pieces of text, and tool-call fragments as they are
_SCAN_JSON = LENIENT_JSON.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder(), not in its stubs

_FINISH_NOTICES = {
    "length": "the reply was cut short by the token limit",
    "content_filter": "the reply was stopped by the provider's content filter",
}
FINISH_REASON = re.compile(r"[a-z_]{1,40}")  # what a finish reason may be passed on as
CHAT_PATH = "/chat/completions"
# llama.cpp answers a prompt longer than its context with 200 and a stream without a single event
EMPTY_STREAM_TEXT = ("the server sent an empty stream: the prompt may be longer than the model's context "
                     "(llama.cpp answers so; stream = false shows its error)")
BODY_FIXES = ("stream_options", "token-limit field")  # what a refused request may be resent without
MAX_EVENT_CHARS = 4 * 1024 * 1024  # one SSE line or event; a real chunk is a few hundred bytes
_GPT_GENERATION = re.compile(r"^gpt-(\d+)")
_O_SERIES = re.compile(r"^o\d")


def uses_fixed_temperature(model: str) -> bool:
    """OpenAI's gpt-N (N > 4) and o-series models accept only temperature 1 (also as routers'
    `openai/gpt-5`)."""
    name = model.removeprefix("openai/")
    match = _GPT_GENERATION.match(name)
    return bool(match and int(match.group(1)) > 4) or bool(_O_SERIES.match(name))


def build_request_body(model: str, messages: List[Message], stream: bool,
                       max_tokens: Optional[int] = None, temperature: Optional[float] = None,
                       tools: Tuple[Dict[str, Any], ...] = ()) -> Dict[str, Any]:
    """The JSON body of a chat request, with the temperature and token-limit rules applied.

    `temperature` None sends 0; a model that takes only temperature 1 gets 1 whatever is asked;
    `tools` (function definitions) go as `tools` when there are any."""
    fixed = uses_fixed_temperature(model)
    chosen = 0.0 if temperature is None else temperature
    body: Dict[str, Any] = {"model": model, "messages": messages,
                            "temperature": 1 if fixed else chosen, "stream": stream}
    if max_tokens is not None:
        body["max_completion_tokens" if fixed else "max_tokens"] = max_tokens
    if tools:
        body["tools"] = list(tools)
    return body


def fixed_temperature_notice(model: str, temperature: Optional[float]) -> Optional[str]:
    """What to tell a user whose temperature a fixed-temperature model does not take; None if it does."""
    if temperature is None or temperature == 1 or not uses_fixed_temperature(model):
        return None
    return f"{model} accepts only temperature 1: using 1, not {temperature:g}"


def swap_token_limit(body: Dict[str, Any], error: Optional[ApiError] = None) -> Optional[Dict[str, Any]]:
    """A copy of `body` using the other token-limit field when the provider refused the one sent
    (`error`; without one, the swap is made unasked: the model is known to refuse it)."""
    text = str(error)
    for sent, other in (("max_tokens", "max_completion_tokens"), ("max_completion_tokens", "max_tokens")):
        if sent in body and (error is None or (error.status == 400 and other in text)):
            fixed = {k: v for k, v in body.items() if k != sent}
            fixed[other] = body[sent]
            return fixed
    return None


class OpenAIChatCompletionApi:
    """Sends a conversation to one model and yields the reply as it streams; one object serves a model
    for the whole run, the request's settings (ChatOptions) come with each request."""

    def __init__(self, provider_name: str, provider_config: ProviderConfig, model: str,
                 settings: HttpSettings = HttpSettings(),
                 on_wait: Optional[Callable[[str], None]] = None,
                 refusals: Optional[ProviderRefusals] = None) -> None:
        """`on_wait` is told of retry waits (a request may name its own); `refusals` is what the provider
        refused so far, shared by its models (ProviderManager keeps one per provider)."""
        self.provider_name = provider_name
        self.provider_config = provider_config
        self.model = model
        self.refusals = refusals or ProviderRefusals()
        self._noted_temperature: Optional[float] = None  # the last temperature said to be replaced by 1
        self.client = HttpClient(provider_name, provider_config.base_api_url,
                                 provider_config.key_to_send(), settings, on_wait=on_wait,
                                 key_variable=provider_config.key_variable(provider_name))

    def complete(self, messages: List[Message], options: ChatOptions = ChatOptions(),
                 on_wait: Optional[Callable[[str], None]] = None, limit: str = "reply_timeout") -> str:
        """Send without streaming and return the answer text (within the HttpSettings' `limit` seconds)."""
        return "".join(event.text for event in self.complete_events(messages, options, on_wait, limit)
                       if isinstance(event, TextDelta))

    def send(self, messages: List[Message], options: ChatOptions = ChatOptions(),
             on_wait: Optional[Callable[[str], None]] = None) -> Iterator[ChatEvent]:
        """The reply's events, streamed or whole as `options.stream` says."""
        if options.stream:
            return self.stream_chat(messages, options, on_wait)
        return iter(self.complete_events(messages, options, on_wait))

    def complete_events(self, messages: List[Message], options: ChatOptions = ChatOptions(),
                        on_wait: Optional[Callable[[str], None]] = None,
                        limit: str = "reply_timeout") -> List[ChatEvent]:
        """Send without streaming; the reply as stream_chat's events.

        Reasoning first (if any), then exactly one TextDelta (possibly ""), a Notice if cut short, and
        Usage last when the provider counted the tokens. Retry waits of this request are told to `on_wait`,
        else to the API's own; `limit` (an HttpSettings field) bounds each try.
        """
        notices = list(self._temperature_notice(options))
        reply = self._post(self._body(messages, options, stream=False),
                           lambda body: self.client.post_json(CHAT_PATH, body, limit=limit, on_wait=on_wait))
        return notices + self._reply_events(reply)

    def stream_chat(self, messages: List[Message], options: ChatOptions = ChatOptions(),
                    on_wait: Optional[Callable[[str], None]] = None) -> Iterator[ChatEvent]:
        """Yield the reply's events as they arrive, Usage last when the provider counted the tokens; raise
        IncompleteReplyError if the stream breaks off.

        Retry waits of this request are told to `on_wait`, else to the API's own."""
        yield from self._temperature_notice(options)
        response = self._post(self._body(messages, options, stream=True),
                              lambda body: self.client.request("POST", CHAT_PATH, body, stream=True,
                                                               limit="stall_timeout", on_wait=on_wait))
        state = _StreamState()
        try:
            if "json" in response.headers.get("Content-Type", "").lower():
                yield from self._whole_reply(response)  # the server ignored "stream": true
            else:
                yield from self._read_events(response, state)
        finally:
            response.close()

    def _body(self, messages: List[Message], options: ChatOptions, stream: bool) -> Dict[str, Any]:
        body = build_request_body(self.model, messages, stream, options.max_tokens, options.temperature,
                                  options.tools)
        if self.refusals.token_field_swapped(self.model):
            body = swap_token_limit(body) or body
        if stream and not self.refusals.stream_options:
            body["stream_options"] = {"include_usage": True}
        return body

    def _post(self, body: Dict[str, Any], send: Callable[[Dict[str, Any]], Any]) -> Any:
        """`send(body)`; again without a field the provider refused (each fixed once, then remembered)."""
        for _ in range(len(BODY_FIXES)):
            try:
                return send(body)
            except ApiError as exc:
                fixed = self._fixed_body(body, exc)
                if fixed is None:
                    raise
                body = fixed
        return send(body)

    def _fixed_body(self, body: Dict[str, Any], error: ApiError) -> Optional[Dict[str, Any]]:
        """`body` without what `error` refused (stream_options, the token-limit field), remembered; else None."""
        if "stream_options" in body and error.status == 400 and "stream_options" in str(error):
            self.refusals.refuse_stream_options()
            return {k: v for k, v in body.items() if k != "stream_options"}
        swapped = swap_token_limit(body, error)
        if swapped is not None:
            self.refusals.swap_token_field(self.model)
        return swapped

    def _temperature_notice(self, options: ChatOptions) -> Iterator[ChatEvent]:
        """Once per temperature asked for: it is not one this model takes."""
        notice = fixed_temperature_notice(self.model, options.temperature)
        if notice and self._noted_temperature != options.temperature:
            self._noted_temperature = options.temperature
            yield Notice(f"{self.provider_name}: {notice}")

    def _whole_reply(self, response: Any) -> Iterator[ChatEvent]:
        state = _StreamState()
        text = bytearray()
        try:
            for piece in BodyReader(response, self.provider_name).pieces():
                text += piece
                self._check_limits(state, len(text), most=MAX_BODY_BYTES)
            reply = self.client.decode_json(text.decode(charset_of(response), "replace"))
        except (ValueError, RecursionError):
            snippet = self.client.safe_line(text.decode("utf-8", "replace"), 60)
            raise self._error(f"the reply is not JSON: {snippet!r}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._broken_stream(exc, state) from None
        yield from self._reply_events(reply)

    def _reply_events(self, reply: Any) -> List[ChatEvent]:
        """The events of a whole (non-streamed) chat completion."""
        try:
            choice = _pick_choice(reply["choices"])
            message = choice["message"]
            content = _text_of(message.get("content"), message.get("refusal"))
        except (KeyError, IndexError, TypeError, AttributeError):
            if isinstance(reply, dict) and "error" in reply:
                raise self._error(provider_error_text(reply["error"])) from None
            raise self._error("the reply has no choices[0].message") from None
        except ValueError:
            raise self._error("the reply's message content is not text") from None
        content = without_lone_surrogates(content)
        reasoning = without_lone_surrogates(_reasoning_of(message))
        events: List[ChatEvent] = [ReasoningDelta(reasoning)] if reasoning else []
        events.append(TextDelta(content))
        events.extend(ToolCallDelta(index, call.id, call.name, call.arguments)
                      for index, call in enumerate(tool_calls_of(message)))
        events.extend(kind(text) for kind, text in self._finish_notice(choice.get("finish_reason")))
        usage = TokenUsage.from_reply(reply.get("usage"))
        if usage is not None:
            events.append(Usage(usage))
        return events

    def _read_events(self, response: Any, state: "_StreamState") -> Iterator[ChatEvent]:
        """The stream's events; those of one network read are passed on joined (one TextDelta for the
        dozens of tiny events a read often holds), which spares the screen per-event work."""
        try:
            for payloads in self._payload_batches(BodyReader(response, self.provider_name).pieces(), state):
                done = yield from self._batch_events(payloads, state)
                if done:
                    yield from _as_events(self._held_halves(state))
                    self._check_done(state)
                    yield from _as_events(self._skipped_summary(state))
                    if state.usage is not None:
                        yield Usage(state.usage)
                    return
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._broken_stream(exc, state) from None
        if not state.events:
            snippet = self.client.safe_line(state.head.decode("utf-8", "replace").strip(), 60)
            raise self._error(f"the reply is not an event stream: {snippet!r}" if snippet
                              else EMPTY_STREAM_TEXT)
        yield from _as_events(self._held_halves(state))
        yield from _as_events(self._skipped_summary(state))
        if not state.finished:
            raise IncompleteReplyError(
                f"{self.provider_name}: connection lost after {state.chars:,} characters "
                "(the stream ended before [DONE])", state.content)
        if state.usage is not None:
            yield Usage(state.usage)

    def _payload_batches(self, pieces: Iterator[bytes], state: "_StreamState") -> Iterator[List[str]]:
        """The data payloads of an SSE body, a list per piece read, each size and the time without reply
        text checked as it comes; the first bytes are kept in `state.head` for error messages."""
        parser = SseParser()
        for piece in pieces:
            if len(state.head) < 200:
                state.head += piece[:200]
            yield parser.feed(piece)
            self._check_limits(state, parser.unfinished)
        yield parser.close()

    def _batch_events(self, payloads: List[str], state: "_StreamState") -> Generator[ChatEvent, None, bool]:
        """Yield the events of `payloads`, runs of one kind joined; return True if [DONE] came.

        What came before an error event or a malformed payload is yielded before the error."""
        # (event class, its texts); a tool call's fragments: (its first fragment, the arguments that followed)
        runs: List[Union[Tuple[_TextEvent, List[str]], Tuple[ToolCallDelta, List[str]]]] = []
        try:
            for payload in payloads:
                if payload.strip() == "[DONE]":
                    return True
                for item in self._pieces(payload, state):
                    last = runs[-1] if runs else None
                    if isinstance(item, ToolCallDelta):
                        if (last is not None and isinstance(last[0], ToolCallDelta) and last[0].index == item.index
                                and item.id is None and item.name is None):
                            last[1].append(item.arguments)  # more arguments of the same call
                        else:
                            runs.append((item, []))
                    elif last is not None and item[0] in (TextDelta, ReasoningDelta) and last[0] is item[0]:
                        last[1].append(item[1])
                    else:
                        runs.append((item[0], [item[1]]))
            return False
        finally:
            for head, texts in runs:
                if isinstance(head, ToolCallDelta):
                    yield dataclasses.replace(head, arguments=head.arguments + "".join(texts)) if texts else head
                else:
                    yield head("".join(texts))

    def _check_limits(self, state: "_StreamState", unfinished: int, most: int = MAX_EVENT_CHARS) -> None:
        """IncompleteReplyError once the reply has shown no text for stall_timeout seconds (keep-alive
        comments and empty deltas do not count), an event (`unfinished` characters so far) grows past `most`,
        or the text past MAX_BODY_BYTES."""
        stall_limit = self.client.settings.stall_timeout
        if state.clock() - state.last_progress > stall_limit:
            cause = (f"the stream stalled: only keep-alives, no reply text, for {stall_limit:g} s "
                     "(stall_timeout in config.toml)")
        elif unfinished > most:
            cause = f"one piece of the reply grew past {size_text(most)} without ending (the most llmc reads)"
        elif state.chars + state.reasoning_chars + state.tool_chars > MAX_BODY_BYTES:
            cause = f"the reply grew past {size_text(MAX_BODY_BYTES)} (the most llmc keeps)"
        else:
            return
        raise IncompleteReplyError(f"{self.provider_name}: {cause}; cut after {state.chars:,} characters",
                                   state.content)

    def _error(self, text: str) -> ApiError:
        """An ApiError naming the provider, as one line with the key removed."""
        return ApiError(self.client.safe_line(f"{self.provider_name}: {text}", 600))

    def _check_done(self, state: "_StreamState") -> None:
        """A stream that reached [DONE] carrying only unusable chunks is a failed reply."""
        if state.skipped and not state.chars and not state.reasoning_chars and not state.tool_chars:
            raise self._error(f"the reply held no usable text ({state.skipped} malformed "
                              f"chunk{'s' if state.skipped != 1 else ''} skipped)")

    def _skipped_summary(self, state: "_StreamState") -> Iterator[_Piece]:
        """Only the first malformed chunk was named: at the end, say how many there were."""
        if state.skipped > 1:
            yield (Notice, f"{self.provider_name}: skipped {state.skipped} malformed stream chunks")

    def _finish_notice(self, finish_reason: Any) -> Iterator[_Piece]:
        """The reason the provider gave for the end, and a notice when it ended early (token limit, filter)."""
        if not isinstance(finish_reason, str):
            return
        yield (Finish, finish_reason if FINISH_REASON.fullmatch(finish_reason) else "other")  # untrusted text
        notice = _FINISH_NOTICES.get(finish_reason)
        if notice:
            yield (Notice, f"{self.provider_name}: {notice}")

    def _broken_stream(self, exc: BaseException, state: "_StreamState") -> IncompleteReplyError:
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            cause = f"the stream stalled: nothing received for {self.client.settings.read_timeout:g} s"
        else:
            cause = "connection lost"
        return IncompleteReplyError(
            f"{self.provider_name}: {cause} after {state.chars:,} characters", state.content)

    def _pieces(self, payload: str, state: "_StreamState") -> List[_Item]:
        """The pieces of one event; a malformed one is skipped, and only the first is named."""
        state.events += 1
        try:
            choice = self._event_choice(payload, state)
            if choice is None:
                return []  # e.g. a trailing usage-only chunk
            delta = choice.get("delta") or {}
            reasoning = _text_of(delta.get("reasoning_content") or delta.get("reasoning"))
            content = _text_of(delta.get("content"), delta.get("refusal"))
            reasoning, content = state.reasoning_halves.feed(reasoning), state.content_halves.feed(content)
            calls = _tool_call_deltas(delta.get("tool_calls"))
        except (ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError):
            state.skipped += 1
            if state.skipped == 1:
                return [(Notice, f"{self.provider_name}: skipped a malformed stream chunk: "
                                    f"{self.client.safe_line(payload, 60)!r}")]
            return []
        pieces: List[_Item] = []
        if reasoning or content or calls:
            state.last_progress = state.clock()
        for call in calls:
            state.tool_chars += len(call.arguments) + len(call.name or "") + 1
            pieces.append(call)
        if reasoning:
            state.reasoning_chars += len(reasoning)
            pieces.append((ReasoningDelta, reasoning))
        if content:
            state.chars += len(content)
            state.parts.append(content)
            pieces.append((TextDelta, content))
        if choice.get("finish_reason"):
            state.finished = True
            pieces.extend(self._finish_notice(choice["finish_reason"]))
        return pieces

    @staticmethod
    def _held_halves(state: "_StreamState") -> Iterator[_Piece]:
        """A high surrogate that ended the stream had no low half: it is shown as U+FFFD."""
        reasoning, content = state.reasoning_halves.close(), state.content_halves.close()
        if reasoning:
            yield (ReasoningDelta, reasoning)
        if content:
            state.chars += len(content)
            state.parts.append(content)
            yield (TextDelta, content)

    def _event_choice(self, payload: str, state: "_StreamState") -> Optional[Dict[str, Any]]:
        """The choice an event carries for this reply; None when it carries none; ApiError for an error event."""
        event = _decode_event(payload)
        if isinstance(event, dict) and event.get("usage") is not None:  # the last chunk, or a usage-only one
            state.usage = TokenUsage.from_reply(event["usage"]) or state.usage
        choices = event.get("choices") if isinstance(event, dict) else None
        if isinstance(event, dict) and "error" in event and not choices:
            raise self._error(f"error in stream: {provider_error_text(event['error'])}")
        if choices == []:
            return None
        return _pick_choice(choices)


class _StreamState:
    """What a stream has delivered so far."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_progress = clock()  # when reply text last arrived (or the stream began)
        self.parts: List[str] = []
        self.chars = 0
        self.reasoning_chars = 0
        self.tool_chars = 0  # of tool calls' names and arguments
        self.events = 0
        self.skipped = 0
        self.finished = False
        self.head = b""
        self.usage: Optional[TokenUsage] = None  # the provider's count, from the last chunk that carried one
        self.content_halves = SurrogateJoiner()  # an emoji may come as two escaped halves in two events
        self.reasoning_halves = SurrogateJoiner()

    @property
    def content(self) -> str:
        return "".join(self.parts)


def _tool_call_deltas(entries: Any) -> List[ToolCallDelta]:
    """The tool-call fragments of a stream delta's `tool_calls` (keyed by `index`); TypeError if malformed.

    Plain type checks, not isinstance: a reply of tool calls is tens of thousands of these."""
    if entries is None:
        return []
    if type(entries) is not list:
        raise TypeError("tool_calls is not a list")
    deltas = []
    for entry in entries:
        function = entry.get("function") or {}
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        elif type(arguments) is dict:  # a server that sends the object itself
            arguments = json.dumps(arguments, ensure_ascii=False)
        elif type(arguments) is not str:
            raise TypeError("a tool call's arguments are not text")
        name, call_id, index = function.get("name"), entry.get("id"), entry.get("index")
        if (name is not None and type(name) is not str) or (call_id is not None and type(call_id) is not str):
            raise TypeError("a tool call's id or name is not text")
        deltas.append(ToolCallDelta(index if type(index) is int else -1, call_id, name,
                                    arguments if len(arguments) <= MAX_ARGUMENT_CHARS else
                                    arguments[:MAX_ARGUMENT_CHARS]))
    return deltas


def _as_events(pieces: Iterator[_Piece]) -> Iterator[ChatEvent]:
    """The events of pieces that are not joined with others."""
    for kind, text in pieces:
        yield kind(text)


def _decode_event(payload: str) -> Any:
    """An event's JSON: the C scanner straight away for the usual payload with nothing around it
    (json's decode adds two whitespace scans per event), else decode for the rest and the errors."""
    try:
        value, end = _SCAN_JSON(payload, 0)
    except StopIteration:
        end = -1
    return value if end == len(payload) else LENIENT_JSON.decode(payload)


def _pick_choice(choices: Any) -> dict:
    """The choice with index 0 (else the first); TypeError when there is no usable choice."""
    if not isinstance(choices, list) or not choices:
        raise TypeError("no choices")
    choice = choices[0] if len(choices) == 1 else next(
        (c for c in choices if isinstance(c, dict) and c.get("index") == 0), choices[0])
    if not isinstance(choice, dict):
        raise TypeError("the choice is not an object")
    return choice


def _text_of(*parts: Any) -> str:
    """The text parts (None counts as ""), joined; ValueError when one is not text."""
    text = ""
    for part in parts:  # one or two parts per streamed event: a plain loop is cheapest
        if part is not None:
            if not isinstance(part, str):
                raise ValueError("not text")
            text += part
    return text


def _reasoning_of(message: Any) -> str:
    text = message.get("reasoning_content") or message.get("reasoning") or ""
    return text if isinstance(text, str) else ""
