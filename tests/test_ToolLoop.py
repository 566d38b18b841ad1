"""ToolLoop: rounds of calls until the model answers, each call shown, decided, run and kept in the chat."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest

from llmc.base.TokenUsage import TokenUsage
from llmc.base.ToolCalls import ToolCall
from llmc.chat.ToolApproval import ToolApproval
from llmc.base.ChatEvents import Reply
from llmc.chat.ToolLoop import DECLINED, INTERRUPTED, ToolLoop, total_usage
from llmc.store.ChatSession import ChatSession
from llmc.tools.ToolBox import ToolOutcome, ToolSpec

ADD = ToolSpec("calc_add", "calc", "add", "Add two numbers", {"type": "object"})
CLOCK = ToolSpec("time_now", "time", "now", "The time", {"type": "object"})


class StandInToolBox:
    """What the loop asks of a ToolBox, answering from Python (the real one is tested with real servers)."""

    def __init__(self, interrupt: bool = False) -> None:
        self.calls: List[Tuple[str, Dict[str, Any]]] = []
        self.interrupt = interrupt

    def specs(self) -> List[ToolSpec]:
        return [ADD, CLOCK]

    def call(self, name: str, arguments: Dict[str, Any]) -> ToolOutcome:
        self.calls.append((name, arguments))
        if self.interrupt:
            raise KeyboardInterrupt
        if name == "calc_add":
            return ToolOutcome(str(arguments["a"] + arguments["b"]), False)
        return ToolOutcome("12:00\x1b[2J", False)


def Round(text: str, calls: List[ToolCall] = (), usage: TokenUsage = None, model: str = None) -> Reply:
    return Reply(text, usage, model, list(calls))


class ScriptedModel:
    """Answers each round from a script; records the messages of the chat and the tools it was sent."""

    def __init__(self, session: ChatSession, rounds: List[Reply]) -> None:
        self.session = session
        self.rounds = rounds
        self.sent: List[Tuple[List[Dict[str, Any]], Tuple[Dict[str, Any], ...]]] = []

    def __call__(self, tools: Tuple[Dict[str, Any], ...]) -> Reply:
        self.sent.append((self.session.api_messages(), tools))
        return self.rounds[min(len(self.sent) - 1, len(self.rounds) - 1)]


def loop(toolbox: StandInToolBox, approval: ToolApproval, lines: List[str], steps: int = 10) -> ToolLoop:
    return ToolLoop(toolbox, approval, steps, lines.append, lambda line: lines.append(f"dim:{line}"))


def chat() -> ChatSession:
    session = ChatSession("s", "/nonexistent")
    session.add_user("What is 1+2, and the time?")
    return session


def test_two_calls_run_their_results_go_back_and_the_model_answers():
    toolbox, lines, session = StandInToolBox(), [], chat()
    model = ScriptedModel(session, [
        Round("Let me see.", [ToolCall("c1", "calc_add", '{"a": 1, "b": 2}'), ToolCall("c2", "time_now", "{}")],
              TokenUsage(10, 4), "f/m"),
        Round("3, at 12:00.", [], TokenUsage(30, 5), "f/m")])
    answer = loop(toolbox, ToolApproval(["calc.*", "time.now"]), lines).run(session, model, [ADD, CLOCK])
    assert answer.text == "3, at 12:00."
    assert toolbox.calls == [("calc_add", {"a": 1, "b": 2}), ("time_now", {})]
    second = model.sent[1][0]
    assert second[-2:] == [{"role": "tool", "tool_call_id": "c1", "content": "3"},
                           {"role": "tool", "tool_call_id": "c2", "content": "12:00\x1b[2J"}]
    assert [t["function"]["name"] for t in model.sent[0][1]] == ["calc_add", "time_now"]
    assert lines == ['⚙ calc.add {"a": 1, "b": 2}', "dim:  → 3", "⚙ time.now()", "dim:  → 12:00␛[2J"]
    assert session.messages[2]["usage"] == {"prompt_tokens": 10, "completion_tokens": 4}
    assert total_usage(model.rounds) == TokenUsage(40, 9)


def test_unknown_tools_bad_arguments_and_a_refusal_are_told_to_the_model_and_nothing_runs():
    toolbox, lines, session = StandInToolBox(), [], chat()
    model = ScriptedModel(session, [Round("", [ToolCall("c1", "rm_rf", "{}"), ToolCall("c2", "calc_add", '{"a": 1,'),
                                      ToolCall("c3", "calc_add", '{"a": 1, "b": 1}')]), Round("Sorry.")])
    notices: List[str] = []
    approval = ToolApproval(ask=None, notice=notices.append)
    loop(toolbox, approval, lines).run(session, model, [ADD])
    results = [m["content"] for m in model.sent[1][0] if m["role"] == "tool"]
    assert results[0] == "There is no tool named 'rm_rf'; the tools on offer are: calc_add."
    assert results[1].startswith("Not run: the arguments are not JSON")
    assert results[2] == DECLINED
    assert toolbox.calls == [] and len(notices) == 1 and "--approve-tools" in notices[0]


def test_a_loop_that_never_ends_stops_after_max_tool_steps():
    toolbox, lines, session = StandInToolBox(), [], chat()
    model = ScriptedModel(session, [Round("", [ToolCall("c", "time_now", "{}")])])
    assert loop(toolbox, ToolApproval(approve_all=True), lines, steps=3).run(session, model, [CLOCK]) is None
    assert len(model.sent) == 3 and len(toolbox.calls) == 3
    assert [m["role"] for m in session.messages[2:]] == ["assistant", "tool"] * 3


def test_ctrl_c_in_a_call_keeps_an_answer_for_every_call_and_is_raised():
    toolbox, lines, session = StandInToolBox(interrupt=True), [], chat()
    model = ScriptedModel(session, [Round("", [ToolCall("c1", "time_now", "{}"), ToolCall("c2", "calc_add", "{}")])])
    with pytest.raises(KeyboardInterrupt):
        loop(toolbox, ToolApproval(approve_all=True), lines).run(session, model, [ADD, CLOCK])
    assert [(m["role"], m.get("tool_call_id"), m["content"]) for m in session.messages[3:]] == [
        ("tool", "c1", INTERRUPTED), ("tool", "c2", INTERRUPTED)]
