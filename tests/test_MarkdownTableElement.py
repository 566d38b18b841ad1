"""Tests for modules/MarkdownTableElement.py: tables drawn exactly as rich's Table draws them."""

import io
import random

import pytest
from rich.console import Console
from rich.markdown import Markdown

from llmc.render.MarkdownTableElement import MarkdownTableElement


class FastTableMarkdown(Markdown):
    elements = {**Markdown.elements, "table_open": MarkdownTableElement}


_CELLS = ["", "x", "word", "two words", "**bold**", "*em* text", "`code`", "[link](https://e.com)", "名前",
          "emoji 🚀", "a \\| pipe", "~~gone~~", "1234567890", "long cell " * 3, "trailing  ", "<b>html</b>"]


def cells(console: Console, markdown: Markdown) -> list:
    """Every screen cell of the render as (character, style without its link id), line by line."""
    return [[(char, str(segment.style or "")) for segment in line for char in segment.text]
            for line in console.render_lines(markdown, console.options)]


def random_table(rnd: random.Random) -> str:
    columns = rnd.randint(1, 5)
    rows = [[rnd.choice(_CELLS) for _ in range(columns)] for _ in range(rnd.randint(0, 4) + 1)]
    delimiter = [rnd.choice(["---", ":--", "--:", ":-:"]) for _ in range(columns)]
    return "\n".join("| " + " | ".join(row) + " |" for row in [rows[0], delimiter, *rows[1:]])


@pytest.mark.parametrize("seed", range(300))
def test_a_table_is_drawn_as_richs_table_draws_it(seed):
    rnd = random.Random(seed)
    source = random_table(rnd)
    console = Console(file=io.StringIO(), force_terminal=True, width=rnd.choice([12, 30, 60, 100]),
                      color_system="truecolor")
    assert cells(console, FastTableMarkdown(source)) == cells(console, Markdown(source))


def test_a_table_too_wide_for_the_screen_is_left_to_rich():
    source = "| a | b |\n|---|---|\n| " + "wide " * 30 + " | x |"
    console = Console(file=io.StringIO(), force_terminal=True, width=40)
    rendered = cells(console, FastTableMarkdown(source))
    assert rendered == cells(console, Markdown(source)) and len(rendered) > 6  # wrapped by rich


def test_an_ascii_console_keeps_richs_ascii_box():
    source = "| a | b |\n|---|---|\n| 1 | 2 |"
    console = Console(file=io.StringIO(), force_terminal=True, width=40)
    options = console.options.update()
    options.encoding = "ascii"  # a terminal that is not UTF-8
    fast = [[(c, str(s.style)) for s in line for c in s.text] for line in console.render_lines(FastTableMarkdown(source), options)]
    slow = [[(c, str(s.style)) for s in line for c in s.text] for line in console.render_lines(Markdown(source), options)]
    assert fast == slow and "-" in "".join(c for line in fast for c, _ in line)
