"""Terminal: answers on stdout, messages on stderr, colour only on a real terminal."""
import io
import os
import pty

import pytest

from llmc.base.Terminal import Terminal


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_write_print_and_message_go_to_the_right_stream() -> None:
    out, err = io.StringIO(), io.StringIO()
    terminal = Terminal(out, err, environ={})
    terminal.write("a")
    terminal.print("b")
    terminal.message("note")
    assert out.getvalue() == "ab\n"
    assert err.getvalue() == "note\n"


def test_no_colour_when_stdout_is_not_a_terminal() -> None:
    terminal = Terminal(io.StringIO(), io.StringIO(), environ={"TERM": "xterm-256color"})
    assert not terminal.is_interactive
    assert not terminal.color


def test_colour_on_a_terminal_unless_no_color_or_dumb() -> None:
    assert Terminal(FakeTty(), io.StringIO(), environ={"TERM": "xterm"}).color
    assert not Terminal(FakeTty(), io.StringIO(), environ={"TERM": "xterm", "NO_COLOR": "1"}).color
    assert Terminal(FakeTty(), io.StringIO(), environ={"TERM": "xterm", "NO_COLOR": ""}).color  # no-color.org
    assert not Terminal(FakeTty(), io.StringIO(), environ={"TERM": "dumb"}).color


def test_stderr_terminal_is_detected_on_a_real_pty() -> None:
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as stream:
            assert Terminal(io.StringIO(), stream, environ={}).stderr_is_terminal
    finally:
        os.close(master)
        os.close(slave)


def test_console_is_plain_when_piped() -> None:
    out = io.StringIO()
    terminal = Terminal(out, io.StringIO(), environ={})
    console = terminal.console()
    assert console is terminal.console()
    console.print("[bold]plain[/bold]")
    assert out.getvalue() == "plain\n"


def test_a_dim_line_is_faint_on_a_terminal_wrapped_between_words_and_plain_when_piped() -> None:
    out = FakeTty()
    Terminal(out, io.StringIO(), environ={"TERM": "xterm"}).print_dim("  → " + "word " * 20 + "\x1b[31m")
    assert out.getvalue() == ("\x1b[2m  → " + "word " * 14 + "word\x1b[0m\n"  # 80 columns: no pty, no size
                              "\x1b[2m" + "word " * 5 + "\u241b[31m\x1b[0m\n")
    piped = io.StringIO()
    Terminal(piped, io.StringIO(), environ={"TERM": "xterm"}).print_dim("usage\nline")
    assert piped.getvalue() == "usage\nline\n"


def test_visible_text_of_printable_text_is_that_text() -> None:
    from llmc.base.Terminal import visible_text
    for text in ("plain", "naïve café · 日本語", "tab\tand space"):
        assert visible_text(text) == text
    assert visible_text("\u00a0nbsp\u202eoverride") == "\u00a0nbsp<U+202E>override"  # not printable: translated


def test_visible_text_shows_control_characters_instead_of_sending_them() -> None:
    from llmc.base.Terminal import visible_text
    raw = "a\x1b[31mred\x1b]0;title\x07 b\r\nc\td\x9b2J\x7f"
    shown = visible_text(raw)
    assert shown == "a\u241b[31mred\u241b]0;title\u2407 b\nc\td\ufffd2J\u2421"
    assert not any(ord(ch) < 0x20 and ch not in "\n\t" for ch in shown)


def test_print_and_message_never_send_control_characters() -> None:
    out, err = io.StringIO(), io.StringIO()
    terminal = Terminal(out, err)
    terminal.print("local/ctl\x1b[31mred")
    terminal.message("bad \x1b]0;title\x07")
    assert out.getvalue() == "local/ctl\u241b[31mred\n" and err.getvalue() == "bad \u241b]0;title\u2407\n"


class _TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


class _TtyOutput(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer, expected", [("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False),
                                              ("", False), ("maybe\n", False)])
def test_confirm_asks_in_a_terminal(answer, expected):
    err = _TtyOutput()
    terminal = Terminal(stdout=io.StringIO(), stderr=err)
    assert terminal.confirm("Send\x1b them?", stdin=_TtyInput(answer)) is expected
    assert err.getvalue().startswith("Send\u241b them? [y/N] ")


def test_confirm_without_a_terminal_is_no_and_with_assume_yes_is_yes_unasked():
    err = io.StringIO()
    terminal = Terminal(stdout=io.StringIO(), stderr=err)
    assert terminal.confirm("Send them?", stdin=io.StringIO("y\n")) is False
    terminal.assume_yes = True
    assert terminal.confirm("Send them?", stdin=io.StringIO("")) is True
    assert err.getvalue() == ""


def test_visible_text_shows_bidirectional_overrides_as_symbols() -> None:
    from llmc.base.Terminal import visible_text
    overrides = [chr(code) for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
    shown = visible_text("a" + "".join(overrides) + "b")
    assert not any(ch in shown for ch in overrides)
    assert shown == "a" + "".join(f"<U+{ord(ch):04X}>" for ch in overrides) + "b"
    assert visible_text("שלום abc") == "שלום abc"  # right-to-left text itself is left as it is


def test_size_is_the_pty_size_and_80x24_when_piped() -> None:
    import fcntl
    import pty
    import struct
    import termios
    assert tuple(Terminal(stdout=io.StringIO(), stderr=io.StringIO(), environ={}).size()) == (80, 24)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with open(follower, "w", closefd=True) as stream:
        assert tuple(Terminal(stdout=stream, stderr=io.StringIO(), environ={}).size()) == (100, 30)
    os.close(leader)
