"""Alternatives: a replaced tail kept on what replaced it, put back when nothing did, and chosen again."""
from __future__ import annotations

import copy

from llmc.store.Alternatives import (ALTERNATIVES_KEY, CURRENT_AT_KEY, MAX_CHOICES, choose, keep_replaced, last_turn_choices,
                                     last_user_index, put_back, set_aside, take, variants_at)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def reply(text: str) -> dict:
    return {"role": "assistant", "content": text}


def chat(*messages: dict) -> list:
    return [{"role": "system", "content": "s"}, *messages]


def ask_again(messages: list, text: str) -> None:
    """What /regenerate does to the messages: the replies after the last prompt replaced by `text`."""
    index = last_user_index(messages) + 1
    tail = set_aside(messages, index)
    messages.append(reply(text))
    keep_replaced(messages, index, tail)


def test_a_replaced_reply_is_kept_on_the_new_one_and_the_new_one_is_last() -> None:
    messages = chat(user("q"), reply("a1"))
    ask_again(messages, "a2")
    ask_again(messages, "a3")
    assert messages[2] == {"role": "assistant", "content": "a3", ALTERNATIVES_KEY: [[reply("a1")], [reply("a2")]]}
    assert [v[0]["content"] for v in variants_at(messages, 2)] == ["a1", "a2", "a3"]


def test_nothing_replacing_puts_the_tail_back_as_it_was() -> None:
    messages = chat(user("q"), reply("a1"))
    ask_again(messages, "a2")
    before = copy.deepcopy(messages)
    tail = set_aside(messages, 2)
    assert messages == chat(user("q"))
    put_back(messages, 2, tail)
    assert messages == before


def test_choosing_swaps_in_place_so_the_numbers_stay() -> None:
    messages = chat(user("q"), reply("a1"))
    ask_again(messages, "a2")
    ask_again(messages, "a3")
    choose(messages, 2, 0)
    assert messages[2]["content"] == "a1" and messages[2][CURRENT_AT_KEY] == 0
    assert [v[0]["content"] for v in variants_at(messages, 2)] == ["a1", "a2", "a3"]
    choose(messages, 2, 1)
    assert [v[0]["content"] for v in variants_at(messages, 2)] == ["a1", "a2", "a3"]
    choose(messages, 2, 2)  # back to the last: no marker left
    assert messages[2] == {"role": "assistant", "content": "a3", ALTERNATIVES_KEY: [[reply("a1")], [reply("a2")]]}


def test_a_tail_with_tool_calls_moves_whole() -> None:
    call = {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "type": "function",
                                                                "function": {"name": "t", "arguments": "{}"}}]}
    result = {"role": "tool", "tool_call_id": "c", "content": "42", "tool": "t"}
    messages = chat(user("q"), call, result, reply("it is 42"))
    ask_again(messages, "no tools this time")
    assert messages[2:] == [{"role": "assistant", "content": "no tools this time",
                             ALTERNATIVES_KEY: [[call, result, reply("it is 42")]]}]


def test_the_last_turn_lists_every_prompt_and_reply_it_had() -> None:
    messages = chat(user("first"), reply("r"), user("q1"), reply("a1"))
    ask_again(messages, "a2")  # q1 has two replies
    tail = set_aside(messages, 3)  # an edit of q1
    messages += [user("q2"), reply("b1")]
    keep_replaced(messages, 3, tail)
    choices = last_turn_choices(messages)
    assert [(c.messages[0]["content"], c.messages[-1]["content"], c.current) for c in choices] == [
        ("q1", "a1", False), ("q1", "a2", False), ("q2", "b1", True)]
    take(messages, choices[0].path)
    assert [m["content"] for m in messages[1:]] == ["first", "r", "q1", "a1"]
    assert [(c.messages[0]["content"], c.messages[-1]["content"], c.current) for c in last_turn_choices(messages)] \
        == [("q1", "a1", True), ("q1", "a2", False), ("q2", "b1", False)]
    take(messages, last_turn_choices(messages)[2].path)
    assert [m["content"] for m in messages[1:]] == ["first", "r", "q2", "b1"]


def test_a_turn_without_alternatives_is_one_choice_and_no_prompt_none() -> None:
    assert [c.current for c in last_turn_choices(chat(user("q"), reply("a")))] == [True]
    assert last_turn_choices(chat()) == []


def test_alternatives_nested_into_millions_of_ways_list_the_first_and_the_current_at_once() -> None:
    tail = [reply("deepest")]
    for depth in range(30):  # each level two ways, each holding every way below: 2**30 in all
        tail = [{**reply(f"level {depth}"), ALTERNATIVES_KEY: [[reply(f"other {depth}"), *tail[1:]]]}, *tail[1:]] \
            if depth % 2 else [reply(f"level {depth}"), *tail]
    choices = last_turn_choices(chat(user("q"), *tail))
    assert len(choices) == MAX_CHOICES + 1 and [c.current for c in choices].count(True) == 1 and choices[-1].current
