"""`<data dir>/keys.toml`: the API keys `llmc --set-key` stored, one per provider (mode 0600, atomic, locked)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, Optional

from .Errors import ConfigError, file_write_error
from .SafeFiles import PRIVATE_MODE, atomic_write_text, ensure_directory, file_lock, is_readable_by_others
from .Secrets import remember_keys
from .TomlFile import load_toml_file, toml_string

KEYS_FILE_NAME = "keys.toml"
HEADER = ("# API keys stored by `llmc --set-key NAME` (remove one with --unset-key NAME).\n"
          "# Mode 0600: readable by you alone. A key in the environment (NAME_API_KEY) wins over the one here.\n")


def checked_key(text: str) -> str:
    """`text` stripped, if it can be an API key: one line of printable characters without spaces."""
    key = text.strip()
    if not key:
        raise ConfigError("no key given (nothing was read); nothing was stored")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise ConfigError("the key holds spaces, line breaks or control characters: give one key on one line; "
                          "nothing was stored")
    return key


class KeysFile:
    """The keys file of a data directory; every key read from it is remembered for masking (base/Secrets)."""

    def __init__(self, data_directory: Path) -> None:
        self.path = Path(data_directory) / KEYS_FILE_NAME

    def read(self, warn: Optional[Callable[[str], None]] = None) -> Dict[str, str]:
        """Provider name -> key ({} if there is no file); ConfigError naming the file and entry if malformed.

        `warn` is told when other users can read the file."""
        data = load_toml_file(self.path, "keys file")
        keys = {}
        for name, key in data.items():
            if not isinstance(key, str):
                raise ConfigError(f"{self.path}: '{name}' must be a key in quotes (name = \"key\"), "
                                  f"not a {type(key).__name__}")
            keys[name] = key.strip()
        remember_keys(keys.values())
        if keys and warn is not None and is_readable_by_others(self.path):
            warn(f"Warning: {self.path} holds API keys and is readable by others; run: chmod 600 {self.path}")
        return keys

    def set(self, provider_name: str, key: str) -> None:
        """Store `key` as the provider's (replacing its old one), other keys kept."""
        remember_keys([key])
        self._update(provider_name, key)

    def unset(self, provider_name: str) -> bool:
        """Remove the provider's key; False if the file held none."""
        return self._update(provider_name, None)

    def _update(self, provider_name: str, key: Optional[str]) -> bool:
        """Set (or with None remove) one key under the file's lock; False if there was nothing to remove."""
        ensure_directory(self.path.parent)
        with file_lock(self.path):
            keys = self.read()  # an unreadable or malformed file raises here and is never overwritten
            if key is None and provider_name not in keys:
                return False
            if key is None:
                del keys[provider_name]
            else:
                keys[provider_name] = key
            self._write(keys)
        return True

    def _write(self, keys: Dict[str, str]) -> None:
        text = HEADER + "".join(f"{toml_string(name)} = {toml_string(key)}\n" for name, key in sorted(keys.items()))
        try:
            if self.path.exists():
                os.chmod(self.path, PRIVATE_MODE)  # tightened before the keys are rewritten into it
            atomic_write_text(self.path, text, mode=PRIVATE_MODE)
        except OSError as exc:
            raise file_write_error(f"cannot write {self.path}: {exc.strerror or exc}", exc) from None
