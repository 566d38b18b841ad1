"""Building a ChatInterface on the loopback fake server for in-process chat and command tests."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

from prompt_toolkit.output import DummyOutput

from llmc.chat.ChatInterface import ChatInterface
from llmc.chat.Clipboard import Clipboard
from llmc.Config import Config
from llmc.base.Terminal import Terminal
from llmc.setup.RunContext import RunContext
from tests.fake_openai_server import FakeOpenAIServer

SUBMIT = "\r"  # Enter sends


def write_chat_config(data_dir: Path, base_url: str, api_key: str = "test-key", extra: str = "") -> None:
    """config.toml with one provider `fake` (short names fc1, fc2) and fc1 as the model."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").write_text(
        f'model = "fake/fc1"\n{extra}\n[providers.fake]\nname = "Fake"\nbase_api_url = "{base_url}"\n'
        f'api_key = "{api_key}"\nvalid_models = {{ "fake-chat-1" = "fc1", "fake-chat-2" = "fc2" }}\n')


def make_chat(tmp_path: Path, server: Optional[FakeOpenAIServer], pipe, stdout=None, echo: bool = False,
              history_file: Optional[str] = None, clear: bool = False, api_key: str = "test-key",
              extra: str = "", **options) -> ChatInterface:
    """A ChatInterface on the fake server, reading keys from `pipe`, writing to StringIOs; `options` go
    to ChatInterface (save, resumed), but `store`: the saved chats of the run."""
    data_dir = tmp_path / "data"
    write_chat_config(data_dir, server.base_url if server else "http://127.0.0.1:9/v1", api_key, extra)
    config = Config(data_directory=data_dir, environ={}, warn=lambda text: None, report=lambda text: None)
    terminal = Terminal(stdout=stdout or io.StringIO(), stderr=io.StringIO(), environ={})
    context = RunContext(terminal, config, options.pop("store", None))
    chat = ChatInterface(context, history_file=history_file, clear=clear, echo=echo,
                         pt_input=pipe, pt_output=DummyOutput(), **options)
    chat.clipboard = Clipboard(terminal.stdout, environ={}, which=lambda name: None)
    return chat


def run_keys(chat: ChatInterface, pipe, keys: str) -> int:
    """Type `keys` into the chat's input and run it until it exits."""
    pipe.send_text(keys)
    return chat.run()


def chat_messages(chat: ChatInterface) -> list:
    """(role, content) of every message after the system prompt."""
    return [(m["role"], m["content"]) for m in chat.session.messages[1:]]
