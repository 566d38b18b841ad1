"""What one run of llmc works with, built once by the command line (httpie's Environment is the model): the
terminal, the settings, the providers, the saved chats and the data directory. The chat, `-p`, discovery and
`--add-provider` are handed it instead of each being given some of these."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..base.Terminal import Terminal
from ..Config import Config
from ..ProviderManager import ProviderManager
from ..Types import ConfigModel

if TYPE_CHECKING:
    from ..store.ChatStore import ChatStore


class RunContext:
    """The terminal and the loaded configuration of one run, and what they give access to."""

    def __init__(self, terminal: Terminal, config: Config, chat_store: Optional[ChatStore] = None) -> None:
        """`config`: the run's Config (settings merged from the files, the environment and the flags);
        `chat_store`: the saved chats (by default those of the data directory)."""
        self.terminal = terminal
        self.config = config
        self._chat_store = chat_store

    @property
    def chat_store(self) -> ChatStore:
        """The saved chats, opened when first asked for (--list-models and discovery never are)."""
        if self._chat_store is None:
            from ..store.ChatStore import ChatStore  # noqa: PLC0415 - store/ and sqlite3 only where chats are kept
            self._chat_store = ChatStore(self.config.data_directory)
        return self._chat_store

    @property
    def settings(self) -> ConfigModel:
        """Every setting of the run (config.config)."""
        return self.config.config

    @property
    def providers(self) -> ProviderManager:
        """The one interface to the providers (config.config.providers)."""
        return self.config.config.providers

    @property
    def data_directory(self) -> Path:
        """Where config.toml, the providers YAML, the saved chats and the input history live."""
        return self.config.data_directory

    @property
    def model_source(self) -> str:
        """Where the model of the run came from ("from -m/--model"), for error messages."""
        return self.config.model_source
