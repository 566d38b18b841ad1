"""Global constants, the built-in providers and the ConfigModel."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from . import DEFAULT_DATA_DIRECTORY  # defined there, used here and by Config
from .base.ChatOptions import ChatOptions
from .ProviderManager import ProviderManager
from .discovery.BuiltInProviders import PROVIDER_DATA  # noqa: F401 - the plan's name for it

DEFAULT_MODEL = "openai/4.1-mini"
MAX_TOKENS_LIMIT = 1_000_000  # far above any model's reply limit; a bigger number is a typo
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer concisely and accurately; use Markdown "
    "(code blocks with a language tag) where it helps."
)
SASSY_SYSTEM_PROMPT = (
    "You are a sassy, witty assistant with a sharp tongue. You still give correct, useful "
    "answers, but never without a sarcastic remark or two."
)

TomlScalar = Union[str, int, float, bool]  # a value config.toml holds for one setting
SettingValue = Optional[TomlScalar]  # a setting's value as a flag, a role or config.toml gives it (None: unset)

MAX_TOOL_STEPS = 100  # bounds max_tool_steps: a loop past this is a model that will not stop


class ConfigModel(BaseModel):
    """Every setting of a run, after all sources are merged."""

    # strict: a TOML value of the right type only ("yes" is no boolean, true no number); ints do as floats
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", validate_assignment=True,
                              strict=True, allow_inf_nan=False)

    model: str = Field(default=DEFAULT_MODEL, description=(
        "Default model: provider/long-id, a long id or a short name "
        "(LLMC_DEFAULT_MODEL and -m override it)"))
    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, description=(
        "System prompt of every chat (LLMC_SYSTEM_PROMPT and -s override it)"))
    sassy: bool = Field(default=False, description="Use the sassy system prompt instead")
    stream: bool = Field(default=True, description="Stream replies as they are generated")
    temperature: Optional[float] = Field(default=None, ge=0, le=2, examples=[0.7], description=(
        "Sampling temperature, 0 to 2 (unset: 0; OpenAI's gpt-5 and o-series take only 1; "
        "--temperature overrides it)"))
    max_tokens: Optional[int] = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT, examples=[4096], description=(
        "Most tokens a reply may take (unset: the model's own limit; --max-tokens overrides it)"))
    enter_sends: bool = Field(default=True, description=(
        "Enter sends the prompt in the chat (Alt-Enter or Ctrl-J adds a line); false: Enter adds a line "
        "and Alt-Enter or Ctrl-O sends"))
    show_usage: bool = Field(default=True, description=(
        "Show a dim line of token counts (and the cost, where prices are known) after each reply in the chat"))
    max_tool_steps: int = Field(default=10, ge=1, le=MAX_TOOL_STEPS, description=(
        "Rounds of tool calls one question may take (the model asks, the tools answer) before llmc stops it"))
    allowed_tools: List[str] = Field(default=[], description=(
        "Tools that run without asking, as server.tool patterns (\"time.*\"); any other call is asked about "
        "in a terminal and refused without one (--approve-tools allows every call of a run)"))
    connect_timeout: float = Field(default=10.0, gt=0, le=300, description=(
        "Seconds to wait for a provider to accept a connection"))
    read_timeout: float = Field(default=60.0, gt=0, le=3600, description=(
        "Seconds to wait for the next piece of a reply before giving up (at most 10 s for model lists)"))
    models_timeout: float = Field(default=10.0, gt=0, le=3600, description=(
        "Seconds a model list (GET /models) may take in all, however slowly it arrives"))
    ping_timeout: float = Field(default=60.0, gt=0, le=3600, description=(
        "Seconds one discovery ping may take in all"))
    reply_timeout: float = Field(default=300.0, gt=0, le=86400, description=(
        "Seconds a whole reply (stream = false) may take in all"))
    stall_timeout: float = Field(default=600.0, gt=0, le=86400, description=(
        "Seconds a streamed reply may go without any text (keep-alives and empty chunks do not count)"))
    max_retries: int = Field(default=3, ge=0, le=10, description=(
        "Retries after HTTP 429/503, honouring Retry-After (each wait capped at 10 s)"))
    tools: List[str] = Field(default=[], description=(
        "MCP servers (names in mcp.json; \"all\" for every one) whose tools are offered to the model "
        "(-T overrides it)"))
    tool_timeout: float = Field(default=60.0, gt=0, le=3600, description=(
        "Seconds an MCP server may take to start, and a tool call to answer"))
    discovery_timeout: float = Field(default=300.0, gt=0, le=86400, description=(
        "Seconds one provider's discovery (its model list and all its pings) may take in all; models not "
        "pinged by then stay undecided and that provider's discovery fails"))
    concurrency: int = Field(default=16, ge=1, le=256, description=(
        "Model pings in flight per provider during discovery"))
    data_directory: str = Field(default=DEFAULT_DATA_DIRECTORY, description="Data directory")
    providers: ProviderManager = Field(default_factory=lambda: ProviderManager({}),
                                       description="Configured providers")

    def chat_options(self) -> ChatOptions:
        """The settings each chat request goes with (temperature, max tokens, streaming), as they are now."""
        return ChatOptions(temperature=self.temperature, max_tokens=self.max_tokens, stream=self.stream)

    @classmethod
    def file_settings(cls) -> Dict[str, Any]:
        """The settings config.toml may hold at top level, with their fields."""
        return {name: info for name, info in cls.model_fields.items()
                if name not in ("providers", "data_directory")}
