"""A markdown table as rich draws it, laid out directly when every cell fits on its line."""

from __future__ import annotations

from typing import Iterator, List, Optional

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.containers import Lines
from rich.markdown import TableElement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

__all__ = ["MarkdownTableElement"]


class MarkdownTableElement(TableElement):
    """rich's markdown table element; when no cell needs wrapping it yields the segments rich's Table
    would, without Table's general measuring and padding of every cell (most of a table's cost)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for table in super().__rich_console__(console, options):
            segments = _unwrapped_segments(table, console, options) if isinstance(table, Table) else None
            if segments is None:
                yield table
            else:
                yield from segments


def _is_markdown_layout(table: Table, options: ConsoleOptions) -> bool:
    """True for the table rich's Markdown builds, drawn with its own box characters."""
    return (table.box is box.SIMPLE and not table.pad_edge and table.collapse_padding and table.show_edge
            and table.show_header and not table.show_footer and not table.show_lines and not table.leading
            and not table.expand and table.width is None and table.min_width is None and not table.title
            and not table.caption and not table.row_styles and table.padding == (0, 1, 0, 1)
            and not options.ascii_only and not options.legacy_windows and bool(table.columns))


def _unwrapped_segments(table: Table, console: Console, options: ConsoleOptions) -> Optional[List[Segment]]:
    """The table's segments if it is rich's markdown layout and fits unwrapped, else None."""
    if not _is_markdown_layout(table, options):
        return None
    columns = table.columns
    rows: List[List[Text]] = [[column.header for column in columns]]  # type: ignore[misc]
    rows += [list(cells) for cells in zip(*(column.cells for column in columns))]
    if not all(isinstance(cell, Text) and "\n" not in cell.plain and "\t" not in cell.plain
               for row in rows for cell in row):
        return None
    pads = [1] * (len(columns) - 1) + [0]  # collapsed padding: one space after each cell but the last
    widths = [max(cell_len(row[i].plain) + pads[i] for row in rows) or 1 for i in range(len(columns))]
    if sum(widths) > options.max_width - (len(columns) + 1):
        return None  # rich shares out the width and wraps cells
    return list(_segments(table, console, options, rows, widths, pads))


def _segments(table: Table, console: Console, options: ConsoleOptions, rows: List[List[Text]], widths: List[int],
              pads: List[int]) -> Iterator[Segment]:
    """The lines rich's Table._render draws for the markdown layout, every cell on one line."""
    get_style = console.get_style
    border = get_style(table.style or "") + get_style(table.border_style or "")
    edges = table.box.substitute(options)  # type: ignore[union-attr]
    line = Segment.line()
    yield Segment(edges.get_top(widths), border)
    yield line
    for index, cells in enumerate(rows):
        if index == 0:
            left, right, divider = edges.head_left, edges.head_right, edges.head_vertical
            row_style = Style.null()
        else:
            last = index == len(rows) - 1
            left, right, divider = ((edges.foot_left, edges.foot_right, edges.foot_vertical) if last
                                    else (edges.mid_left, edges.mid_right, edges.mid_vertical))
            row_style = get_style(table.get_row_style(console, index - 1))
        divider_style = border if divider.strip() else row_style.background_style + border
        yield Segment(left, border)
        for column_index, (cell, column) in enumerate(zip(cells, table.columns)):
            if column_index:
                yield Segment(divider, divider_style)
            cell_style = (get_style(table.header_style or "") + get_style(column.header_style) if index == 0
                          else get_style(column.style or "")) + row_style
            yield from _cell(console, cell, column.justify, widths[column_index], pads[column_index], cell_style)
        yield Segment(right, border)
        yield line
        if index == 0:
            yield Segment(edges.get_row(widths, "head", edge=True), border)
            yield line
    yield Segment(edges.get_bottom(widths), border)
    yield line


def _cell(console: Console, text: Text, column_justify: str, width: int, pad: int, style: Style) -> Iterator[Segment]:
    """One cell's line: its text justified as rich's Text would, padded to `width` in `style`."""
    content = text.copy()
    justify = text.justify or column_justify or "default"
    lines = Lines([content])
    lines.justify(console, width - pad, justify=justify, overflow=text.overflow or "fold")  # type: ignore[arg-type]
    content = lines[0]
    segments = list(content.render(console, end=""))
    if style:
        segments = list(Segment.apply_style(segments, style))
    yield from segments
    used = cell_len(content.plain)
    if used < width:
        yield Segment(" " * (width - used), style)
