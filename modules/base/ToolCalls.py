"""Tool calls a model asks for, in the chat-completions format: assembled from stream fragments or read
from a whole reply, and the messages that carry them and their results back."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

MAX_CALLS_PER_REPLY = 32  # a reply asking for more is cut here; real replies ask for a handful
MAX_ARGUMENT_CHARS = 256 * 1024  # one call's JSON arguments
MAX_NAME_CHARS = 256


@dataclass(frozen=True)
class ToolCall:
    """One call: the id the result must name, the function's name, and its JSON arguments as sent."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
        """(arguments, None), or (None, why they are unusable): not JSON, or not a JSON object."""
        if not self.arguments.strip():
            return {}, None  # some models send "" for a call without arguments
        try:
            value = json.loads(self.arguments)
        except (ValueError, RecursionError) as exc:
            return None, f"the arguments are not JSON ({exc})"
        if not isinstance(value, dict):
            return None, "the arguments are not a JSON object"
        return value, None

    def as_openai(self) -> Dict[str, Any]:
        """The call as an assistant message's `tool_calls` entry."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


class ToolCallAssembler:
    """Puts the stream's tool-call fragments together: keyed by `index`, the id and name come once and the
    arguments in pieces; several calls may interleave."""

    def __init__(self) -> None:
        self._parts: Dict[int, List[Any]] = {}  # index -> [id, name, argument pieces, their length]

    def feed(self, index: Any, call_id: Optional[str], name: Optional[str], arguments: str) -> None:
        """Add one fragment; fragments past the limits (calls, argument size) are dropped."""
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            index = max(self._parts) if self._parts else 0  # a server that numbers nothing: the last call
        part = self._parts.get(index)
        if part is None:
            if len(self._parts) >= MAX_CALLS_PER_REPLY:
                return
            part = self._parts[index] = [None, None, [], 0]
        if call_id and part[0] is None:
            part[0] = call_id[:MAX_NAME_CHARS]
        if name:  # once as a rule; a server that sends it in pieces gets them joined, a repeat is ignored
            part[1] = name if not part[1] or part[1] == name else part[1] + name
        if arguments and part[3] + len(arguments) <= MAX_ARGUMENT_CHARS:
            part[2].append(arguments)
            part[3] += len(arguments)

    def __bool__(self) -> bool:
        return bool(self._parts)

    def calls(self) -> List[ToolCall]:
        """The calls so far, in index order; a call without an id gets one made up from its index."""
        return [ToolCall(part[0] or f"call_{index}", (part[1] or "")[:MAX_NAME_CHARS], "".join(part[2]))
                for index, part in sorted(self._parts.items())]


def tool_calls_of(message: Any) -> List[ToolCall]:
    """The calls of a whole reply's message (`tool_calls`), those that are malformed left out."""
    entries = message.get("tool_calls") if isinstance(message, dict) else None
    if not isinstance(entries, list):
        return []
    assembler = ToolCallAssembler()
    for position, entry in enumerate(entries):
        function = entry.get("function") if isinstance(entry, dict) else None
        if not isinstance(function, dict):
            continue
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send the object itself
            arguments = json.dumps(arguments, ensure_ascii=False)
        assembler.feed(position, _text(entry.get("id")), _text(function.get("name")), _text(arguments) or "")
    return assembler.calls()


def assistant_message(text: str, calls: List[ToolCall]) -> Dict[str, Any]:
    """The assistant message asking for `calls`, as it goes back to the model."""
    message: Dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [call.as_openai() for call in calls]
    return message


def tool_message(call: ToolCall, result: str) -> Dict[str, Any]:
    """The `tool` message answering `call` with `result`, as it goes back to the model."""
    return {"role": "tool", "tool_call_id": call.id, "content": result}


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None
