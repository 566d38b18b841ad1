"""Attachment: text files with their names, images by magic bytes as data URIs, and the bad files."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from llmc.store.Attachment import (MAX_TEXT_BYTES, Attachment, content_text, has_image, image_refusal, image_type,
                             message_content, prompt_of, with_attachments, with_prompt)
from llmc.base.Errors import ApiError, ConfigError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
GIF = b"GIF89a" + b"\x01\x00" * 8
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 16


@pytest.mark.parametrize("data, mime", [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"),
                                        (b"GIF87a" + b"\x00" * 8, "image/gif"), (WEBP, "image/webp"),
                                        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None), (b"hello", None), (b"", None)])
def test_image_type_by_magic_bytes(data: bytes, mime) -> None:
    assert image_type(data) == mime


def test_a_text_file_goes_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(b"\xef\xbb\xbf# Notes\nuse ``` fences\n")
    attachment = Attachment.read(str(path))
    assert attachment.text == "# Notes\nuse ``` fences\n" and attachment.image_url is None
    assert attachment.text_block() == "File notes.md:\n````\n# Notes\nuse ``` fences\n````"
    assert message_content("summarize", [attachment]) == "summarize\n\n" + attachment.text_block()


def test_an_image_goes_as_a_data_uri_in_content_parts(tmp_path: Path) -> None:
    (tmp_path / "shot.png").write_bytes(PNG)
    (tmp_path / "a.txt").write_text("text")
    image, text = Attachment.read(str(tmp_path / "shot.png")), Attachment.read(str(tmp_path / "a.txt"))
    assert image.image_url == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert image.size_text == "image/png" and text.size_text == "text, 4 characters"
    content = message_content("describe", [image, text])
    assert content == [{"type": "text", "text": "describe\n\n" + text.text_block()},
                       {"type": "text", "text": "Image shot.png:"},
                       {"type": "image_url", "image_url": {"url": image.image_url}}]
    assert has_image(content) and not has_image("text")
    assert content_text(content) == f"describe\n\n{text.text_block()}\nImage shot.png:\n[image]"


def test_bad_files_are_refused_naming_the_file_and_the_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.txt: no such file to attach"):
        Attachment.read(str(tmp_path / "missing.txt"))
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(ConfigError, match=r"big.log: too large to attach as text \(more than 1,048,576 bytes\)"):
        Attachment.read(str(big))
    binary = tmp_path / "prog.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe")
    with pytest.raises(ConfigError, match=r"prog.bin: a binary file, not text nor a PNG, JPEG, GIF or WebP image"):
        Attachment.read(str(binary))
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"abc\x00def")
    with pytest.raises(ConfigError, match="nul.txt: a binary file"):
        Attachment.read(str(nul))
    with pytest.raises(ConfigError, match="is a directory"):
        Attachment.read(str(tmp_path))


def test_a_refusal_of_a_message_with_an_image_names_the_model() -> None:
    refused = image_refusal(ApiError("fake: API request failed with status code 400.", status=400), "fake/m")
    assert str(refused) == ("fake/m refused the message with an image (does it take images?): "
                            "fake: API request failed with status code 400.")
    for status in (None, 401, 429, 500):
        error = ApiError("other", status=status)
        assert image_refusal(error, "fake/m") is error


def test_an_edited_prompt_keeps_the_files_attached_to_it(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("line one\n")
    (tmp_path / "dot.png").write_bytes(PNG)
    text_file, image = Attachment.read(str(tmp_path / "notes.txt")), Attachment.read(str(tmp_path / "dot.png"))
    for attached in ([], [text_file], [image], [text_file, image]):
        content = message_content("what is this?", attached)
        assert prompt_of(content) == "what is this?"
        assert with_prompt(content, "and this?") == message_content("and this?", attached)
    assert with_prompt([{"type": "image_url", "image_url": {"url": "u"}}], "p") == [
        {"type": "text", "text": "p"}, {"type": "image_url", "image_url": {"url": "u"}}]


def test_files_attached_later_join_a_message_after_its_own(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("first file\n")
    (tmp_path / "b.txt").write_text("second file\n")
    (tmp_path / "dot.png").write_bytes(PNG)
    a, b, image = (Attachment.read(str(tmp_path / name)) for name in ("a.txt", "b.txt", "dot.png"))
    for earlier, later in (([], [a]), ([a], [b]), ([a], [image]), ([image], [a]), ([a, image], [b, image])):
        joined = with_attachments(message_content("what changed?", earlier), later)
        assert joined == message_content("what changed?", earlier + later)  # as if all came at once
        assert prompt_of(joined) == "what changed?"
    assert with_attachments("p", []) == "p"
    assert with_attachments([{"type": "image_url", "image_url": {"url": "u"}}], [a]) == [
        {"type": "text", "text": a.text_block()}, {"type": "image_url", "image_url": {"url": "u"}}]
