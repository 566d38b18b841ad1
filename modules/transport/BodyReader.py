"""The body of a provider's reply, read as it arrives with every size bounded: the whole body, what gzip
or deflate expands it to (a 300 KB bomb never becomes gigabytes) and each piece handed on."""
from __future__ import annotations

import codecs
import zlib
from typing import Any, Iterator

from ..base.Errors import ApiError
from ..base.Text import size_text

MAX_BODY_BYTES = 16 * 1024 * 1024  # a whole reply or model list; far above any real one
MAX_ERROR_BODY_BYTES = 256 * 1024  # of an error reply only the start is read: one line is shown
PIECE_BYTES = 64 * 1024
_DECOMPRESSED = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 32 + zlib.MAX_WBITS}


def charset_of(response: Any) -> str:
    """The charset a reply declares, if Python knows it; else UTF-8."""
    declared = response.encoding or "utf-8"
    try:
        codecs.lookup(declared)
    except (LookupError, ValueError):
        return "utf-8"
    return declared


def reply_text(response: Any) -> str:
    """The text of a reply whose body was read already (HttpClient keeps it in `response.content`)."""
    return (response.content or b"").decode(charset_of(response), "replace")


class BodyReader:
    """Reads one requests.Response opened with stream=True; raw network errors pass through unchanged."""

    def __init__(self, response: Any, provider_name: str) -> None:
        self.response = response
        self.provider_name = provider_name
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        self.encoding = "" if encoding in ("", "identity") else encoding

    def pieces(self) -> Iterator[bytes]:
        """The decoded body, at most PIECE_BYTES at a time, each piece as soon as it arrived."""
        if not self.encoding:
            yield from self._raw_pieces()
            return
        wbits = _DECOMPRESSED.get(self.encoding)
        if wbits is None:
            shown = repr(self.encoding) if len(self.encoding) <= 20 else "an unknown way"
            raise ApiError(f"{self.provider_name}: the reply is compressed as {shown}, "
                           "which llmc cannot read (it asks for gzip or deflate only)")
        inflater = zlib.decompressobj(wbits)
        try:
            for data in self._raw_pieces():
                while data and not inflater.eof:
                    yield inflater.decompress(data, PIECE_BYTES)
                    data = inflater.unconsumed_tail
            yield inflater.flush()
        except zlib.error:
            raise ApiError(f"{self.provider_name}: the reply's {self.encoding} data is corrupt") from None

    def read(self, limit: int = MAX_BODY_BYTES, cut: bool = False) -> bytes:
        """The whole decoded body; past `limit` bytes ApiError naming the limit, or (`cut`) the first `limit`."""
        data = bytearray()
        finished = False
        try:
            for piece in self.pieces():
                data += piece
                if len(data) > limit:
                    if cut:
                        return bytes(data[:limit])
                    raise ApiError(f"{self.provider_name}: the reply is larger than {size_text(limit)}, the most "
                                   "llmc reads; it was not read further")
            finished = True
            return bytes(data)
        finally:
            self._release(finished)

    def text(self, limit: int = MAX_BODY_BYTES, cut: bool = False) -> str:
        """The body as text in its declared charset (UTF-8 when none or an unknown one)."""
        return self.read(limit, cut).decode(charset_of(self.response), "replace")

    def _raw_pieces(self) -> Iterator[bytes]:
        raw = self.response.raw
        if raw.chunked and raw.supports_chunked_reads():
            yield from raw.read_chunked(PIECE_BYTES, decode_content=False)  # a huge chunk arrives in pieces
            return
        while True:
            data = raw.read1(PIECE_BYTES, decode_content=False)
            if not data:
                return
            yield data

    def _release(self, finished: bool) -> None:
        """A body read to its end gives the connection back for reuse; any other is closed."""
        release = getattr(self.response.raw, "release_conn", None)
        if finished and release is not None:
            release()
        else:
            self.response.close()
