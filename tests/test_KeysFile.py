"""KeysFile: keys.toml read and written whole, 0600, other keys kept, remembered for masking."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from llmc.base import Secrets
from llmc.base.Errors import ConfigError
from llmc.base.KeysFile import KeysFile, checked_key


def test_set_reads_back_with_odd_names_and_is_private(tmp_path: Path) -> None:
    keys = KeysFile(tmp_path / "new")
    keys.set("my.provider", 'k-"quoted"\\-0123456789')
    keys.set("groq", "gsk-0123456789")
    assert KeysFile(tmp_path / "new").read() == {"my.provider": 'k-"quoted"\\-0123456789', "groq": "gsk-0123456789"}
    assert stat.S_IMODE(keys.path.stat().st_mode) == 0o600


def test_unset_says_whether_there_was_a_key(tmp_path: Path) -> None:
    keys = KeysFile(tmp_path)
    assert keys.unset("groq") is False
    keys.set("groq", "gsk-0123456789")
    assert keys.unset("groq") is True and keys.read() == {}


def test_keys_read_are_remembered_for_masking(tmp_path: Path) -> None:
    (tmp_path / "keys.toml").write_text('groq = "gsk-REMEMBERED-0123456789"\n')
    Secrets._KNOWN_KEYS.clear()
    KeysFile(tmp_path).read()
    assert Secrets.without_known_keys("echo: gsk-REMEMBERED-0123456789") == "echo: ********"


@pytest.mark.parametrize("text, message", [("groq = [1]\n", "'groq' must be a key in quotes"),
                                           ("groq = \n", "keys.toml: "), ("[groq]\nkey = 'x'\n", "not a dict")])
def test_a_malformed_file_names_itself_and_is_never_overwritten(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "keys.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        KeysFile(tmp_path).set("mistral", "m-0123456789")
    assert (tmp_path / "keys.toml").read_text() == text


def test_checked_key_strips_and_refuses_what_is_no_key() -> None:
    assert checked_key("  sk-abc\n") == "sk-abc"
    for text in ("", "  \n", "a b", "a\tb", "a\x1bb"):
        with pytest.raises(ConfigError):
            checked_key(text)
