"""One question answered with tools: the model asks for calls, the user (or a rule) lets them run, their
results go back, round after round until the model answers or `max_tool_steps` rounds are spent."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..base.ChatEvents import Reply
from ..base.TokenUsage import TokenUsage
from ..base.ToolCalls import ToolCall
from ..render.ToolCallView import call_lines, result_line
from ..store.ChatSession import ChatSession
from ..tools.ToolBox import ToolBox, ToolOutcome, ToolSpec
from .ToolApproval import ToolApproval

DECLINED = "The user declined to run this tool call."
INTERRUPTED = "The user interrupted the tool calls before this one ran."


SendRound = Callable[[Tuple[Dict[str, Any], ...]], Reply]  # one request of the chat as it is, offering these tools


class ToolLoop:
    """Runs the rounds of one question; every call and result is kept in the chat as it happens."""

    def __init__(self, toolbox: ToolBox, approval: ToolApproval, max_steps: int,
                 show: Callable[[str], None], show_dim: Callable[[str], None], events: Optional[Any] = None) -> None:
        """`show` puts a call's lines on screen, `show_dim` a result's summary; `events` (the --json writer)
        is told each call and its result as `tool_call` and `tool_result`."""
        self.toolbox = toolbox
        self.approval = approval
        self.max_steps = max_steps
        self.show = show
        self.show_dim = show_dim
        self.events = events
        self.rounds: List[Reply] = []  # of the last run, every request's, for usage and cost

    def run(self, session: ChatSession, send_round: SendRound, specs: Sequence[ToolSpec]) -> Optional[Reply]:
        """Ask, run the calls, ask again; the model's answer (not yet in `session`), or None when the rounds
        ran out. Ctrl-C is raised once the chat holds an answer for every call of the round."""
        self.rounds = []
        tools = tuple(spec.as_openai() for spec in specs)
        by_name = {spec.name: spec for spec in specs}
        for _ in range(self.max_steps):
            reply = send_round(tools)
            self.rounds.append(reply)
            if not reply.tool_calls:
                return reply
            session.add_tool_calls(reply.text, reply.tool_calls, reply.usage, reply.model)
            self._run_calls(session, reply.tool_calls, by_name)
        return None

    def _run_calls(self, session: ChatSession, calls: List[ToolCall], by_name: Dict[str, ToolSpec]) -> None:
        for position, call in enumerate(calls):
            if self.events is not None:
                self.events.tool_call(call.id, call.name, call.arguments)
            try:
                outcome = self._outcome(call, by_name)
            except KeyboardInterrupt:
                for unanswered in calls[position:]:  # every call needs its answer, or the next request fails
                    session.add_tool_result(unanswered, INTERRUPTED, self._display(unanswered, by_name))
                raise
            session.add_tool_result(call, outcome.text, self._display(call, by_name))
            self.show_dim(result_line(outcome.text, outcome.is_error))
            if self.events is not None:
                self.events.tool_result(call.id, call.name, not outcome.is_error, outcome.text)

    def _outcome(self, call: ToolCall, by_name: Dict[str, ToolSpec]) -> ToolOutcome:
        """What goes back to the model for `call`: the tool's result, or why it did not run."""
        spec = by_name.get(call.name)
        display = self._display(call, by_name)
        for line in call_lines(display, call.arguments):
            self.show(line)
        if spec is None:
            return ToolOutcome(f"There is no tool named {call.name!r}; the tools on offer are: "
                               f"{', '.join(sorted(by_name)) or 'none'}.", True)
        arguments, problem = call.parsed_arguments()
        if arguments is None:
            return ToolOutcome(f"Not run: {problem}. Send the arguments as one JSON object.", True)
        if not self.approval.decide(display):
            return ToolOutcome(DECLINED, True)
        return self.toolbox.call(call.name, arguments)

    @staticmethod
    def _display(call: ToolCall, by_name: Dict[str, ToolSpec]) -> str:
        spec = by_name.get(call.name)
        return spec.display if spec else call.name


def total_usage(rounds: Sequence[Reply]) -> Optional[TokenUsage]:
    """The tokens of every round together; None when no round was counted."""
    counted = [r.usage for r in rounds if r.usage is not None]
    if not counted:
        return None
    return TokenUsage(sum(u.prompt_tokens for u in counted), sum(u.completion_tokens for u in counted))
