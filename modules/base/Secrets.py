"""How keys are kept out of text: one rule for every message that may hold a provider's words or a URL."""
from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Iterable, List, Sequence, Tuple

from .Text import one_line

MIN_SECRET_LENGTH = 8  # shorter "keys" ("none", "local") are placeholders; masking them garbles text
ECHO_FRAGMENT = 6  # this many characters of a key in a row count as an echo of it (its last 4 are shown by /config)
MASK = "********"
_KEY_SHAPED = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_KNOWN_KEYS: List[str] = []
_PASSWORD_SHAPED = re.compile(r":([^:/@\s]+)@")  # ":secret@", also where a URL does not parse as one
HELD_CHARS = 256  # a streamed run with no space in it longer than this is passed on but for its tail
LONGEST_KEY_SHAPE = 1024  # an sk-… run longer than this is no key: a stream may pass it on in parts


def redact(text: str, *secrets: str) -> str:
    """`text` with each secret, any run of ECHO_FRAGMENT or more of its characters (a provider's partial
    echo such as `key[:-4]****`) and anything shaped like an API key masked."""
    spans = [span for secret in StreamMasker._usable(secrets) for span in _echo_spans(text, secret)]
    return _KEY_SHAPED.sub(MASK, _mask_spans(text, spans))


def remember_keys(keys: Iterable[str]) -> None:
    """Keys this run loaded from files, for without_known_keys."""
    _KNOWN_KEYS.extend(key for key in keys if key)


def known_keys() -> List[str]:
    """Every key this run may know of: `*_API_KEY` variables and remembered keys."""
    return [value for name, value in os.environ.items() if name.endswith("_API_KEY") and value] + _KNOWN_KEYS


def without_known_keys(text: str) -> str:
    """`text` with every key this run may know of masked."""
    return redact(text, *known_keys())


class StreamMasker:
    """Masks keys in text that arrives in pieces (a streamed reply) as redact masks them in one piece:
    the last word is held back until the next space, as it may go on into a key."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = tuple(secrets)
        self._held = ""

    def feed(self, text: str) -> str:
        """The part of the text so far that is safe to show now, masked."""
        text = self._held + text
        cut = len(text) - len(text.rsplit(None, 1)[-1]) if text and not text[-1].isspace() else len(text)
        if len(text) - cut > HELD_CHARS:  # no space for long: pass it on but for a tail no key spans
            cut = self._cut_outside_keys(text, len(text) - HELD_CHARS)
        self._held = text[cut:]
        return redact(text[:cut], *self._secrets) if cut else ""

    def close(self) -> str:
        """What is still held, masked: the end of the stream."""
        held, self._held = self._held, ""
        return redact(held, *self._secrets) if held else ""

    def _cut_outside_keys(self, text: str, cut: int) -> int:
        """`cut`, moved back to the start of any key or echo of one that spans it."""
        spans = [span for secret in self._usable(self._secrets) for span in _echo_spans(text, secret)]
        spans += [match.span() for match in _KEY_SHAPED.finditer(text)
                  if match.end() - match.start() <= LONGEST_KEY_SHAPE]
        for start, end in sorted(spans, reverse=True):
            if start < cut <= end:
                cut = start
        return cut

    @staticmethod
    def _usable(secrets: Sequence[str]) -> List[str]:
        return [secret.strip() for secret in secrets if len((secret or "").strip()) >= MIN_SECRET_LENGTH]


def safe_line(text: str, *secrets: str, limit: int = 300) -> str:
    """`text` redacted first, then made one printable line cut to `limit`: cutting never leaves a key's remnant."""
    return one_line(redact(text, *secrets), limit)


def url_secrets(url: str) -> tuple:
    """The parts of a URL that may hold a key: its user information (a password, or a token as the user
    name), its query and its fragment; also for a URL that does not parse."""
    _, userinfo, _, tail = _url_parts(url)
    found = [userinfo, userinfo.partition(":")[2], tail[1:]]
    found += _PASSWORD_SHAPED.findall(url)
    return tuple(dict.fromkeys(part for part in found if part))


def mask_key(key: str) -> str:
    """`********` and the key's last 4 characters (none of a key too short to spare them)."""
    key = key.strip()
    return MASK + (key[-4:] if len(key) >= MIN_SECRET_LENGTH else "")


def mask_url(url: str) -> str:
    """`url` with its password (or a user-name token), query and fragment masked, the user name of a
    user:password kept; the same for text that does not parse as a URL (a malformed port or host)."""
    scheme, userinfo, rest, tail = _url_parts(url)
    if userinfo:
        user, has_password, _ = userinfo.partition(":")
        userinfo = (f"{user}:{MASK}" if has_password and user else MASK) + "@"
    if tail:
        tail = tail[0] + MASK
    return _PASSWORD_SHAPED.sub(f":{MASK}@", scheme + userinfo + rest + tail)


def _url_parts(url: str) -> tuple:
    """(`scheme://`, user information, host and path, `?query` or `#fragment`) of a URL, read as text:
    the user information runs to the last `@` before the query, so a password holding `/` or `:` is
    all in it (urlsplit would take part of it for the path)."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    cut = min((i for i in (url.find("?", start), url.find("#", start)) if i != -1), default=len(url))
    at = url.rfind("@", start, cut)
    if at == -1:
        return url[:start], "", url[start:cut], url[cut:]
    return url[:start], url[start:at], url[at + 1:cut], url[cut:]


def mask_urls_in(text: str) -> str:
    """`text` with every word that may be (part of) a URL passed through mask_url: one with `://`, `@`, `?`
    or `#` in it (a URL cut in two by a space leaves its query in the second word)."""
    return re.sub(r"\S*[:@?#]\S*", lambda match: mask_url(match.group()), text)


def _echo_spans(text: str, secret: str) -> list:
    """(start, end) of every place where ECHO_FRAGMENT characters of `secret` appear in a row."""
    spans = []
    for fragment in _fragments(secret):
        start = text.find(fragment)
        while start != -1:
            spans.append((start, start + ECHO_FRAGMENT))
            start = text.find(fragment, start + 1)
    return spans


@lru_cache(maxsize=64)
def _fragments(secret: str) -> Tuple[str, ...]:
    """Every run of ECHO_FRAGMENT characters of `secret`, each once."""
    return tuple({secret[i:i + ECHO_FRAGMENT] for i in range(len(secret) - ECHO_FRAGMENT + 1)})


def _mask_spans(text: str, spans: list) -> str:
    """`text` with each run of overlapping or touching spans replaced by one MASK."""
    if not spans:
        return text
    pieces: List[str] = []
    position = 0
    for start, end in sorted(spans):
        if start > position or not pieces:
            pieces.append(text[position:start])
            pieces.append(MASK)
        position = max(position, end)
    pieces.append(text[position:])
    return "".join(pieces)


def api_key_variable(provider_name: str) -> str:
    """Environment variable that holds a provider's key, e.g. OPENAI_API_KEY."""
    return re.sub(r"[^A-Za-z0-9]", "_", provider_name).upper() + "_API_KEY"
