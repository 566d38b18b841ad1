"""ToolApproval: a rule, an earlier "always" or the user decides; without a terminal a call is refused."""
from __future__ import annotations

from typing import List, Optional

from llmc.chat.ToolApproval import APPROVE_ALL_NOTICE, ToolApproval


def asker(answers: List[Optional[str]], questions: List[str]):
    def ask(question: str) -> Optional[str]:
        questions.append(question)
        return answers.pop(0)
    return ask


def test_patterns_from_config_need_no_asking():
    approval = ToolApproval(["time.*", "docs.search"], ask=None)
    assert approval.decide("time.get_current_time") and approval.decide("docs.search")
    assert not approval.is_allowed("docs.fetch") and not approval.is_allowed("timex.get")


def test_without_a_terminal_a_call_is_refused_with_one_line_on_how_to_allow_it():
    lines: List[str] = []
    approval = ToolApproval(["time.*"], ask=None, notice=lines.append)
    assert approval.decide("fs.write_file") is False
    assert lines == ['Refused the call of fs.write_file: no terminal to ask in. To allow it, give --approve-tools, '
                     'or list it in config.toml\'s allowed_tools (e.g. allowed_tools = ["fs.write_file"])']


def test_approve_tools_allows_everything_and_says_so_once():
    lines: List[str] = []
    approval = ToolApproval(approve_all=True, notice=lines.append)
    assert approval.decide("fs.write_file") and approval.decide("net.fetch")
    assert lines == [APPROVE_ALL_NOTICE]


def test_the_user_runs_once_refuses_or_always_allows():
    questions: List[str] = []
    approval = ToolApproval(ask=asker(["y", "n", "what?", "a", None], questions))
    assert approval.decide("fs.read") is True       # once
    assert approval.decide("fs.read") is False      # asked again: refused
    assert approval.decide("fs.read") is True       # "what?" asked again, then always
    assert approval.decide("fs.read") is True       # not asked any more
    assert approval.decide("fs.write") is False     # end of input refuses
    assert len(questions) == 5
    assert questions[0] == "Run fs.read? [y] run once, [n] refuse, [a] always allow this tool in this chat: "
