"""ToolCallView: a call with its arguments (one line when short), a result as a cut line; controls visible."""
from __future__ import annotations

from llmc.render.ToolCallView import MAX_ARGUMENT_LINES, RESULT_SUMMARY_CHARS, call_lines, result_line


def test_short_arguments_fit_on_the_calls_line():
    assert call_lines("time.get_current_time", '{"timezone": "Europe/Paris"}') == [
        '⚙ time.get_current_time {"timezone": "Europe/Paris"}']
    assert call_lines("time.now", "") == ["⚙ time.now()"]


def test_long_arguments_are_pretty_printed_and_cut():
    lines = call_lines("docs.search", '{"query": "' + "x" * 80 + '", "limit": 5}')
    assert lines[0] == "⚙ docs.search" and lines[1] == "  {" and lines[-1] == "  }"
    many = call_lines("t", "{" + ", ".join(f'"k{i}": {i}' for i in range(40)) + "}")
    assert len(many) == 1 + MAX_ARGUMENT_LINES + 1 and many[-1].startswith("  … ")


def test_arguments_that_are_not_json_and_control_characters():
    assert call_lines("t", '{"a": ') == ['⚙ t {"a": (not JSON)']
    assert "\x1b" not in "".join(call_lines("t\x1b]0;x\x07", '{"a": "\\u001b[2J"}'))


def test_a_result_is_one_cut_line():
    assert result_line("line one\nline two", False) == "  → line one line two"
    assert result_line("", False) == "  → (no output)"
    assert result_line("boom", True) == "  ✗ boom"
    assert len(result_line("y" * 1000, False)) == 4 + RESULT_SUMMARY_CHARS
    assert "\x1b" not in result_line("\x1b[31mred", False)


def test_a_known_key_in_arguments_or_a_result_is_masked():
    from llmc.base.Secrets import remember_keys
    key = "sk-test-1234567890abcdefghij"
    remember_keys([key])
    assert key not in "".join(call_lines("t", '{"token": "%s"}' % key))
    assert key not in result_line(f"your key is {key}", False)
