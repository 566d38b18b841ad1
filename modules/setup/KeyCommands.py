"""`--set-key` and `--unset-key`: store a provider's API key in the keys file, or remove it, never showing it."""
from __future__ import annotations

import getpass
from typing import Any, Callable, TextIO

from ..base.Errors import ConfigError, LlmcError
from ..base.KeysFile import checked_key
from ..base.Terminal import is_terminal

MAX_KEY_INPUT = 64 * 1024  # far above any key; more is a file piped by mistake


def read_key(provider_name: str, stdin: TextIO) -> str:
    """The key typed at the terminal without echo, or the first line of a piped stdin."""
    if is_terminal(stdin):
        try:
            text = getpass.getpass(f"API key for {provider_name} (not shown; Enter when done): ")
        except EOFError:
            text = ""
    else:
        text = stdin.read(MAX_KEY_INPUT + 1)
        if len(text) > MAX_KEY_INPUT:
            raise ConfigError(f"standard input holds more than {MAX_KEY_INPUT // 1024} KB: give one key; "
                              "nothing was stored")
    return checked_key(text)


class KeyCommands:
    """Stores and removes keys in the run's keys file, for providers the run's Config knows."""

    def __init__(self, config: Any, print_line: Callable[[str], None], notify: Callable[[str], None]) -> None:
        self.config = config
        self.print_line = print_line
        self.notify = notify

    def _provider_name(self, name: str) -> str:
        providers = self.config.config.providers
        known = providers.resolve_provider_name(name)
        if known is None:
            raise LlmcError(providers.unknown_provider_message(name))
        return known

    def set_key(self, name: str, stdin: TextIO) -> None:
        """Read a key and store it as the provider's; say where, and what to do next."""
        provider_name = self._provider_name(name)
        key = read_key(provider_name, stdin)
        keys_file = self.config.keys_file
        keys_file.set(provider_name, key)
        self.print_line(f"Stored the API key of {provider_name} in {keys_file.path} (mode 0600).")
        self._note_overrides(provider_name)
        if not self.config.config.providers[provider_name].valid_models:
            self.notify(f"Next: llmc --discover-models {provider_name} finds its models.")

    def unset_key(self, name: str) -> bool:
        """Remove the provider's stored key; False (and a notice) if none was stored."""
        provider_name = self._provider_name(name)
        keys_file = self.config.keys_file
        if not keys_file.unset(provider_name):
            self.notify(f"No key of {provider_name} is stored in {keys_file.path}; nothing changed.")
            return False
        self.print_line(f"Removed the API key of {provider_name} from {keys_file.path}.")
        self._note_overrides(provider_name)
        return True

    def _note_overrides(self, provider_name: str) -> None:
        """Say so when a key elsewhere (the environment, a file written by hand) is used instead of the stored one."""
        source = self.config.key_sources.get(provider_name, "")
        if source and not source.startswith("keys file"):
            self.notify(f"Note: the key from {source} is used for {provider_name} while it is there; "
                        "it wins over the keys file.")
