"""Secrets: keys and key-bearing URL parts are masked before any text is cut, partial echoes included."""
from __future__ import annotations

import pytest

from llmc.base.Secrets import ECHO_FRAGMENT, mask_url, mask_urls_in, redact, safe_line, url_secrets

KEY = "K9QxZ7wLm2VbT4nRk8HcJ5pYd3FgA6sEuW1q"  # 36 characters, no "sk-": only the echo rule finds it


def key_characters_in(text: str) -> int:
    """The longest run of the key's characters, in order, that `text` holds."""
    return max((n for n in range(1, len(KEY) + 1) for i in range(len(KEY) - n + 1) if KEY[i:i + n] in text),
               default=0)


@pytest.mark.parametrize("echo", [KEY, KEY[:-4] + "****", "****" + KEY[-12:], KEY[5:25], f"{KEY[:18]} {KEY[18:]}"])
def test_partial_echoes_of_the_key_are_masked(echo: str) -> None:
    text = redact(f"Incorrect API key provided: {echo}. Check it.", KEY)
    assert key_characters_in(text) < ECHO_FRAGMENT and text.startswith("Incorrect API key provided: ****")
    assert text.endswith(". Check it.")


def test_a_key_after_padding_is_masked_before_the_cut() -> None:
    for pad in range(250, 300):
        line = safe_line("x" * pad + KEY, KEY)
        assert key_characters_in(line) < ECHO_FRAGMENT and len(line) <= 300
        snippet = safe_line("y" * (pad - 230) + KEY + "tail", KEY, limit=60)
        assert key_characters_in(snippet) < ECHO_FRAGMENT


def test_redaction_leaves_other_text_alone() -> None:
    assert redact("nothing secret here", KEY) == "nothing secret here"
    assert redact("key=abcd1234 and abcd1234", "abcd1234") == "key=******** and ********"
    assert redact("short key ab", "ab") == "short key ab"
    assert redact("two keys: " + KEY + " and pw-12345678", KEY, "pw-12345678") == "two keys: ******** and ********"


def test_urls_lose_password_and_query_even_when_they_do_not_parse() -> None:
    assert mask_url("http://u:pass123@host:8/v1?key=secret") == "http://u:********@host:8/v1?********"
    assert mask_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
    for url in ("http://u:hunter2pw@[::1/v1?key=abc123", "http://u:hunter2pw@bad host/v1?key=abc123",
                "u:hunter2pw@h/v1?key=abc123"):
        masked = mask_url(url)
        assert "hunter2pw" not in masked and "abc123" not in masked, masked
        assert "hunter2pw" in url_secrets(url) and any("abc123" in s for s in url_secrets(url))


def test_keys_of_the_environment_and_of_loaded_files_are_known(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmc.base.Errors import internal_error_text
    from llmc.base.Secrets import remember_keys, without_known_keys
    monkeypatch.setenv("SOME_API_KEY", "env-key-0123456789")
    remember_keys(["file-key-abcdefghij", ""])
    text = without_known_keys("a env-key-0123456789 b file-key-abcdefghij[:-4] c")
    assert "0123456789" not in text and "abcdefghij" not in text
    shown = internal_error_text(RuntimeError("x" * 190 + "file-key-abcdefghij"))
    assert "abcdef" not in shown and "bcdefg" not in shown and shown.startswith("internal error (RuntimeError: xxx")


TEXTS = [f"Your key is {KEY}, keep it.", f"echo {KEY[:-4]}**** and sk-abcdefghij0123 end",
         f"{KEY}", f"no key here at all, only words\nand lines\n", f"tight:{KEY[3:20]}.next sk-x sk-1234567",
         "x" * 5000 + KEY + "y" * 5000]


@pytest.mark.parametrize("text", TEXTS)
def test_a_key_split_across_pieces_is_masked_as_in_one_piece(text: str) -> None:
    from llmc.base.Secrets import StreamMasker
    whole = redact(text, KEY)
    step = max(1, len(text) // 400)
    for first in range(0, len(text) + 1, step):
        for second in (first, first + 1, first + 3, first + 7):
            masker = StreamMasker([KEY])
            pieces = [text[:first], text[first:second], text[second:]]
            assert "".join(masker.feed(piece) for piece in pieces) + masker.close() == whole, (first, second)


def test_a_stream_masker_passes_whole_words_on_at_once() -> None:
    from llmc.base.Secrets import HELD_CHARS, StreamMasker
    masker = StreamMasker([KEY])
    assert masker.feed("Hello there, wor") == "Hello there, "  # the word may go on into a key
    assert masker.feed("ld!\n") == "world!\n"
    assert masker.feed("x" * 10_000) == "x" * (10_000 - HELD_CHARS)  # a long run is not held whole
    assert masker.close() == "x" * HELD_CHARS


MALFORMED_WITH_SECRETS = {  # issue 17: URLs --add-provider refuses, each with a secret in it
    "http://x:PASSWORD@127.0.0.1:57219:1/v1": "http://x:********@127.0.0.1:57219:1/v1",
    "http://user:PASSWORD@[::1/v1": "http://user:********@[::1/v1",
    "http://127.0.0.1:99999/v1?api_key=SECRET": "http://127.0.0.1:99999/v1?********",
    "http://x:PASS/WORD@127.0.0.1/v1": "http://x:********@127.0.0.1/v1",     # urlsplit takes /WORD@… as the path
    "http://x:PASS:WORD@127.0.0.1:1:2/v1": "http://x:********@127.0.0.1:1:2/v1",
    "http://PASSWORD@127.0.0.1/v1": "http://********@127.0.0.1/v1",          # a token as the user name
    "http://127.0.0.1/v1#token=SECRET": "http://127.0.0.1/v1#********",
    "http://x:PASSWORD@127.0.0.1/v1?k=SECRET#SECRET": "http://x:********@127.0.0.1/v1?********",
    "x:PASSWORD@host/v1": "x:********@host/v1",
}


def test_a_urls_password_query_and_fragment_are_masked_whether_it_parses_or_not() -> None:
    for url, masked in MALFORMED_WITH_SECRETS.items():
        assert mask_url(url) == masked, url
        assert any(("PASS" in part or "SECRET" in part) for part in url_secrets(url)), url
    assert mask_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    assert mask_url("local") == "local" and url_secrets("http://127.0.0.1:8080/v1") == ()


def test_urls_in_a_command_line_are_masked_and_other_words_kept() -> None:
    assert mask_urls_in("/add-provider local http://x:PASSWORD@127.0.0.1:57219:1/v1 --key-env K") == (
        "/add-provider local http://x:********@127.0.0.1:57219:1/v1 --key-env K")
    assert mask_urls_in("/add-provider local http://u:PASSWORD@ho st/v1?k=SECRET#SECRET") == (
        "/add-provider local http://u:********@ho st/v1?********")
