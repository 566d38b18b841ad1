"""OutputChannel: where lower layers tell the user things."""
from __future__ import annotations

import io

from llmc.base.OutputChannel import OutputChannel
from llmc.base.Terminal import Terminal


def test_a_terminals_channel_puts_results_on_stdout_and_notices_on_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    channel = OutputChannel.of_terminal(Terminal(out, err, environ={}))
    channel.result("fake: 3 models found")
    channel.notice("Warning: \x1b[31mred")
    assert out.getvalue() == "fake: 3 models found\n"
    assert err.getvalue() == "Warning: ␛[31mred\n"  # a notice never drives the terminal
    assert channel.progress is None


def test_a_channel_nobody_gave_tells_nothing(capsys) -> None:
    channel = OutputChannel()
    channel.result("result")
    channel.notice("notice")
    assert capsys.readouterr() == ("", "")
