"""A file handed to the model with a prompt: text with its file name, or an image as a data URI."""
from __future__ import annotations

import base64
import codecs
import re
from pathlib import Path
from typing import List, NamedTuple, Optional, Union

from ..base.Errors import ApiError, ConfigError
from ..base.SafeFiles import read_regular_file

MAX_TEXT_BYTES = 1024 * 1024  # about 250,000 tokens: more than most models' whole context
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # OpenAI's limit for one image
IMAGE_SIGNATURES = (  # (magic bytes at offset 0, MIME type); WebP is RIFF....WEBP, checked apart
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
Content = Union[str, List[dict]]
NOT_ABOUT_IMAGES = {401, 402, 403, 404, 408, 429}  # refusals that say nothing of the message


def image_type(data: bytes) -> Optional[str]:
    """The MIME type of a PNG, JPEG, GIF or WebP image by its magic bytes, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in IMAGE_SIGNATURES if data.startswith(magic)), None)


class Attachment(NamedTuple):
    """One file's name and what goes to the model: its text, or an image's data URI."""

    name: str
    text: Optional[str] = None
    image_url: Optional[str] = None

    @classmethod
    def read(cls, path_text: str) -> "Attachment":
        """The file at `path_text`; ConfigError naming it if it is missing, too large or binary."""
        path = Path(path_text).expanduser()
        data = read_regular_file(path, "file to attach", MAX_IMAGE_BYTES)
        if data is None:
            raise ConfigError(f"{path}: no such file to attach")
        return cls.of_bytes(data, path)

    @classmethod
    def of_bytes(cls, data: bytes, path: Path) -> "Attachment":
        """What the bytes of the file at `path` send: an image, else text; ConfigError for binary or
        too large text."""
        mime = image_type(data)
        if mime:
            encoded = base64.b64encode(data).decode("ascii")
            return cls(path.name, image_url=f"data:{mime};base64,{encoded}")
        if len(data) > MAX_TEXT_BYTES:
            raise ConfigError(f"{path}: too large to attach as text (more than {MAX_TEXT_BYTES:,} bytes)")
        return cls(path.name, text=_text_of(data, path))

    @property
    def size_text(self) -> str:
        """`text, 1,234 characters` or `image/png`."""
        if self.text is not None:
            return f"text, {len(self.text):,} characters"
        return (self.image_url or "").split(";", 1)[0].removeprefix("data:")

    def text_block(self) -> str:
        """The file's text fenced, under its file name."""
        text, fence = self.text or "", "```"
        while fence in text:
            fence += "`"
        return f"File {self.name}:\n{fence}\n{text.rstrip(chr(10))}\n{fence}"


def _text_of(data: bytes, path: Path) -> str:
    """UTF-8 text (a BOM dropped); ConfigError for a binary file that is not an image either."""
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise ConfigError(f"{path}: a binary file, not text nor a PNG, JPEG, GIF or WebP image; "
                          "nothing sent")
    return text


_FIRST_TEXT_BLOCK = re.compile(r"(?:\A|\n\n)File [^\n]+:\n```")  # where text_block's output starts


def typed_prompt(text: str) -> str:
    """What the user typed of a message's text: the text files message_content added after it left out."""
    found = _FIRST_TEXT_BLOCK.search(text)
    return text[: found.start()] if found else text


def _first_text(parts: List[dict]) -> Optional[int]:
    """Where the first text part of a message's content parts stands (what the user typed starts it)."""
    return next((i for i, part in enumerate(parts) if part.get("type") == "text"), None)


def prompt_of(content: Content) -> str:
    """What the user typed of a message: its first text without the files attached to it."""
    if isinstance(content, str):
        return typed_prompt(content)
    first = _first_text(content)
    return typed_prompt(content[first]["text"] if first is not None else "")


def with_prompt(content: Content, prompt: str) -> Content:
    """`content` with `prompt` in place of what the user typed: the files attached to it kept as they were."""
    if isinstance(content, str):
        return prompt + content[len(typed_prompt(content)):]
    first = _first_text(content)
    if first is None:
        return [{"type": "text", "text": prompt}, *content]
    return [*content[:first], {**content[first], "text": with_prompt(content[first]["text"], prompt)},
            *content[first + 1:]]


def message_content(prompt: str, attachments: List[Attachment]) -> Content:
    """A user message's content: the prompt then the text files (one text), images as content parts."""
    return with_attachments(prompt, attachments)


def with_attachments(content: Content, attachments: List[Attachment]) -> Content:
    """`content` with more files: text files after its first text, images as parts after its own."""
    blocks = [a.text_block() for a in attachments if a.text is not None]
    images = [a for a in attachments if a.image_url is not None]
    if isinstance(content, str):
        text = "\n\n".join([content, *blocks])
        if not images:
            return text
        parts: List[dict] = [{"type": "text", "text": text}]
    else:
        parts = list(content)
        first = _first_text(parts)
        if first is None:
            parts[:0] = [{"type": "text", "text": "\n\n".join(blocks)}] if blocks else []
        elif blocks:
            parts[first] = {**parts[first], "text": "\n\n".join([parts[first]["text"], *blocks])}
    for image in images:
        parts.append({"type": "text", "text": f"Image {image.name}:"})
        parts.append({"type": "image_url", "image_url": {"url": image.image_url}})
    return parts


def content_text(content: Content) -> str:
    """The text of a message's content; an image part reads `[image]`."""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") if part.get("type") == "text" else "[image]" for part in content)


def is_content_parts(content: object) -> bool:
    """True for a list of text parts and image parts with a URL, as a saved chat may hold."""
    return isinstance(content, list) and bool(content) and all(
        isinstance(part, dict) and (
            (part.get("type") == "text" and isinstance(part.get("text"), str))
            or (part.get("type") == "image_url" and isinstance(part.get("image_url"), dict)
                and isinstance(part["image_url"].get("url"), str)))
        for part in content)


def has_image(content: Content) -> bool:
    """True when a message's content holds an image part."""
    return isinstance(content, list) and any(part.get("type") == "image_url" for part in content)



def image_refusal(error: ApiError, model: str) -> ApiError:
    """`error` (a provider's refusal of a message holding an image) told as the model's refusal of images."""
    if error.status is None or not 400 <= error.status < 500 or error.status in NOT_ABOUT_IMAGES:
        return error
    return ApiError(f"{model} refused the message with an image (does it take images?): {error}",
                    status=error.status)
