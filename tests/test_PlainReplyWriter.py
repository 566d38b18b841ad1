"""PlainReplyWriter: the answer alone on stdout, reasoning set apart on stderr."""
import io

from llmc.render.PlainReplyWriter import PlainReplyWriter


def make_writer() -> tuple[PlainReplyWriter, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return PlainReplyWriter(out, err), out, err


def test_answer_goes_to_stdout_as_it_arrives_and_ends_with_a_newline() -> None:
    writer, out, err = make_writer()
    writer.on_content("Hel")
    assert out.getvalue() == "Hel"
    writer.on_content("lo")
    writer.finish()
    assert out.getvalue() == "Hello\n"
    assert err.getvalue() == ""
    assert writer.text == "Hello"


def test_reasoning_goes_to_stderr_under_headings_before_the_answer() -> None:
    writer, out, err = make_writer()
    writer.on_reasoning("think")
    writer.on_reasoning("ing")
    writer.on_content("answer")
    writer.finish()
    assert err.getvalue() == "REASONING:\nthinking\n\nANSWER:\n"
    assert out.getvalue() == "answer\n"


def test_no_extra_newline_after_an_answer_that_ends_with_one() -> None:
    writer, out, _ = make_writer()
    writer.on_content("line\n")
    writer.finish()
    assert out.getvalue() == "line\n"


def test_abort_keeps_the_partial_answer_and_puts_the_note_on_stderr() -> None:
    writer, out, err = make_writer()
    writer.on_content("partial")
    writer.abort("[reply incomplete]")
    assert out.getvalue() == "partial\n"
    assert err.getvalue() == "[reply incomplete]\n"
    assert writer.text == "partial"


def test_abort_during_reasoning_ends_the_reasoning_line() -> None:
    writer, out, err = make_writer()
    writer.on_reasoning("half a thought")
    writer.abort()
    assert err.getvalue() == "REASONING:\nhalf a thought\n"
    assert out.getvalue() == ""


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_warnings_get_a_line_of_their_own() -> None:
    writer, out, err = make_writer()
    writer.on_reasoning("thinking")
    writer.on_warning("Warning: skipped a chunk")
    writer.on_content("answer")
    writer.on_warning("Warning: again")
    writer.finish()
    assert err.getvalue() == "REASONING:\nthinking\nWarning: skipped a chunk\n\n\nANSWER:\nWarning: again\n"
    assert out.getvalue() == "answer\n"  # piped: the answer is not broken up


def test_on_a_terminal_a_warning_does_not_glue_to_the_answer() -> None:
    out, err = TtyBuffer(), io.StringIO()
    writer = PlainReplyWriter(out, err)
    writer.on_content("Hello **")
    writer.on_warning("Warning: skipped a chunk")
    assert err.getvalue() == ""  # held back: it would split the answer's line on the shared screen
    writer.on_content("world**")
    writer.on_content(" and more\nnext")
    assert err.getvalue() == ""
    writer.on_content(" line\n")
    assert err.getvalue() == "Warning: skipped a chunk\n"
    writer.on_warning("Warning: at a line start")
    writer.finish()
    assert out.getvalue() == "Hello **world** and more\nnext line\n" == writer.text
    assert err.getvalue() == "Warning: skipped a chunk\nWarning: at a line start\n"


def test_a_held_notice_is_shown_at_the_end_at_the_latest() -> None:
    out, err = TtyBuffer(), io.StringIO()
    writer = PlainReplyWriter(out, err)
    writer.on_content("no newline")
    writer.on_warning("Warning: late")
    writer.finish()
    assert out.getvalue() == "no newline\n" and err.getvalue() == "Warning: late\n"
