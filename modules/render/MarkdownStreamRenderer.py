"""Live markdown rendering of a streamed LLM reply, in time linear in the reply length.

Finished blocks are rendered once (rich Markdown) into scrollback; only the open block is
drawn in a small transient live region, repainted at a bounded rate and cut to the screen.
"""

from __future__ import annotations

import functools
import io
import threading
import time

from markdown_it import MarkdownIt
from pygments.lexer import Lexer
from rich.cells import cell_len
from rich.control import strip_control_codes
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.rule import Rule
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax, SyntaxTheme
from rich.text import Text

from .MarkdownBlockSplitter import Block, BlockSplitter, LineAssembler, is_blank, is_table_head
from .MarkdownTableElement import MarkdownTableElement

__all__ = ["MarkdownStreamRenderer"]

# Rendered before a block, this empty HTML comment sets rich's "blank line before the next
# element" state exactly as the previous block would have in a single whole-reply render.
_NEWLINE_PRIMER = "<!-- -->\n\n"
_PRIMER_LINES = 2
_CONTEXT_LINES = 40  # code lines re-lexed before a slice so multi-line tokens keep their colour
_TAB_SIZE = 4

_IDLE, _REASONING, _ANSWER = "idle", "reasoning", "answer"


class _CodeSlice(Syntax):
    """Syntax for a run of lines from a code block, highlighted as if `context` preceded it.

    When no line needs wrapping (word_wrap off) it lays the lines out itself: the same segments
    as rich's Syntax with padding, in half the time (rich's general layout is most of the cost).
    """

    def __init__(self, code: str, lexer: Lexer, *, context: str = "", **kwargs: object) -> None:
        super().__init__(code, lexer, **kwargs)  # type: ignore[arg-type]
        self._context = context.expandtabs(self.tab_size)

    def highlight(self, code: str, line_range: tuple[int | None, int | None] | None = None) -> Text:
        if not self._context:
            return super().highlight(code, line_range)
        text = super().highlight(self._context + code, line_range)
        tail = text.divide([len(self._context)])[-1]
        tail.no_wrap = text.no_wrap
        return tail

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        base = self._get_base_style()
        if (self.word_wrap or self.line_numbers or self.line_range or self.indent_guides or self.dedent
                or self.background_color or self._stylized_ranges or base.transparent_background):
            yield from super().__rich_console__(console, options)
            return
        top, right, bottom, left = self.padding
        width = options.max_width
        inner = max(0, width - left - right)
        blank = Segment(" " * width + "\n", base)
        left_pad, right_pad = Segment(" " * left, base), Segment(" " * right, base)
        yield from [blank] * top
        for line in self._styled_lines(base):
            used = sum(cell_len(segment.text) for segment in line)
            yield left_pad
            yield from line
            if used < inner:
                yield Segment(" " * (inner - used), base)
            yield right_pad
            yield Segment.line()
        yield from [blank] * bottom

    def _styled_lines(self, base: Style) -> list[list[Segment]]:
        """The code's lines as styled segments on `base`, exactly as highlight() colours them."""
        ends_on_nl, code = self._process_code(self.code)
        theme = self._theme
        lexer = self.lexer or self.default_lexer
        skip = len(self._context)
        styles: dict[object, Style] = {}
        lines: list[list[Segment]] = [[]]
        for token_type, token in lexer.get_tokens(self._context + code):
            token = strip_control_codes(token)
            if skip:  # the context's characters: lexed for their effect on the colours, not shown
                cut = min(skip, len(token))
                token, skip = token[cut:], skip - cut
            style = styles.get(token_type)
            if style is None:
                style = styles[token_type] = base + theme.get_style_for_token(token_type)
            first, *rest = token.split("\n")
            if first:
                lines[-1].append(Segment(first, style))
            for piece in rest:
                lines.append([Segment(piece, style)] if piece else [])
        if not ends_on_nl and len(lines) > 1 and not lines[-1]:
            lines.pop()  # the newline _process_code added
        return lines


