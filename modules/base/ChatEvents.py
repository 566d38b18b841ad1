"""What a chat request yields as the reply arrives: small typed events, and the reply they add up to.

The API (OpenAIChatCompletionApi) yields them; the conversation and the screen read them. The text events
of one network read come joined (one TextDelta for the dozens of tiny stream events a read often holds).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Protocol, Union

from .ChatOptions import ChatOptions
from .TokenUsage import TokenUsage
from .ToolCalls import ToolCall


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning (shown apart from the answer, never sent back)."""

    text: str


@dataclass(frozen=True)
class Notice:
    """Something to tell about the reply (cut short, a skipped chunk, a temperature not taken), one line."""

    text: str


@dataclass(frozen=True)
class Finish:
    """Why the provider ended the reply, as it said (`stop`, `length`, `tool_calls`, `content_filter`…)."""

    reason: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a tool call the model asks for: the call at `index` gets its id and name once and its
    JSON arguments in fragments (the chat-completions stream's `tool_calls` deltas)."""

    index: int
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""


@dataclass(frozen=True)
class Usage:
    """The tokens the request took, as the provider counted them: the last event, when it counted."""

    tokens: TokenUsage


ChatEvent = Union[TextDelta, ReasoningDelta, Notice, Finish, ToolCallDelta, Usage]


@dataclass
class Reply:
    """What one request's events added up to: the answer, what it took, and the model that gave it."""

    text: str
    usage: Optional[TokenUsage] = None
    model: Optional[str] = None  # the answering model's `provider/long-id`
    tool_calls: List[ToolCall] = field(default_factory=list)  # what the model asks to run (none: an answer)
    finish_reason: Optional[str] = None  # the provider's, when it gave one


class ChatSender(Protocol):
    """What sends a request and yields its events (OpenAIChatCompletionApi; the layers above the core know
    it by this shape only)."""

    model: str

    def send(self, messages: List[Dict[str, Any]], options: ChatOptions = ChatOptions(),
             on_wait: Optional[Callable[[str], None]] = None) -> Iterator[ChatEvent]:
        """The reply's events, streamed or whole as `options.stream` says."""
