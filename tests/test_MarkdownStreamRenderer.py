"""Tests for modules/MarkdownStreamRenderer.py: rendering, live region, cost."""

import io
import itertools
import random
import re
import time

import pytest
from rich.console import Console
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style

from llmc.render import MarkdownStreamRenderer as msr
from llmc.render.MarkdownBlockSplitter import BlockSplitter
from llmc.render.MarkdownStreamRenderer import MarkdownStreamRenderer, _Trimmed, _trim_line
from tests.markdown_samples import SAMPLE, chunked, random_sizes
from tests.terminal_screen import UP_ERASE as _UP_ERASE, Screen

# -- helpers ------------------------------------------------------------------------------

def make_console(width: int = 80, height: int = 25, color: bool = True, terminal: bool = True) -> Console:
    return Console(
        file=io.StringIO(),
        force_terminal=terminal,
        width=width,
        height=height,
        color_system="truecolor" if color else None,
    )


def make_renderer(console: Console, clock_step: float = 0.05) -> MarkdownStreamRenderer:
    """A renderer without the helper thread, on a fake clock that advances per delta."""
    renderer = MarkdownStreamRenderer(console)
    renderer.background_refresh = False
    ticks = itertools.count(0.0, clock_step)
    renderer._clock = lambda: next(ticks)
    return renderer


def stream(text: str, console: Console, sizes=itertools.repeat(4), clock_step: float = 0.05) -> MarkdownStreamRenderer:
    renderer = make_renderer(console, clock_step)
    for chunk in chunked(text, sizes):
        renderer.on_content(chunk)
    renderer.finish()
    return renderer


def screen_of(console: Console) -> Screen:
    return Screen(console.width).feed(console.file.getvalue())


def written_lines(console: Console) -> list[str]:
    """The non-blank lines left on the screen."""
    return [line for line in screen_of(console).lines() if line]


def replay(*events: tuple[str, str]) -> list[str]:
    """Feed (method, text) events such as ("on_content", "Hi") to a renderer, finish; the lines left."""
    console = make_console()
    renderer = make_renderer(console)
    for method, text in events:
        getattr(renderer, method)(text)
    renderer.finish()
    return written_lines(console)


def one_shot(text: str, width: int = 80, height: int = 25) -> list[str]:
    """rich's own render of the whole reply, without the invisible padding to the right margin."""
    console = make_console(width, height)
    console.print(_Trimmed(Markdown(text)))
    return screen_of(console).lines(styled=True)



