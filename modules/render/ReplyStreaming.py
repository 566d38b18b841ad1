"""Showing a reply as it arrives: the writer for this terminal and the loop that feeds it (chat and -p)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Union

from ..base.ChatEvents import ChatSender, Finish, Notice, ReasoningDelta, Reply, TextDelta, ToolCallDelta, Usage
from ..base.ChatOptions import ChatOptions
from ..base.Errors import INCOMPLETE_MARKER, IncompleteReplyError
from .PlainReplyWriter import PlainReplyWriter
from .RenderProcess import RemoteReplyWriter
from ..base.Secrets import StreamMasker, known_keys, redact
from ..base.Terminal import Terminal, visible_text
from ..base.TokenUsage import TokenUsage
from ..base.ToolCalls import ToolCallAssembler
from ..ProviderManager import ResolvedModel

if TYPE_CHECKING:
    from .MarkdownStreamRenderer import MarkdownStreamRenderer


class ReplyWriter(Protocol):
    """What shows a reply as it arrives: the live markdown renderer, the plain writer, or --json's events."""

    @property
    def text(self) -> str:
        """The answer text shown so far."""

    def on_waiting(self, text: str) -> None: ...
    def on_warning(self, text: str) -> None: ...
    def on_content(self, text: str) -> None: ...
    def on_reasoning(self, text: str) -> None: ...
    def finish(self) -> None: ...
    def abort(self, note: Optional[str] = None) -> None: ...


def make_reply_writer(terminal: Terminal) -> Union[MarkdownStreamRenderer, RemoteReplyWriter, PlainReplyWriter]:
    """A live markdown renderer on a colour terminal (drawn by the terminal's RenderProcess when it has one),
    else a plain writer."""
    process = terminal.render_process
    if process is not None and process.usable:
        return process.writer()
    if terminal.color:
        from .MarkdownStreamRenderer import MarkdownStreamRenderer  # noqa: PLC0415 - rich: a colour terminal only
        return MarkdownStreamRenderer(terminal.console())
    return PlainReplyWriter(terminal.stdout, terminal.stderr)


def stream_reply(api: ChatSender, messages: List[Dict[str, Any]], writer: ReplyWriter, terminal: Terminal,
                 options: ChatOptions = ChatOptions()) -> Reply:
    """Show a reply (streamed, or whole when `options.stream` is off) in `writer`; the answer and its usage.

    Partial replies end marked and are re-raised."""
    writer.on_waiting(f"waiting for {api.model}…")
    on_wait = lambda notice: writer.on_warning(visible_text(notice))  # noqa: E731 - above the live region
    text_of = _MaskedKinds(writer, known_keys())  # a key a provider echoes is masked before screen or file
    usage: Optional[TokenUsage] = None
    calls = ToolCallAssembler()
    finish: Optional[str] = None
    try:
        with terminal.keys_not_echoed():
            for event in api.send(messages, options, on_wait):
                if isinstance(event, Usage):
                    usage = event.tokens
                elif isinstance(event, ToolCallDelta):
                    calls.feed(event.index, event.id, event.name, event.arguments)
                elif isinstance(event, Finish):
                    finish = event.reason
                elif isinstance(event, (TextDelta, ReasoningDelta, Notice)):
                    text_of.feed(event)
            text_of.close()
    except (IncompleteReplyError, KeyboardInterrupt) as exc:  # what arrived is kept, marked
        text_of.close()
        writer.abort(INCOMPLETE_MARKER if writer.text else None)  # nothing arrived: nothing to mark
        if isinstance(exc, IncompleteReplyError):
            exc.partial = writer.text  # what was shown, keys masked
        raise exc
    except BaseException:
        writer.abort()
        raise
    if not writer.text.strip() and not calls:
        writer.on_warning("Warning: the model returned no answer text")
    writer.finish()
    return Reply(writer.text, usage, tool_calls=calls.calls(), finish_reason=finish)


class _MaskedKinds:
    """Passes a reply's pieces to the writer by kind, keys masked (one StreamMasker per kind of text) and
    control characters made visible: a reply never drives the terminal."""

    def __init__(self, writer: Any, secrets: List[str]) -> None:
        self.writer = writer
        self._maskers: Dict[type, StreamMasker] = {TextDelta: StreamMasker(secrets),
                                                   ReasoningDelta: StreamMasker(secrets)}
        self._show: Dict[type, Callable[[str], None]] = {TextDelta: writer.on_content,
                                                         ReasoningDelta: writer.on_reasoning}
        self._secrets = secrets
        self._last: Optional[type] = None

    def feed(self, event: Union[TextDelta, ReasoningDelta, Notice]) -> None:
        """One piece of the reply; a notice is shown whole."""
        kind = type(event)
        if kind is not self._last and self._last in self._maskers:
            self._flush(self._last)  # what one kind held goes out before the other kind's text
        self._last = kind
        if kind not in self._maskers:
            self.writer.on_warning(f"Warning: {visible_text(redact(event.text, *self._secrets))}")
            return
        masked = self._maskers[kind].feed(event.text)
        if masked:
            self._show[kind](visible_text(masked))

    def close(self) -> None:
        """Pass on what the maskers still hold (the end of the stream, or of what arrived)."""
        for kind in self._maskers:
            self._flush(kind)

    def _flush(self, kind: type) -> None:
        rest = self._maskers[kind].close()
        if rest:
            self._show[kind](visible_text(rest))


def usage_text(usage: Optional[TokenUsage], model: ResolvedModel) -> str:
    """A reply's token counts, with the cost where the provider's /models gave a price."""
    if usage is None:
        return f"Usage: not reported by {model.provider}"
    return f"Usage: {usage.describe(model.config.price_of(model.long_id))}"
