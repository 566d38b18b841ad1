"""Tests for modules/MarkdownBlockSplitter.py: top-level blocks of a streamed reply."""

import itertools
import random

import pytest

from llmc.render.MarkdownBlockSplitter import BlockSplitter, LineAssembler, starts_top_level_block
from tests.markdown_samples import SAMPLE, chunked, random_sizes


def split(text: str, sizes=None) -> list[str]:
    splitter = BlockSplitter()
    for chunk in chunked(text, sizes) if sizes else [text]:
        splitter.feed(chunk)
    splitter.close()
    return [block.text.rstrip("\n") for block in splitter.pop_done()]


def test_blank_line_outside_fence_splits():
    assert split("one\ntwo\n\nthree\n") == ["one\ntwo", "three"]


def test_blank_lines_inside_fence_do_not_split():
    text = "```python\nx = 1\n\n\ny = 2\n```\nafter\n"
    assert split(text) == ["```python\nx = 1\n\n\ny = 2\n```", "after"]


def test_tilde_fence_is_not_closed_by_backticks():
    text = "~~~\na\n```\n\nb\n~~~\n\nafter\n"
    assert split(text) == ["~~~\na\n```\n\nb\n~~~", "after"]


def test_long_fence_closes_only_with_as_many_backticks():
    text = "````md\n```js\nx\n\n```\n\nstill code\n````\n\nafter\n"
    assert split(text) == ["````md\n```js\nx\n\n```\n\nstill code\n````", "after"]
    assert split("````\ncode\n\n`````\ntext\n") == ["````\ncode\n\n`````", "text"]


def test_fence_marks_block_as_code_with_language():
    splitter = BlockSplitter()
    splitter.feed("Here:\n```py extra\nx = 1\n```\nafter\n")
    splitter.close()
    para, code, after = splitter.pop_done()
    assert (para.fence, after.fence) == (None, None)
    assert code.fence.language == "py" and code.closed and code.code(0, 9) == ["x = 1"]


def test_loose_list_stays_one_block_until_unindented_text():
    text = "- a\n\n- b\n\n  more of b\n\n1. c\n\n2. d\n\nafter\n"
    assert split(text) == ["- a\n\n- b\n\n  more of b\n\n1. c\n\n2. d", "after"]


def test_list_item_with_nested_fence_and_blank_lines_is_kept_whole():
    text = "1. a\n   ```\n   x\n\n   y\n   ```\n2. b\n\nafter\n"
    assert split(text) == ["1. a\n   ```\n   x\n\n   y\n   ```\n2. b", "after"]


def test_table_ends_at_blank_line_and_rows_stay_together():
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\nafter\n"
    assert split(text) == ["| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |", "after"]


def test_block_quote_continued_after_blank_line_stays_whole():
    assert split("> a\n\n> b\n\nafter\n") == ["> a\n\n> b", "after"]


def test_indented_line_after_blank_is_kept_with_the_block():
    assert split("para\n\n    code\n\nnext\n") == ["para\n\n    code", "next"]


def test_headings_split_without_blank_lines():
    assert split("# Title\ntext\n## Sub\nmore\n") == ["# Title", "text", "## Sub", "more"]


def test_html_block_with_blank_line_is_confirmed_by_the_parser():
    # The blank line inside <pre> looks like a boundary; markdown-it says it is not one.
    assert split("<pre>\n\nx\n</pre>\n\nafter\n") == ["<pre>\n\nx\n</pre>", "after"]


def test_split_is_independent_of_chunking_and_line_endings():
    expected = split(SAMPLE)
    assert split(SAMPLE, itertools.repeat(1)) == expected
    assert split(SAMPLE, random_sizes()) == expected
    assert split(SAMPLE.replace("\n", "\r\n"), itertools.repeat(3)) == expected


def test_unclosed_fence_is_flushed_at_close():
    assert split("text\n\n```py\nx = 1") == ["text", "```py\nx = 1"]


class _ParserConfirmsEveryCut(BlockSplitter):
    def _surely_starts_block(self, line: str) -> bool:
        return False


_LINES = ["", "", "text line", "more *text*", "- item", "  - nested", "1. first", "> quote", "> ## quoted heading",
          "# Heading", "## Sub", "```", "```py", "~~~", "    indented code", "| a | b |", "|---|---|", "| 1 | 2 |",
          "---", "***", "<div>", "</div>", "<pre>", "</pre>", "<!-- c", "-->", "<?php", "?>", "<![CDATA[", "]]>",
          "<script>", "</script>", "text <b>x</b>", "[ref]: /url", "[link](/x) text", "\"title\"",
          "+ plus", "2) paren", "<custom-tag>", "  > nested quote", "  ```", "     ```", "<textarea>", "</style>",
          "[x]: <url>", "  [y]: /u 'title'", "   ~~~", "> ```", "> <pre>", "- <!--", "  -->", "\t```", "~~~~", "  continued", "===", "\t- tab item"]


@pytest.mark.parametrize("seed", range(500))
def test_cuts_taken_without_the_parser_are_the_cuts_it_would_make(seed):
    rnd = random.Random(seed)
    text = "\n".join(rnd.choice(_LINES) for _ in range(rnd.randint(1, 40))) + "\n"
    confirmed = _ParserConfirmsEveryCut()
    for splitter in (confirmed, fast := BlockSplitter()):
        splitter.feed(text)
        splitter.close()
    assert [b.lines for b in fast.pop_done()] == [b.lines for b in confirmed.pop_done()]


def test_starts_top_level_block():
    assert starts_top_level_block(["para", ""], "next")
    assert not starts_top_level_block(["- a", ""], "- b")
    assert starts_top_level_block(["para"], "```")
    assert not starts_top_level_block(["para"], "more para")


def test_line_assembler_joins_chunks_into_lines():
    assembler = LineAssembler()
    assert assembler.feed("ab") == [] and assembler.feed("c\r\nde\nf") == ["abc", "de"]
    assert assembler.partial == "f" and assembler.flush() == ["f"] and assembler.partial == ""
