"""RunContext: what one run works with, built once from a Terminal and a Config."""
from __future__ import annotations

import io
from pathlib import Path

from llmc.base.Terminal import Terminal
from llmc.Config import Config
from llmc.setup.RunContext import RunContext
from llmc.store.ChatStore import ChatStore


def test_a_run_context_gives_the_settings_providers_chats_and_data_directory(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "openai/4o"\n')
    config = Config(data_directory=tmp_path, environ={})
    terminal = Terminal(io.StringIO(), io.StringIO(), environ={})
    context = RunContext(terminal, config)
    assert context.terminal is terminal and context.config is config
    assert context.settings is config.config and context.providers is config.config.providers
    assert context.data_directory == tmp_path and context.chat_store.directory == ChatStore(tmp_path).directory
    assert context.model_source == f"from {tmp_path / 'config.toml'}"
    config.reload_providers_if_changed()
    assert context.providers is config.config.providers  # one ProviderManager for the run


def test_a_run_context_may_be_handed_its_chat_store(tmp_path: Path) -> None:
    store = ChatStore(tmp_path / "elsewhere")
    context = RunContext(Terminal(io.StringIO(), io.StringIO(), environ={}),
                         Config(data_directory=tmp_path, environ={}), store)
    assert context.chat_store is store
