"""What /regenerate and /edit replace is kept: a chat's alternatives, and choosing among them.

One rule: a message may hold `alternatives`, the tails of the chat (lists of messages, each to its end)
that stood where it stands before they were replaced; `alternatives_at` says where the current tail stands
among them (absent: after the last). A replaced tail keeps the alternatives deeper in it (a reply asked
again in a turn later edited); those of its first message move to the message that replaces it. They are
the user's alone: never sent, never shown as the chat (its current path is).
"""
from __future__ import annotations

from itertools import islice
from typing import Iterator, List, NamedTuple, Optional, Tuple

from .Attachment import content_text, typed_prompt
from ..base.Terminal import visible_text

ALTERNATIVES_KEY = "alternatives"
CURRENT_AT_KEY = "alternatives_at"
MAX_CHOICES = 100  # a file written by hand may nest alternatives into millions of ways: the first are listed

Tail = List[dict]
Way = Tuple[Tuple[int, int], ...]  # (message index, variant number) choices, made in order


class TurnChoice(NamedTuple):
    """One way the last turn can go: the choices that make it current, its messages (from its prompt on),
    and whether it is the current one."""

    path: Way
    messages: Tail
    current: bool


def variants_at(messages: Tail, index: int) -> List[Tail]:
    """Every tail that stood at `index`, in order, the current one (messages[index:]) among them."""
    others, at = _others_of(messages[index])
    return others[:at] + [messages[index:]] + others[at:]


def _others_of(head: dict) -> Tuple[List[Tail], int]:
    """The alternatives a message holds, and where the current tail stands among them."""
    others = head.get(ALTERNATIVES_KEY) or []
    return others, head.get(CURRENT_AT_KEY, len(others))


def set_aside(messages: Tail, index: int) -> Tail:
    """Take the messages from `index` on out of the chat; they are returned."""
    tail = messages[index:]
    del messages[index:]
    return tail


def keep_replaced(messages: Tail, index: int, tail: Tail) -> None:
    """`tail`, set aside from `index`, is replaced by the messages standing there now: it becomes their
    alternative (with its own), and the new tail the current one, last."""
    if not tail or len(messages) <= index:
        return
    others, at = _others_of(tail[0])
    tail[0].pop(ALTERNATIVES_KEY, None)
    tail[0].pop(CURRENT_AT_KEY, None)
    head = messages[index]
    head[ALTERNATIVES_KEY] = others[:at] + [tail] + others[at:]
    head.pop(CURRENT_AT_KEY, None)


def put_back(messages: Tail, index: int, tail: Tail) -> None:
    """Nothing replaced `tail` after all: the chat from `index` on is `tail` again."""
    del messages[index:]
    messages.extend(tail)


def choose(messages: Tail, index: int, number: int) -> None:
    """Make variant `number` (0-based, in variants_at's order) the current tail at `index`; the current
    one becomes an alternative in its place."""
    variants = variants_at(messages, index)
    if number == _others_of(messages[index])[1]:
        return
    chosen = variants.pop(number)
    for key in (ALTERNATIVES_KEY, CURRENT_AT_KEY):
        messages[index].pop(key, None)
    chosen[0][ALTERNATIVES_KEY] = variants
    if number != len(variants):
        chosen[0][CURRENT_AT_KEY] = number
    put_back(messages, index, chosen)


def last_turn_choices(messages: Tail) -> List[TurnChoice]:
    """Every way the last turn (from the last user message on) can go (the first MAX_CHOICES of them, and
    the current one); one, the current, when nothing in it was replaced."""
    start = last_user_index(messages)
    if start is None:
        return []
    ways = islice(_ways(messages[start:], start, 0), MAX_CHOICES)
    choices = [TurnChoice(path, turn, current) for path, turn, current in ways]
    if not any(choice.current for choice in choices):  # past the first MAX_CHOICES: the current one last
        choices.append(TurnChoice((), messages[start:], True))
    return choices


def _ways(tail: Tail, offset: int, first: int) -> Iterator[Tuple[Way, Tail, bool]]:
    """The ways `tail` (standing at `offset`) can go, its alternatives looked for from `first` on."""
    for position in range(first, len(tail)):
        if tail[position].get(ALTERNATIVES_KEY):
            _, at = _others_of(tail[position])
            for number, variant in enumerate(variants_at(tail, position)):
                for path, rest, current in _ways(variant, offset + position, 1):
                    yield ((offset + position, number), *path), tail[:position] + rest, current and number == at
            return
    yield (), tail, True


def take(messages: Tail, path: Way) -> None:
    """Make the way `path` leads to the current one."""
    for index, number in path:
        choose(messages, index, number)


def last_user_index(messages: Tail) -> Optional[int]:
    """Where the last user message stands, None when there is none."""
    return next((i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "user"), None)


def choice_lines(choices: List[TurnChoice]) -> List[str]:
    """/alternatives' list: number (the current one starred), model and the reply on one line, the prompt
    before it when the prompts differ."""
    several_prompts = len({_one_line(c.messages[0]) for c in choices}) > 1
    number_width = len(str(len(choices)))
    lines = []
    for number, choice in enumerate(choices, 1):
        answer = choice.messages[-1]
        text = _one_line(answer) if answer["role"] != "user" else "(no reply)"
        if several_prompts:
            text = f"{_one_line(choice.messages[0])} → {text}"
        model = next((m["model"] for m in reversed(choice.messages) if m.get("model")), "-")
        lines.append(f"{'*' if choice.current else ' '}{number:>{number_width}}  {visible_text(model)}  {text}")
    return lines


def _one_line(message: dict) -> str:
    """A message's words on one line (a user's typed prompt, without the files attached to it)."""
    text = content_text(message["content"])
    if message["role"] == "user":
        text = typed_prompt(text)
    if not text.strip() and message.get("tool_calls"):
        text = "tool call " + ", ".join(call["function"]["name"] for call in message["tool_calls"])
    return " ".join(visible_text(text).split())
