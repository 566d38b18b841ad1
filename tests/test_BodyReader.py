"""BodyReader: bodies, decompressed sizes and pieces are bounded; gzip and deflate undone here."""
from __future__ import annotations

import gzip
import zlib

import pytest
import requests
import responses

from llmc.transport.BodyReader import MAX_BODY_BYTES, PIECE_BYTES, BodyReader, reply_text, size_text
from llmc.base.Errors import ApiError

URL = "http://127.0.0.1:9/v1/models"


def reader(body: bytes, **headers: str) -> BodyReader:
    with responses.RequestsMock() as mock:
        mock.get(URL, body=body, headers=headers, auto_calculate_content_length=True)
        return BodyReader(requests.get(URL, stream=True), "evil")


def bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(packer.compress(bytes(1 << 20)) for _ in range(size >> 20)) + packer.flush()


def test_plain_gzip_and_deflate_bodies_read_the_same() -> None:
    data = b'{"data": []}' * 1000
    assert reader(data).read() == data
    assert reader(gzip.compress(data), **{"Content-Encoding": "gzip"}).read() == data
    assert reader(zlib.compress(data), **{"Content-Encoding": "deflate"}).read() == data


def test_a_gzip_bomb_is_expanded_piece_by_piece_and_refused_at_the_limit() -> None:
    body = reader(bomb(64 << 20), **{"Content-Encoding": "gzip"})
    assert max(len(piece) for piece in body.pieces()) <= PIECE_BYTES
    with pytest.raises(ApiError, match=r"^evil: the reply is larger than 16 MB, the most llmc reads"):
        reader(bomb(64 << 20), **{"Content-Encoding": "gzip"}).read()


def test_an_error_body_is_cut_not_refused() -> None:
    assert len(reader(b"x" * 5000).read(limit=100, cut=True)) == 100


def test_corrupt_or_unknown_compression_is_one_clear_error() -> None:
    with pytest.raises(ApiError, match="^evil: the reply's gzip data is corrupt$"):
        reader(b"\x1f\x8bnot gzip at all", **{"Content-Encoding": "gzip"}).read()
    with pytest.raises(ApiError, match="^evil: the reply is compressed as 'zstd', which llmc cannot read"):
        reader(b"x", **{"Content-Encoding": "zstd"}).read()


def test_an_unknown_charset_falls_back_to_utf8() -> None:
    with responses.RequestsMock() as mock:
        mock.get(URL, body="héllo".encode(), content_type="text/plain; charset=no-such-charset")
        response = requests.get(URL)
    assert reply_text(response) == "héllo"


def test_sizes_read_as_units() -> None:
    assert size_text(MAX_BODY_BYTES) == "16 MB" and size_text(256 * 1024) == "256 KB" and size_text(12) == "12 bytes"
