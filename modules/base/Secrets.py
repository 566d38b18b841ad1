"""How keys are kept out of text: one rule for every message that may hold a provider's words or a URL."""
from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Iterable, List, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

from .Text import one_line

MIN_SECRET_LENGTH = 8  # shorter "keys" ("none", "local") are placeholders; masking them garbles text
ECHO_FRAGMENT = 6  # this many characters of a key in a row count as an echo of it (its last 4 are shown by /config)
MASK = "********"
_KEY_SHAPED = re.compile(r"\bsk-[A-Za-z0-9_\-*]{6,}")
_URL_SECRETS = re.compile(r"(?<=://)[^/@\s]*@|\?[^\s#]*")
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
    """The parts of a URL that may hold a key: its password and its query."""
    found = [match.group().strip("@?") for match in _URL_SECRETS.finditer(url)]
    found += _PASSWORD_SHAPED.findall(url)
    try:
        parts = urlsplit(url)
        found += [parts.password or "", parts.query]
    except ValueError:
        pass
    return tuple(part for part in found if part)


def mask_key(key: str) -> str:
    """`********` and the key's last 4 characters (none of a key too short to spare them)."""
    key = key.strip()
    return MASK + (key[-4:] if len(key) >= MIN_SECRET_LENGTH else "")


def mask_url(url: str) -> str:
    """`url` with a password in it and its query string (where keys hide) masked; also for a URL that
    does not parse."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        masked = _URL_SECRETS.sub(lambda m: MASK + "@" if m.group().endswith("@") else "?" + MASK, url)
    else:
        netloc = parts.netloc
        if password is not None:
            netloc = netloc.replace(f":{password}@", f":{MASK}@", 1)
        masked = urlunsplit(parts._replace(netloc=netloc, query=MASK if parts.query else ""))
    return _PASSWORD_SHAPED.sub(f":{MASK}@", masked)


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
