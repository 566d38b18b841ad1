"""Showing a reply as it arrives: the writer for this terminal and the loop that feeds it (chat and -p)."""
from __future__ import annotations

from typing import Any, List

from ..base.Errors import INCOMPLETE_MARKER, IncompleteReplyError
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
    try:
        with terminal.keys_not_echoed():
            replies = api.stream_chat(messages, on_wait) if stream else api.complete_events(messages, on_wait)
            for kind, text in replies:
                text = visible_text(text)  # a reply never drives the terminal
                if kind == "content":
                    writer.on_content(text)
                elif kind == "reasoning":
                    writer.on_reasoning(text)
                else:
                    writer.on_warning(f"Warning: {text}")
    except (IncompleteReplyError, KeyboardInterrupt) as exc:  # what arrived is kept, marked
        writer.abort(INCOMPLETE_MARKER if writer.text else None)  # nothing arrived: nothing to mark
        raise exc
    except BaseException:
        writer.abort()
        raise
    if not writer.text.strip():
        writer.on_warning("Warning: the model returned no answer text")
    writer.finish()
    return writer.text


def usage_text(api: Any, providers: Any) -> str:
    """The last reply's token counts, with the cost where the provider's /models gave a price."""
    if api.last_usage is None:
        return f"Usage: not reported by {api.provider_name}"
    return f"Usage: {api.last_usage.describe(providers.model_price(api.provider_name, api.model))}"
