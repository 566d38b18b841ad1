"""Showing a reply as it arrives: the writer for this terminal and the loop that feeds it (chat and -p)."""
from __future__ import annotations

from typing import Any, List

from ..base.Errors import INCOMPLETE_MARKER, IncompleteReplyError
from ..base.Secrets import StreamMasker, known_keys, redact
from ..base.Terminal import Terminal, visible_text


def make_reply_writer(terminal: Terminal) -> Any:
    """A live markdown renderer on a colour terminal, else a plain writer."""
    if terminal.color:
        from .MarkdownStreamRenderer import MarkdownStreamRenderer
        return MarkdownStreamRenderer(terminal.console())
    from .PlainReplyWriter import PlainReplyWriter
    return PlainReplyWriter(terminal.stdout, terminal.stderr)


def stream_reply(api: Any, messages: List[dict], writer: Any, terminal: Terminal, stream: bool = True) -> str:
    """Show a reply (streamed, or whole when `stream` is off) in `writer`; return the answer.

    Partial replies end marked and are re-raised."""
    writer.on_waiting(f"waiting for {api.model}…")
    on_wait = lambda notice: writer.on_warning(visible_text(notice))  # noqa: E731 - above the live region
    text_of = _MaskedKinds(writer, known_keys())  # a key a provider echoes is masked before screen or file
    try:
        with terminal.keys_not_echoed():
            replies = api.stream_chat(messages, on_wait) if stream else api.complete_events(messages, on_wait)
            for kind, text in replies:
                text_of.feed(kind, text)
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
    if not writer.text.strip():
        writer.on_warning("Warning: the model returned no answer text")
    writer.finish()
    return writer.text


class _MaskedKinds:
    """Passes a reply's pieces to the writer by kind, keys masked (one StreamMasker per kind of text) and
    control characters made visible: a reply never drives the terminal."""

    def __init__(self, writer: Any, secrets: List[str]) -> None:
        self.writer = writer
        self._maskers = {"content": StreamMasker(secrets), "reasoning": StreamMasker(secrets)}
        self._show = {"content": writer.on_content, "reasoning": writer.on_reasoning}
        self._secrets = secrets
        self._last = ""

    def feed(self, kind: str, text: str) -> None:
        """One piece of the reply; a warning is shown whole."""
        if kind != self._last and self._last in self._maskers:
            self._flush(self._last)  # what one kind held goes out before the other kind's text
        self._last = kind
        if kind not in self._maskers:
            self.writer.on_warning(f"Warning: {visible_text(redact(text, *self._secrets))}")
            return
        masked = self._maskers[kind].feed(text)
        if masked:
            self._show[kind](visible_text(masked))

    def close(self) -> None:
        """Pass on what the maskers still hold (the end of the stream, or of what arrived)."""
        for kind in self._maskers:
            self._flush(kind)

    def _flush(self, kind: str) -> None:
        rest = self._maskers[kind].close()
        if rest:
            self._show[kind](visible_text(rest))


def usage_text(api: Any, providers: Any) -> str:
    """The last reply's token counts, with the cost where the provider's /models gave a price."""
    if api.last_usage is None:
        return f"Usage: not reported by {api.provider_name}"
    return f"Usage: {api.last_usage.describe(providers.model_price(api.provider_name, api.model))}"
