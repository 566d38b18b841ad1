"""One provider's settings and known models: a pure data model with lookup helpers."""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from .base.Secrets import api_key_variable
from .discovery.ModelCapabilities import ModelCapabilities
from .discovery.ModelPrice import ModelPrice


def default_short_name(long_name: str) -> str:
    """The short name a newly discovered model gets: for now its long id (the plan's rule)."""
    return long_name


MODELS_CACHE_SECONDS = 300  # how long a fetched model list stays fresh (the plan's 5 minutes)
PLACEHOLDER_KEY_SUFFIX = "not-configured"
ENV_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # what api_key_env may hold


def is_configured_key(key: Optional[str]) -> bool:
    """True when `key` is set: not empty, blank or a `…not-configured` placeholder (the one rule for it)."""
    key = (key or "").strip()
    return bool(key) and not key.endswith(PLACEHOLDER_KEY_SUFFIX)


def environment_key_variable(provider_name: str, api_key_env: str = "", found_by_scan: bool = False) -> str:
    """The variable a provider's key is taken from: `api_key_env`, else NAME_API_KEY; "" (none) for a
    server the local scan found, which is sent only a key the user named for it."""
    if api_key_env:
        return api_key_env
    return "" if found_by_scan else api_key_variable(provider_name)


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine: localhost, 127.0.0.0/8 or ::1."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return False
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProviderConfig(BaseModel):
    """A provider of the OpenAI chat-completions API and the models known to work with it."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    name: str = Field(default="Test Provider", description="Provider Name")
    base_api_url: str = Field(default="https://test.openai.com/v1", description="Base API URL")
    api_key: str = Field(default="", description="API Key", repr=False)
    api_key_env: str = Field(default="", pattern=f"^(?:{ENV_VARIABLE_NAME.pattern})?$",
                             description="Environment variable the key comes from")
    found_by_scan: bool = Field(default=False, description=(
        "Added by the local-server scan: NAME_API_KEY is not sent to it (api_key_env or api_key in a file is)"))
    valid_models: Dict[str, str] = Field(default_factory=dict, description="Valid models")
    invalid_models: List[str] = Field(default_factory=list, description="Invalid models")
    model_prices: Dict[str, ModelPrice] = Field(default_factory=dict,
                                                description="Prices the provider's /models gave, by long id")
    model_capabilities: Dict[str, ModelCapabilities] = Field(
        default_factory=dict, description="What models can take (tools, images, context), by long id")

    # Runtime-only state: never part of model_dump() and never persisted.
    _cached_models: List[Any] = PrivateAttr(default_factory=list)
    _cache_timestamp: float = PrivateAttr(default=0.0)
    _cache_duration: int = PrivateAttr(default=MODELS_CACHE_SECONDS)

    @property
    def cache_duration(self) -> int:
        """Seconds a fetched model list stays fresh."""
        return self._cache_duration

    @cache_duration.setter
    def cache_duration(self, seconds: int) -> None:
        self._cache_duration = seconds

    def has_api_key(self) -> bool:
        """True when a key is set and is not empty, blank or a `…not-configured` placeholder."""
        return is_configured_key(self.api_key)

    def is_local(self) -> bool:
        """True for a server on this machine (loopback base URL): it needs no key."""
        return is_loopback_url(self.base_api_url)

    def is_usable(self) -> bool:
        """True when requests may be sent: a key is configured, or the server is local and needs none."""
        return self.has_api_key() or self.is_local()

    def key_to_send(self) -> str:
        """The key for the Authorization header; "" (no header) when none is configured."""
        return self.api_key.strip() if self.has_api_key() else ""

    def key_variable(self, provider_name: str) -> str:
        """The environment variable this provider's key comes from (`api_key_env`, else NAME_API_KEY)."""
        return self.api_key_env or api_key_variable(provider_name)

    def get_valid_models(self) -> List[str]:
        """Long ids of the models known to chat."""
        return list(self.valid_models)

    def get_invalid_models(self) -> List[str]:
        """Long ids of the models known to refuse chat."""
        return list(self.invalid_models)

    def find_model(self, name: str) -> Optional[str]:
        """Long id of a valid model by exact long/short name, else by substring; None if absent."""
        for long_name, short_name in self.valid_models.items():
            if name in (long_name, short_name):
                return long_name
        for long_name, short_name in self.valid_models.items():
            if name in long_name or name in short_name:
                return long_name
        return None

    def merge_valid_models(self, models: List[str]) -> None:
        """Add `models` to valid_models, keeping existing short names; a new id is its own short name."""
        merged = dict(self.valid_models)
        for model in models:
            merged.setdefault(model, default_short_name(model))
        self.valid_models = merged
        self.invalid_models = [m for m in self.invalid_models if m not in merged]

    def price_of(self, long_name: str) -> Optional[ModelPrice]:
        """What the provider said `long_name` costs, None if it never said."""
        return self.model_prices.get(long_name)

    def set_prices(self, prices: Dict[str, ModelPrice]) -> None:
        """Remember the prices of these models, replacing what was known of them."""
        self.model_prices = {**self.model_prices, **prices}

    def capabilities_of(self, long_name: str) -> ModelCapabilities:
        """What is known of what `long_name` can take (all unknown if nothing is)."""
        return self.model_capabilities.get(long_name) or ModelCapabilities()

    def set_capabilities(self, capabilities: Dict[str, ModelCapabilities]) -> None:
        """Put what was learnt of these models over what was known of them."""
        self.model_capabilities = {**self.model_capabilities, **{
            name: self.capabilities_of(name).merged(learnt) for name, learnt in capabilities.items()}}

    def mark_invalid(self, models: List[str]) -> None:
        """Remember `models` as refusing chat and drop them from valid_models."""
        refused = set(models)
        self.valid_models = {k: v for k, v in self.valid_models.items() if k not in refused}
        self.invalid_models = list(dict.fromkeys([*self.invalid_models, *models]))
        self.model_prices = {k: v for k, v in self.model_prices.items() if k not in refused}
        self.model_capabilities = {k: v for k, v in self.model_capabilities.items() if k not in refused}