def long_reply(lines: int, seed: int = 3) -> str:
    """A reply mixing headings, paragraphs, lists, tables and code; about `lines` lines."""
    rnd = random.Random(seed)
    words = "stream render block fence table list token buffer terminal width cost layout".split()

    def sentence() -> str:
        return " ".join(rnd.choice(words) for _ in range(12)).capitalize() + "."

    out = ["# Report", "", sentence(), "", "```python"]
    out += [f"def f{i}(x):\n    return x * {i}\n" for i in range(lines // 8)]
    out += ["```", ""]
    section = 0
    while sum(part.count("\n") + 1 for part in out) < lines:
        section += 1
        out += [f"## Section {section}", "", sentence() + " " + sentence(), ""]
        out += [f"- item {k}: {sentence()}" for k in range(4)] + [""]
        out += ["| n | word |", "|---|---|"] + [f"| {k} | {rnd.choice(words)} |" for k in range(4)] + [""]
        out += ["```js"] + [f"const v{k} = {k};" for k in range(8)] + ["```", ""]
    return "\n".join(out) + "\n"


# -- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [itertools.repeat(1), itertools.repeat(4), random_sizes()], ids=["1", "4", "random"])
def test_final_output_equals_one_shot_render(sizes):
    console = make_console()
    stream(SAMPLE, console, sizes)
    assert screen_of(console).lines(styled=True) == one_shot(SAMPLE)


@pytest.mark.parametrize("height", [8, 25])
def test_long_code_printed_progressively_matches_one_shot(height):
    text = long_reply(400)
    console = make_console(height=height)
    stream(text, console, random_sizes(11))
    assert screen_of(console).lines(styled=True) == one_shot(text, height=height)


def test_open_code_block_goes_to_scrollback_progressively():
    console = make_console(height=10)
    renderer = make_renderer(console)
    for chunk in chunked("```python\n" + "".join(f"value_{i} = {i}\n" for i in range(200)), itertools.repeat(4)):
        renderer.on_content(chunk)
    before_finish = screen_of(console).lines()
    assert len(before_finish) > 190  # far more than the 8-row live region: printed as it came
    assert sum("value_0 =" in line for line in before_finish) == 1
    renderer.finish()
    assert screen_of(console).text().count("value_199 = 199") == 1


def test_chunking_invariance():
    results = []
    for sizes in (itertools.repeat(1), itertools.repeat(4), random_sizes(1), random_sizes(2)):
        console = make_console()
        stream(SAMPLE, console, sizes, clock_step=0.03)
        results.append(screen_of(console).lines(styled=True))
    assert all(result == results[0] for result in results)


def test_headings_lists_tables_and_code_render():
    console = make_console()
    stream(SAMPLE, console)
    screen = screen_of(console)
    text = screen.text()
    assert "# Release notes" not in text and "Release notes" in text
    assert "• nested bullet" in text
    assert re.search(r"Col A\s+Col B\s+Col C", text)
    assert "```" not in text.split("A fence inside:")[0]  # fences are not shown raw
    styled = "\n".join(screen.lines(styled=True))
    keyword = re.search(r"\{([0-9;]+)\}d\{\1\}e\{\1\}f", styled)  # 'def' coloured as a keyword
    assert keyword and "48;2;39;40;34" in keyword.group(1)


def test_the_shared_parser_parses_as_richs_own_markdown():
    ours, richs = msr._Markdown(SAMPLE, code_theme="monokai"), Markdown(SAMPLE, code_theme="monokai")
    assert ours.parsed == richs.parsed and vars(ours).keys() == vars(richs).keys()


class _RichLaidOutSlice(msr._CodeSlice):
    """The same slice laid out by rich's own Syntax code: the reference for the fast layout."""

    def __rich_console__(self, console, options):
        yield from msr.Syntax.__rich_console__(self, console, options)


_CODE_PIECES = ["x = 1", "\tindented()", "  # comment", "'''doc", "string'''", "", "   ", "\x1b[31mred\x07",
                "名前 = '値'", "emoji = '🚀'", "def f(a, b):", "    return a\\", "}", "/* c", "*/", "\r"]


@pytest.mark.parametrize("seed", range(40))
def test_fast_code_layout_gives_rich_syntax_segments(seed):
    rnd = random.Random(seed)
    lines = [rnd.choice(_CODE_PIECES) for _ in range(rnd.randint(0, 8))]
    context = "".join(f"{rnd.choice(_CODE_PIECES)}\n" for _ in range(rnd.choice([0, 0, 3])))
    code = "\n".join(lines) + rnd.choice(["", "", "\n"])
    lexer = msr.Syntax("", rnd.choice(["python", "c", "text"])).lexer or msr.Syntax("", "text").default_lexer
    padding, width = (rnd.randint(0, 1), 1, rnd.randint(0, 1), 1), rnd.choice([40, 80])
    outputs = []
    for kind in (msr._CodeSlice, _RichLaidOutSlice):
        console = make_console(width=width)
        console.print(kind(code, lexer, context=context, theme="monokai", padding=padding, tab_size=4))
        outputs.append(console.file.getvalue())
    assert outputs[0] == outputs[1]

@pytest.mark.parametrize("clock_step", [0.0, 0.05])
def test_catching_up_between_deltas_leaves_the_same_screen(clock_step):
    """The process drawing for -p lays finished blocks out between reads: the screen is the same to the byte."""
    text = SAMPLE + long_reply(120)
    plain, caught_up = make_console(height=10), make_console(height=10)
    stream(text, plain, random_sizes(5), clock_step=clock_step)
    renderer = make_renderer(caught_up, clock_step)
    for chunk in chunked(text, random_sizes(5)):
        renderer.on_content(chunk)
        renderer.catch_up()
    renderer.finish()
    link_ids = re.compile(r"id=\d+;")  # rich numbers each hyperlink it draws
    assert link_ids.sub("", caught_up.file.getvalue()) == link_ids.sub("", plain.file.getvalue())
    assert screen_of(caught_up).lines(styled=True) == one_shot(text, height=10)


def test_catch_up_lays_out_finished_blocks_and_the_next_paint_writes_them():
    console = make_console()
    renderer = make_renderer(console, clock_step=0.0)  # the clock stands still: only the first delta paints
    renderer.on_content("First paragraph.\n\n")
    written = console.file.getvalue()
    renderer.on_content("Second **paragraph**.\n\nThird, still open")
    renderer.catch_up()
    assert console.file.getvalue() == written  # laid out, not written
    assert [type(item).__name__ for item in renderer._queue] == ["_LaidOut"]
    renderer.finish()
    assert written_lines(console) == ["First paragraph.", "Second paragraph.", "Third, still open"]


def test_catch_up_does_nothing_without_a_live_region_or_after_the_end():
    console = make_console(terminal=False)
    renderer = make_renderer(console)
    renderer.on_content("One.\n\nTwo.\n\n")
    renderer.catch_up()
    assert renderer._queue == []
    renderer.finish()
    renderer.catch_up()
    assert written_lines(console) == ["One.", "Two."]


def test_warm_up_writes_nothing_to_the_console():
    console = make_console()
    MarkdownStreamRenderer.warm_up(console, SAMPLE)
    assert console.file.getvalue() == ""


def test_every_block_is_printed_exactly_once():
    markers = [f"marker{n}x" for n in range(40)]
    text = "".join(f"Paragraph {p} here.\n\n- item {i}\n\n" for p, i in zip(markers[:10], markers[10:20]))
    text += "```\n" + "".join(f"code {m}\n" for m in markers[20:30]) + "```\n\n"
    text += "| a |\n|---|\n" + "".join(f"| {m} |\n" for m in markers[30:])
    console = make_console(height=10)
    stream(text, console, clock_step=0.2)
    raw = console.file.getvalue()
    assert _UP_ERASE in raw  # the live region was used, and erased
    final = screen_of(console).text()
    assert all(final.count(m) == 1 for m in markers)


def test_live_region_never_exceeds_the_screen():
    height = 12
    text = "word " * 5000 + "\n\n```\n" + "".join(f"line {i}\n" for i in range(500)) + "```\n"
    console = make_console(height=height)
    stream(text, console, itertools.repeat(16), clock_step=0.1)
    raw = console.file.getvalue()
    tallest = max(len(run) // len(_UP_ERASE) + 1 for run in re.findall(f"(?:{re.escape(_UP_ERASE)})+", raw))
    assert tallest <= height - 2
    final = screen_of(console).text()
    assert final.count("line 499") == 1 and final.count("word") == 5000


def test_reasoning_is_shown_first_and_set_apart():
    console = make_console()
    renderer = make_renderer(console)
    for chunk in chunked("Let me think.\nStep one: consider it.\nStep two", itertools.repeat(5)):
        renderer.on_reasoning(chunk)
    for chunk in chunked("## Answer title\n\nThe **answer** is 42.\n", itertools.repeat(5)):
        renderer.on_content(chunk)
    renderer.finish()
    screen = screen_of(console)
    lines = screen.lines()
    text = screen.text()
    order = [text.index(s) for s in ("REASONING:", "Let me think.", "Step two", "ANSWER:", "Answer title", "42")]
    assert order == sorted(order)
    assert re.fullmatch(r"REASONING: ─+", lines[0]) and any(re.fullmatch(r"ANSWER: ─+", line) for line in lines)
    styled = "\n".join(screen.lines(styled=True))
    assert "{2}L{2}e{2}t" in styled  # reasoning is dim
    assert renderer.reasoning.startswith("Let me think.") and renderer.text.endswith("42.\n")


def test_whitespace_content_does_not_end_the_reasoning():
    console = make_console()
    renderer = make_renderer(console)
    renderer.on_reasoning("thinking")
    renderer.on_content("\n\n")
    renderer.on_reasoning(" more")
    renderer.on_content("Answer text.")
    renderer.finish()
    lines = screen_of(console).lines()
    assert lines[1] == "thinking more" and lines[-1] == "Answer text."


def test_abort_keeps_partial_text_and_prints_the_note():
    console = make_console()
    renderer = make_renderer(console)
    partial = "Intro paragraph.\n\n```python\nprint('partial')\nx = "
    for chunk in chunked(partial, itertools.repeat(4)):
        renderer.on_content(chunk)
    renderer.abort("[interrupted]")
    renderer.on_content("ignored after abort")
    lines = screen_of(console).lines()
    assert "Intro paragraph." in lines[0]
    assert any("print('partial')" in line for line in lines) and any("x =" in line for line in lines)
    assert lines[-1] == "[interrupted]"
    assert "{2}[" in "".join(screen_of(console).lines(styled=True)[-1:])
    assert renderer.text == partial


def test_abort_during_reasoning():
    console = make_console()
    renderer = make_renderer(console)
    renderer.on_reasoning("half a tho")
    renderer.abort("stopped")
    assert screen_of(console).lines()[-2:] == ["half a tho", "stopped"]


def test_non_terminal_console_prints_finished_blocks_without_live_region():
    console = make_console(terminal=False, color=False)
    renderer = make_renderer(console, clock_step=1.0)
    renderer.on_content("# Title\n\nFirst paragraph.\n\nSecond paragraph.\n")
    assert "First paragraph." in console.file.getvalue()
    assert "Second" not in console.file.getvalue()  # the open block may still grow
    renderer.finish()
    out = console.file.getvalue()
    assert "\x1b" not in out and "#" not in out
    assert out.count("First paragraph.") == 1 and out.count("Second paragraph.") == 1


def test_width_change_applies_to_later_blocks():
    console = make_console(width=80)
    renderer = make_renderer(console, clock_step=1.0)
    renderer.on_content("First " * 30 + "\n\n")
    renderer.on_content("x\n\n")  # a paint: the first block is now in scrollback
    console.width = 40
    renderer.on_content("Second " * 30 + "\n")
    renderer.finish()
    lines = Screen(80).feed(console.file.getvalue()).lines()
    first = [line for line in lines if "First" in line]
    second = [line for line in lines if "Second" in line]
    assert max(map(len, first)) > 60 and max(map(len, second)) <= 40


def test_stalled_stream_is_painted_by_the_helper_thread():
    console = make_console()
    renderer = MarkdownStreamRenderer(console, refresh_per_second=50)
    renderer.on_content("Hello")
    renderer.on_content(" stalled world")  # arrives within the interval: not painted yet
    deadline = time.monotonic() + 10
    while "stalled" not in console.file.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "stalled" in console.file.getvalue()
    renderer.finish()
    assert screen_of(console).text() == "Hello stalled world"


def test_finish_is_idempotent_and_text_accumulates():
    console = make_console()
    renderer = stream("a *b* c\n", console)
    renderer.finish()
    assert renderer.text == "a *b* c\n"
    assert screen_of(console).text() == "a b c"


# -- cost ---------------------------------------------------------------------------------


_MARKDOWN, _CODE_SLICE = msr._Markdown, msr._CodeSlice


class _Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.chars = 0


def _count_work(monkeypatch, text: str) -> tuple[_Counter, _Counter]:
    """Feed `text` in 4-char chunks, painting every third chunk; count markdown and code renders."""
    markdown, code = _Counter(), _Counter()

    class CountingMarkdown(_MARKDOWN):
        def __init__(self, source, **kwargs):
            markdown.calls += 1
            markdown.chars += len(source)
            super().__init__(source, **kwargs)

    class CountingCode(_CODE_SLICE):
        def __init__(self, source, lexer, **kwargs):
            code.calls += 1
            code.chars += len(source) + len(kwargs.get("context", ""))
            super().__init__(source, lexer, **kwargs)

    monkeypatch.setattr(msr, "_Markdown", CountingMarkdown)
    monkeypatch.setattr(msr, "_CodeSlice", CountingCode)
    console = Console(file=io.StringIO(), force_terminal=True, width=80, height=25)
    stream(text, console, clock_step=0.03)  # far more paints than a real 12/s clock would do
    return markdown, code


@pytest.mark.stress
def test_preview_of_a_giant_paragraph_is_bounded(monkeypatch):
    sources = []

    class RecordingMarkdown(_MARKDOWN):
        def __init__(self, source, **kwargs):
            sources.append(len(source))
            super().__init__(source, **kwargs)

    monkeypatch.setattr(msr, "_Markdown", RecordingMarkdown)
    text = "word " * 4000
    stream(text, make_console(width=80, height=25), clock_step=0.03)  # a paint every 3 deltas
    previews, final = sources[:-1], sources[-1]
    assert final == len(text) and len(previews) > 1000
    assert max(previews) <= 2 * 23 * 80


@pytest.mark.stress
def test_render_work_is_linear_in_reply_length(monkeypatch):
    small_md, small_code = _count_work(monkeypatch, long_reply(500))
    big_md, big_code = _count_work(monkeypatch, long_reply(1000))
    small = small_md.chars + small_code.chars
    big = big_md.chars + big_code.chars
    assert 1.6 < big / small < 2.4  # quadratic work would give about 4
    assert 1.6 < big_md.calls / small_md.calls < 2.4


def test_each_finished_block_is_rendered_once(monkeypatch):
    text = long_reply(1000)
    splitter = BlockSplitter()
    splitter.feed(text)
    splitter.close()
    prose_blocks = sum(block.fence is None for block in splitter.pop_done())
    renders, batches = [], []
    original = MarkdownStreamRenderer._prose_output

    def recording(self, blocks):
        renders.extend(blocks)
        batches.append(len(blocks))
        return original(self, blocks)

    monkeypatch.setattr(MarkdownStreamRenderer, "_prose_output", recording)
    stream(text, make_console(), clock_step=0.01)
    assert len(renders) == len(set(map(id, renders))) == prose_blocks
    assert max(batches) > 1  # blocks finished between two paints go out as one render


def test_a_notice_between_blocks_splits_their_render():
    console = make_console()
    renderer = make_renderer(console, clock_step=0.0)  # no paint until finish: all blocks in one batch
    renderer.on_content("First paragraph.\n\n")
    renderer.on_warning("provider: a notice")
    renderer.on_content("Second paragraph.\n\nThird.\n")
    renderer.finish()
    assert written_lines(console) == ["First paragraph.", "provider: a notice", "Second paragraph.", "Third."]


def test_trailing_padding_is_trimmed_unless_it_shows():
    plain, magenta, code_bg = Style(), Style(color="magenta"), Style(bgcolor="grey11")
    line = [Segment("quote", magenta), Segment("   ", magenta), Segment("  ", plain)]
    assert _trim_line(line) == [Segment("quote", magenta)]
    assert _trim_line([Segment("x = 1  ", plain)]) == [Segment("x = 1", plain)]
    assert _trim_line([Segment("code", code_bg), Segment("    ", code_bg)]) == [Segment("code", code_bg),
                                                                                Segment("    ", code_bg)]
    assert _trim_line([Segment("   ", plain)]) == []
    console = make_console(40)
    console.print(_Trimmed(Markdown("Some words.")))
    assert console.file.getvalue().endswith("Some words.\n")


def test_a_warning_is_printed_after_the_text_that_came_before_it():
    lines = replay(("on_content", "First paragraph.\n\nSecond par"),
                   ("on_warning", "Warning: skipped a malformed stream chunk"),
                   ("on_content", "agraph.\n\nThird paragraph.\n"),
                   ("on_warning", "Warning: the reply was cut short by the token limit"))
    # The open block ("Second par…") ends before the first notice is printed; the last notice comes last.
    assert lines == ["First paragraph.", "Second paragraph.",
                                      "Warning: skipped a malformed stream chunk", "Third paragraph.",
                                      "Warning: the reply was cut short by the token limit"]


def test_waiting_status_shows_until_the_first_delta_and_leaves_no_trace():
    console = make_console()
    renderer = make_renderer(console)
    renderer.on_waiting("waiting for fc1…")
    assert "waiting for fc1…" in console.file.getvalue()
    renderer.on_content("Answer.\n")
    renderer.finish()
    assert written_lines(console) == ["Answer."]


def test_a_retry_notice_while_waiting_gets_its_own_line():
    lines = replay(("on_waiting", "waiting for fc1…"),
                   ("on_warning", "fake: rate limited (429); retrying in 1 s (retry 1 of 3)"),
                   ("on_content", "Answer.\n"))
    assert lines == ["fake: rate limited (429); retrying in 1 s (retry 1 of 3)", "Answer."]


def test_a_warning_during_the_reasoning_comes_after_it_before_the_answer():
    lines = replay(("on_reasoning", "Thinking hard about it. Done thinking."),
                   ("on_warning", "Warning: skipped a malformed stream chunk"),
                   ("on_content", "# Title\n\nThe answer.\n"))
    assert lines[1:3] == ["Thinking hard about it. Done thinking.", "Warning: skipped a malformed stream chunk"]
    assert lines[3].startswith("ANSWER:") and lines[-1] == "The answer."