class _Markdown(Markdown):
    """rich's Markdown, parsed by one shared markdown-it parser (rich builds a new one per instance),
    with tables that fit laid out directly."""

    elements = {**Markdown.elements, "table_open": MarkdownTableElement}

    def __init__(self, markup: str, code_theme: str) -> None:
        vars(self).update(vars(_blank_markdown(code_theme)))  # whatever else rich's __init__ sets
        self.markup = markup
        self.parsed = _markdown_parser().parse(markup)


@functools.lru_cache(maxsize=4)
def _blank_markdown(code_theme: str) -> Markdown:
    return Markdown("", code_theme=code_theme)


@functools.lru_cache(maxsize=1)
def _markdown_parser() -> MarkdownIt:
    return MarkdownIt().enable("strikethrough").enable("table")  # as rich's Markdown


class _Frame:
    """Pre-rendered lines shown in the live region (cheap to redraw)."""

    def __init__(self) -> None:
        self.lines: list[list[Segment]] = []

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for index, line in enumerate(self.lines):
            if index:
                yield Segment.line()
            yield from line


class _LaidOut:
    """Output laid out ahead of the paint that prints it: its segments, ready to write."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = segments

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.segments


class _Trimmed:
    """A renderable without the trailing blank padding rich adds to fill the width.

    Padded lines end at the right margin, where any echoed key or a narrower window wraps them and
    breaks the live region's arithmetic; unpadded lines also copy without trailing spaces.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in console.render_lines(self.renderable, options, pad=False):
            yield from _trim_line(line)
            yield Segment.line()


def _trim_line(line: list[Segment]) -> list[Segment]:
    """`line` without trailing spaces that show nothing (no background, underline or reverse)."""
    line = list(line)
    while line:
        segment = line[-1]
        style = segment.style
        if segment.control or (style is not None and (style.bgcolor is not None or style.underline
                                                      or style.reverse)):
            break
        text = segment.text.rstrip(" ")
        if text:
            line[-1] = Segment(text, style)
            break
        line.pop()
    return line


class _Ticker(threading.Thread):
    """Repaints when the stream stalls, so text that arrived since the last paint shows up."""

    def __init__(self, renderer: MarkdownStreamRenderer, interval: float) -> None:
        super().__init__(name="markdown-stream-refresh", daemon=True)
        self._renderer, self._interval = renderer, interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._renderer._paint_if_stale()
            except Exception:  # noqa: BLE001 - a broken terminal must not kill the app from a helper thread
                return

    def stop(self) -> None:
        self._stopped.set()


def _heading(title: str) -> Rule:
    return Rule(Text(title, style="dim bold"), style="dim", align="left")


