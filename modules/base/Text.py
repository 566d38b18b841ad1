"""Text as llmc shows it: one printable line, a size in words."""
from .Terminal import visible_text


def one_line(text: str, limit: int = 300) -> str:
    """`text` as one printable line: whitespace runs as single spaces, control characters made
    visible, cut to `limit` characters."""
    text = visible_text(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size_text(size: int) -> str:
    """`size` bytes in the largest whole unit: "16 MB", "256 KB"."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"
