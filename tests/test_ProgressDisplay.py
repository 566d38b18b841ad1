"""ProgressDisplay: a redrawn bar on a terminal, plain lines otherwise."""
from __future__ import annotations

import io
import threading

from llmc.render.ProgressDisplay import ProgressDisplay, discover_with_progress


def test_plain_mode_writes_a_start_and_an_end_line_per_provider():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=False)
    for done in range(4):
        progress("fake", done, 3)
    progress("other", 0, 0)
    progress.close()
    assert out.getvalue() == "fake: pinging 3 models\nfake: pinged 3/3\nother: pinging 0 models\n"
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_live_mode_redraws_one_line_with_a_bar_per_provider():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=True, min_interval=0.0, width=lambda: 200)
    progress("a", 0, 4)
    progress("b", 0, 2)
    progress("a", 2, 4)
    progress("b", 2, 2)
    last = out.getvalue().split("\r\x1b[2K")[-1]
    assert last == "a [##########----------] 2/4  b [####################] 2/2"
    assert "\n" not in out.getvalue()


def test_live_mode_throttles_redraws_but_always_draws_the_end():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=True, min_interval=3600, width=lambda: 200)
    for done in range(101):
        progress("a", done, 100)
    draws = out.getvalue().split("\r\x1b[2K")[1:]
    assert draws == ["a [--------------------] 0/100", "a [####################] 100/100"]


def test_live_line_is_cut_to_the_terminal_width_so_it_never_wraps():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=True, min_interval=0.0, width=lambda: 30)
    progress("a-very-long-provider-name", 1, 3)
    line = out.getvalue().split("\r\x1b[2K")[-1]
    assert len(line) == 29 and line.endswith("…")


def test_close_clears_the_live_line_once():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=True, min_interval=0.0, width=lambda: 80)
    progress("a", 1, 1)
    progress.close()
    progress.close()
    assert out.getvalue().endswith("1/1\r\x1b[2K")


def test_notes_and_wrapped_reports_clear_the_live_line_first():
    out, reports = io.StringIO(), []
    progress = ProgressDisplay(out, live=True, min_interval=0.0, width=lambda: 80)
    progress("a", 1, 2)
    progress.note("a: rate limited (429); retrying in 1 s")
    assert out.getvalue().endswith("\r\x1b[2Ka: rate limited (429); retrying in 1 s\n"
                                   "\r\x1b[2Ka [##########----------] 1/2")
    progress.around(lambda text: (reports.append(text), out.write("<" + text + ">")))("summary")
    assert out.getvalue().endswith("1/2\r\x1b[2K<summary>") and reports == ["summary"]


def test_notes_in_plain_mode_are_plain_lines():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=False)
    progress("a", 0, 1)
    progress.note("hello")
    assert out.getvalue() == "a: pinging 1 model\nhello\n"


def test_updates_from_many_threads_are_not_interleaved():
    out = io.StringIO()
    progress = ProgressDisplay(out, live=False)
    threads = [threading.Thread(target=lambda n=n: [progress(f"p{n}", d, 50) for d in range(51)])
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert sorted(lines) == sorted([f"p{n}: pinging 50 models" for n in range(8)]
                                   + [f"p{n}: pinged 50/50" for n in range(8)])


def test_width_falls_back_when_the_stream_is_no_terminal():
    out = io.StringIO()  # no fileno(): the width comes from the environment instead
    progress = ProgressDisplay(out, live=True, min_interval=0.0)
    progress("a", 1, 2)
    assert "a [##########----------] 1/2" in out.getvalue()


class _LiveTerminal:
    """A terminal whose stderr counts as a terminal, so the bar is live."""

    def __init__(self) -> None:
        self.stderr = io.StringIO()
        self.stderr_is_terminal = True

    def message(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def confirm(self, question: str) -> bool:
        return False


class _Providers:
    """Stands in for a ProviderManager: through the run's channel, progress, one notice and one result."""

    def discover_and_validate_models(self, output, **kwargs) -> bool:
        output.progress("a", 1, 2)
        output.notice("a: 1 undecided")
        output.result("a: summary")
        return True


def test_discovery_warnings_go_to_stderr_and_clear_the_bar(tmp_path):
    terminal, providers, printed = _LiveTerminal(), _Providers(), []
    assert discover_with_progress(providers, terminal, tmp_path / "data", printed.append) is True
    assert "a [##########----------] 1/2\r\x1b[2Ka: 1 undecided\n" in terminal.stderr.getvalue()
    assert printed == ["a: summary"]