class MarkdownStreamRenderer:
    """Renders reasoning and answer deltas of one reply to a rich console, markdown and all."""

    background_refresh = True  # class-level switch; tests turn it off for determinism
    code_theme = "monokai"

    def __init__(self, console: Console, refresh_per_second: float = 12.0) -> None:
        self._console = console
        self._interval = 1.0 / refresh_per_second
        self._clock = time.monotonic
        self._lock = threading.RLock()
        self._interactive = console.is_terminal and not console.is_dumb_terminal
        self._splitter = BlockSplitter()
        self._thought = LineAssembler()
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._phase = _IDLE
        self._waiting = ""  # the status shown until the first delta
        self._notices: list[tuple[int, RenderableType]] = []  # (blocks out before it is due, the warning)
        self._blocks_out = 0  # answer blocks printed so far
        self._reasoning_notices: list[RenderableType] = []  # warnings that came during the reasoning
        self._queue: list[RenderableType] = []  # scrollback output waiting for the next paint
        self._newline_due = False  # rich would put a blank line before the next block
        self._lexers: dict[str, Lexer] = {}
        self._frame = _Frame()
        self._live: Live | None = None
        self._ticker: _Ticker | None = None
        self._last_paint = float("-inf")
        self._dirty = False
        self._closed = False

    @classmethod
    def warm_up(cls, console: Console, sample: str) -> None:
        """Draw `sample` where nobody sees it, at `console`'s size and colours: the code rich and pygments load
        on first use is then loaded before a reply comes."""
        unseen = Console(file=io.StringIO(), force_terminal=True, color_system=console.color_system,  # type: ignore[arg-type]
                         width=console.width, height=console.height, highlight=False, emoji=False)
        renderer = cls(unseen)
        renderer.on_content(sample)
        renderer.finish()

    @property
    def text(self) -> str:
        """The full answer text received so far."""
        return "".join(self._answer)

    @property
    def reasoning(self) -> str:
        """The full reasoning text received so far."""
        return "".join(self._reasoning)

    def on_reasoning(self, text: str) -> None:
        """Take a reasoning delta; it is shown dim, line by line, before the answer."""
        with self._lock:
            if not text or self._closed:
                return
            self._reasoning.append(text)
            if self._phase == _ANSWER:
                return  # reasoning after the answer began is kept but not shown
            if self._phase == _IDLE:
                self._phase = _REASONING
                self._queue.append(_heading("REASONING:"))
            self._queue.extend(self._reasoning_lines(self._thought.feed(text)))
            self._changed()

    def on_content(self, text: str) -> None:
        """Take an answer delta."""
        with self._lock:
            if not text or self._closed:
                return
            if self._phase != _ANSWER and text.strip():  # whitespace may precede the end of reasoning
                self._start_answer()
            self._answer.append(text)
            self._splitter.feed(text)
            self._changed()

    def on_waiting(self, text: str) -> None:
        """Until the first delta arrives, show `text` dim in the live region (it vanishes then)."""
        with self._lock:
            if self._interactive and self._phase == _IDLE and not self._closed:
                self._waiting = text
                self._frame.lines = self._live_lines(self._rows())
                self._write([])

    def on_warning(self, text: str) -> None:
        """Show a notice about the stream on its own line, once the text that came before it is printed."""
        with self._lock:
            if self._closed:
                return
            if self._phase == _REASONING:  # after the reasoning, once its last line is complete
                self._reasoning_notices.append(Text(text, style="yellow"))
                return
            # due once the text so far is out: finished blocks, the open one, and the block the partial
            # line may still start (counting it can only delay the notice, never put it above its text)
            splitter = self._splitter
            due = (self._blocks_out + len(splitter.pending_blocks()) + bool(splitter.open.lines)
                   + bool(splitter.partial))
            self._notices.append((due, Text(text, style="yellow")))
            self._changed()

    def catch_up(self) -> None:
        """Lay out the blocks finished since the last paint now, for a caller with time to spare (the process
        drawing for -p, between reads): the next paint only writes them."""
        with self._lock:
            if self._closed or not self._interactive:
                return
            out = self._take_output()
            if out:
                self._queue = [_LaidOut(list(self._console.render(_Trimmed(Group(*out)))))]

    def finish(self) -> None:
        """The stream ended normally: print everything still pending and stop the live region."""
        self._close(note=None)

    def abort(self, note: str | None = None) -> None:
        """The stream was interrupted: print what we have as-is, then `note` dim on its own line."""
        self._close(note=note)

    # -- state changes -------------------------------------------------------------------

    def _start_answer(self) -> None:
        if self._phase == _REASONING:
            self._end_reasoning()
            self._queue.append(_heading("ANSWER:"))
        self._phase = _ANSWER

    def _end_reasoning(self) -> None:
        """Print the rest of the reasoning, then the notices that came during it."""
        self._queue.extend(self._reasoning_lines(self._thought.flush()))
        self._queue.extend(self._reasoning_notices)
        self._reasoning_notices = []

    def _changed(self) -> None:
        self._dirty = True
        if self._clock() - self._last_paint >= self._interval:
            self._paint()
        elif self._ticker is None and self._interactive and self.background_refresh:
            self._ticker = _Ticker(self, self._interval)
            self._ticker.start()

    def _close(self, note: str | None) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._flush(note)
            finally:
                if self._live is not None:
                    self._live.stop()
                    self._live = None

    def _flush(self, note: str | None) -> None:
        if self._phase == _REASONING:
            self._end_reasoning()
        self._splitter.close()
        out = self._take_output()
        if note:
            out.append(Text(note, style="dim"))
        self._frame.lines = []
        self._write(out)

    # -- painting ------------------------------------------------------------------------

    def _paint_if_stale(self) -> None:
        with self._lock:
            if self._dirty and not self._closed and self._clock() - self._last_paint >= self._interval:
                self._paint()

    def _paint(self) -> None:
        out = self._take_output()
        rows = self._rows()
        if self._phase == _ANSWER and self._splitter.open.fence is not None:
            out.extend(self._code_output(self._splitter.open, final=False, keep=rows - 2))
        if self._interactive:
            self._frame.lines = self._live_lines(rows)
        self._write(out)
        self._last_paint = self._clock()
        self._dirty = False

    def _take_output(self) -> list[RenderableType]:
        """Queued scrollback output plus every block completed since the last paint, then the notices
        once no answer text is left open (so a notice never lands above text that preceded it)."""
        out, self._queue = self._queue, []
        prose: list[Block] = []  # consecutive finished prose blocks, rendered as one markdown source
        for block in self._splitter.pop_done():
            if block.fence is not None:
                out.extend(self._prose_output(prose))
                out.extend(self._code_output(block, final=True))
            else:
                prose.append(block)
            self._blocks_out += 1
            due = self._due_notices(self._blocks_out)
            if due:
                out.extend(self._prose_output(prose))
                out.extend(due)
        out.extend(self._prose_output(prose))
        if not self._answer_open():
            out.extend(self._due_notices(None))
        return out

    def _due_notices(self, blocks_out: int | None) -> list[RenderableType]:
        """The notices due once `blocks_out` blocks are printed (all of them for None)."""
        due = [text for when, text in self._notices if blocks_out is None or when <= blocks_out]
        self._notices = [(when, text) for when, text in self._notices
                         if blocks_out is not None and when > blocks_out]
        return due

    def _answer_open(self) -> bool:
        return bool(self._splitter.open.lines or self._splitter.partial)

    def _write(self, out: list[RenderableType]) -> None:
        """Print `out` above the live region and redraw the region, in a single write."""
        if not self._interactive or (self._live is None and not self._frame.lines):
            if out:
                self._console.print(_Trimmed(Group(*out)), crop=False)
            return
        if self._live is None:
            self._live = Live(self._frame, console=self._console, transient=True, auto_refresh=False)
            self._live.start()
        if out:
            self._console.print(_Trimmed(Group(*out)), crop=False)  # Live's hook erases the old frame, draws the new
        else:
            self._live.refresh()

    def _rows(self) -> int:
        """Height of the live region: the screen minus a margin, so it never overflows."""
        return max(3, self._console.height - 2)

    def _live_lines(self, rows: int) -> list[list[Segment]]:
        """The preview of the open text, cut to its last rows so it always fits the screen."""
        preview = self._preview(rows)
        if preview is None:
            return []
        options = self._console.options.update(height=None)
        return [_trim_line(line) for line in self._console.render_lines(preview, options, pad=False)[-rows:]]

    def _preview(self, rows: int) -> RenderableType | None:
        chars = 2 * rows * self._console.width
        if self._phase == _REASONING:
            tail = self._thought.partial[-chars:]
            return Text(tail, style="dim") if tail else None
        if self._phase == _IDLE:
            return Text(self._waiting, style="dim") if self._waiting else None
        if self._phase != _ANSWER:
            return None
        block, partial = self._splitter.open, self._splitter.partial
        if block.fence is not None:
            return self._code_preview(block, partial, rows)
        source = _tail_source(block.lines, partial, 2 * rows, chars)
        return self._markdown(source) if source.strip() else None

    # -- rendering -----------------------------------------------------------------------

    def _reasoning_lines(self, lines: list[str]) -> list[RenderableType]:
        return [Text("\n".join(lines), style="dim")] if lines else []

    def _markdown(self, source: str) -> _Markdown:
        if self._newline_due:
            source = _NEWLINE_PRIMER + source
        return _Markdown(source, code_theme=self.code_theme)

    def _prose_output(self, blocks: list[Block]) -> list[RenderableType]:
        """Finished prose blocks as one Markdown (their source as it came), and empties `blocks`.

        One render of consecutive blocks is cheaper than one per block and gives the same output,
        as the splitter only cuts where later text cannot change the blocks before the cut."""
        if not blocks:
            return []
        markdown = self._markdown("\n".join(block.text for block in blocks))
        blocks.clear()
        offset = _PRIMER_LINES if self._newline_due else 0
        tops = [t for t in markdown.parsed if t.level == 0 and t.map and t.map[0] >= offset]
        if tops:  # rich puts no blank line after a horizontal rule
            self._newline_due = tops[-1].type != "hr"
        return [markdown]

    def _code_output(self, block: Block, final: bool, keep: int = 0) -> list[RenderableType]:
        """Code lines of a fence block that can go to scrollback now (all of them if final).

        While the fence is open, its last `keep` lines stay in the live region: they fit there,
        and the lookahead lets the lexer settle tokens that span lines (comments, strings).
        """
        start = block.printed
        end = block.code_count if final else _printable_end(block, start, keep)
        if end <= start and not (final and start == 0):
            return []
        out: list[RenderableType] = [Text()] if start == 0 and self._newline_due else []
        out.append(self._code_slice(block, block.code(start, end), start, final=final))
        block.printed = end
        if final:
            self._newline_due = True
        return out

    def _code_preview(self, block: Block, partial: str, rows: int) -> RenderableType:
        start = max(block.printed, block.code_count + bool(partial) - rows)
        lines = block.code(start, block.code_count) + ([partial] if partial else [])
        code = self._code_slice(block, lines, start, final=False)
        return Group(Text(), code) if start == 0 and self._newline_due else code

    def _code_slice(self, block: Block, lines: list[str], start: int, final: bool) -> _CodeSlice:
        """Lines of a code block rendered exactly as rich's Markdown renders the whole block."""
        assert block.fence is not None
        code = "\n".join(lines)
        if final:
            code = code.rstrip()  # as rich's CodeBlock; earlier slices never end the code
        context = "".join(f"{line}\n" for line in block.code(max(0, start - _CONTEXT_LINES), start))
        width = self._console.width - 2
        wrap = any(cell_len(line.expandtabs(_TAB_SIZE)) > width for line in lines)
        return _CodeSlice(
            code,
            self._lexer(block.fence.language),
            context=context,
            theme=_syntax_theme(self.code_theme),
            word_wrap=wrap,  # same output as rich's word_wrap=True when nothing wraps, but faster
            padding=(int(start == 0), 1, int(final), 1),
            tab_size=_TAB_SIZE,
        )

    def _lexer(self, name: str) -> Lexer:
        if name not in self._lexers:
            probe = Syntax("", name, tab_size=_TAB_SIZE)
            self._lexers[name] = probe.lexer or probe.default_lexer
        return self._lexers[name]


@functools.lru_cache(maxsize=4)
def _syntax_theme(name: str) -> SyntaxTheme:
    """One theme object per name, so its token-style cache lasts the whole reply."""
    return Syntax.get_theme(name)


def _printable_end(block: Block, start: int, keep: int) -> int:
    """End of the code lines that may be printed while the fence is open, keeping `keep` back.

    The last non-blank line is always held back: rich strips trailing whitespace from the
    whole block, so only lines followed by more code are final.
    """
    end = block.code_count
    while end > start and is_blank(block.lines[end]):
        end -= 1
    return max(start, min(end - 1, block.code_count - keep))


def _tail_source(lines: list[str], partial: str, max_lines: int, max_chars: int) -> str:
    """The end of an open block's source, bounded, for the live preview."""
    tail = lines[-max_lines:] + ([partial] if partial else [])
    if len(lines) > max_lines and is_table_head(lines):
        tail = lines[:2] + tail  # keep the header so the tail still renders as a table
    source = "\n".join(tail)
    if len(source) > max_chars:
        source = source[-max_chars:]
        source = source[source.find(" ") + 1 :]  # start on a word boundary
    return source
