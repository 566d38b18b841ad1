"""What the slash commands may do to the chat: the narrow interface CommandHandler is given."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Protocol

if TYPE_CHECKING:  # typing only: the chat UI must not import its way into a cycle
    from ..store.Attachment import Attachment
    from ..store.ChatSession import ChatSession
    from ..store.ChatStore import ChatStore
    from ..ProviderManager import ProviderManager
    from ..base.Terminal import Terminal
    from ..Types import ConfigModel, SettingValue
    from ..tools.ToolBox import ToolBox


class ChatControls(Protocol):
    """The chat as the commands see it (ChatInterface implements it; tests may pass their own)."""

    terminal: "Terminal"
    session: "ChatSession"
    store: "ChatStore"  # the saved chats (/chats, /load N)
    autosave: bool  # the chat is saved after each exchange
    model: str
    default_model: str
    attachments: List["Attachment"]
    toolbox: "ToolBox"  # the MCP servers of this chat and which of their tools are on

    @property
    def providers(self) -> "ProviderManager":
        """The providers and their known models."""

    @property
    def settings(self) -> "ConfigModel":
        """The settings of this run (config.toml, environment and flags)."""

    @property
    def data_directory(self) -> Path:
        """Where saved chats, the config and the providers YAML live."""

    def ask(self, question: str, default: str = "", multiline: bool = False) -> Optional[str]:
        """One answer from the user; None on Ctrl-C or Ctrl-D."""

    def ask_key(self, question: str) -> Optional[str]:
        """One key from the user, read as it is pressed ("" for Enter); None on Ctrl-C or Ctrl-D."""

    def show_chat(self) -> None:
        """Print every message of the chat."""

    def clear_screen(self) -> None:
        """Clear the terminal."""

    def clear_input_history(self) -> None:
        """Empty the input-history file and what Up/Down walks."""

    def set_keep_input_history(self, keep: bool) -> None:
        """Write the prompts to the input-history file from now on, or keep them in memory only."""

    def save_chat(self) -> None:
        """Save the chat as it is now, when autosave is on."""

    def copy_to_clipboard(self, text: str) -> str:
        """Copy `text`; the name of the way it went (e.g. "OSC 52")."""

    def refresh_providers(self) -> None:
        """Take in models another llmc discovered since the chat started."""

    def set_model(self, model: str) -> str:
        """Switch to `model`; its `provider/long-id`."""

    def set_default_model(self, model: str) -> str:
        """Make `model` the default in config.toml; a line saying what was written where."""

    def set_option(self, name: str, value: "SettingValue", source: str) -> None:
        """Change a request setting (temperature, max_tokens) for the rest of the chat; ConfigError if out of bounds."""

    def key_source(self, provider: str) -> str:
        """Where the provider's API key came from (for /config); "" if unknown."""

    def use_role(self, name: Optional[str]) -> str:
        """Take the role `name` (None: none) for the rest of the chat; a line saying what changed."""

    def regenerate(self) -> None:
        """Ask the current model again for the last prompt, keeping the earlier reply as an alternative
        (LlmcError when there is no prompt yet)."""

    def fork(self, title: str = "") -> str:
        """Go on in a new saved chat holding this one as it is, titled `title` if given (LlmcError when there
        is nothing to save); a line naming both chats."""

    def edit_last_prompt(self, text: str) -> None:
        """Put the last prompt back in the input line, to send in place of its turn (kept as an
        alternative); with `text`, send `text` in its place at once. LlmcError when there is none."""

    def edit_next_prompt(self, text: str) -> None:
        """Open `text` in the user's editor; what is saved starts the next input line (ConfigError if
        no editor runs)."""

    def attach(self, path: str) -> "Attachment":
        """Read a file to go with the next message; ConfigError naming it if it cannot go."""

    def model_label(self) -> str:
        """`provider/long-id` of the current model."""

    def brief_model(self) -> str:
        """The short name of the current model, else its id."""

    def title_completer(self) -> Optional[Callable[[List[dict]], str]]:
        """What /md asks for a title; None when there is no model to ask."""

    def add_provider(self, name: str, url: Optional[str] = None, key_env: Optional[str] = None) -> None:
        """Add an OpenAI-compatible provider, discover its models and save it (ConfigError for bad input)."""

    def adopt_found_local_servers(self) -> None:
        """After a discovery: offer a model of the local servers it found as the default."""
