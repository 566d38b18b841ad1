"""`llmc -p --json`: the run as JSON Lines on stdout, one object per line with a `type` (docs/json-events.md).

text and reasoning come in pieces of whole lines (or MERGE_CHARS at most), not one object per token; then
usage, and a last `done`. A failure gives `error` and then `done`; notices stay on stderr."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, TextIO

from ..base.Secrets import known_keys, redact
from ..base.TokenUsage import TokenUsage

MERGE_CHARS = 400  # a piece without a line break is passed on once it is this long
SCHEMA_VERSION = 1


class JsonEventWriter:
    """The reply writer of `--json` (PlainReplyWriter's interface) and the run's other events."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.model: Optional[str] = None  # `provider/long-id`, once resolved
        self.chat_id: Optional[str] = None  # once the chat is saved
        self.done_sent = False
        self._parts: List[str] = []
        self._kind = ""
        self._buffer = ""

    # ----- the reply writer's interface
    def on_waiting(self, text: str) -> None:
        """No transient status in JSON."""

    def on_content(self, text: str) -> None:
        self._parts.append(text)
        self._add("text", text)

    def on_reasoning(self, text: str) -> None:
        self._add("reasoning", text)

    def on_warning(self, text: str) -> None:
        """A notice about the stream: stderr, as without --json."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def finish(self) -> None:
        self._flush()

    def abort(self, note: Optional[str] = None) -> None:
        self._flush()
        if note:
            self.on_warning(note)

    def next_round(self) -> "JsonEventWriter":
        """The writer of a tool loop's next request: its own text, the same stream of events."""
        return JsonEventWriter(self.stdout, self.stderr)

    @property
    def text(self) -> str:
        """The answer received so far."""
        return "".join(self._parts)

    # ----- the run's events
    def usage(self, usage: Optional[TokenUsage], price: Any = None) -> None:
        """The reply's token counts, and its cost in USD where the provider's /models gave a price."""
        if usage is None:
            return
        cost = price.cost(usage.prompt_tokens, usage.completion_tokens) if price is not None else None
        self.emit({"type": "usage", "prompt_tokens": usage.prompt_tokens,
                   "completion_tokens": usage.completion_tokens, "cost_usd": cost})

    def tool_call(self, call_id: str, name: str, arguments: str) -> None:
        """A tool call the model asked for, before it is decided or run (keys masked)."""
        self._flush()
        self.emit({"type": "tool_call", "id": call_id, "name": name, "arguments": redact(arguments, *known_keys())})

    def tool_result(self, call_id: str, name: str, ok: bool, text: str) -> None:
        """What a tool call gave back to the model, or why it did not run (keys masked)."""
        self.emit({"type": "tool_result", "id": call_id, "name": name, "ok": ok, "text": redact(text, *known_keys())})

    def done(self, status: int, finish_reason: Optional[str] = None) -> None:
        """The last object: the model, the chat id, why the reply ended and the exit status."""
        self._flush()
        self.emit({"type": "done", "model": self.model, "chat_id": self.chat_id, "finish_reason": finish_reason,
                   "exit_status": int(status), "version": SCHEMA_VERSION})
        self.done_sent = True

    def fail(self, message: str, status: int) -> None:
        """A failure: `error` (stderr keeps its own line), then `done`."""
        self._flush()
        self.emit({"type": "error", "message": message, "exit_status": int(status)})
        self.done(status)

    def emit(self, event: Dict[str, Any]) -> None:
        self.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        self.stdout.flush()

    def _add(self, kind: str, text: str) -> None:
        """Gather text of one kind; pass it on at a line break or MERGE_CHARS, and when the kind changes."""
        if kind != self._kind:
            self._flush()
            self._kind = kind
        self._buffer += text
        cut = self._buffer.rfind("\n") + 1
        if len(self._buffer) >= MERGE_CHARS:
            cut = len(self._buffer)
        if cut:
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            self.emit({"type": self._kind, "text": piece})

    def _flush(self) -> None:
        if self._buffer:
            piece, self._buffer = self._buffer, ""
            self.emit({"type": self._kind, "text": piece})
