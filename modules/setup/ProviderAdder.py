"""`--add-provider` and `/add-provider`: check a new provider, discover its models, save it, offer it as default."""
from __future__ import annotations

import re
from typing import Any, Callable, List, Optional
from urllib.parse import urlsplit

from ..base.Errors import ConfigError, InvalidModelError
from ..base.Secrets import mask_url
from ..render.ProgressDisplay import discover_with_progress
from ..ProviderConfig import ENV_VARIABLE_NAME, ProviderConfig, environment_key_variable
from ..ProviderManager import ProviderManager
from .RunContext import RunContext

PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
URL_EXAMPLE = "http://127.0.0.1:8080/v1"


def checked_provider_name(name: str) -> str:
    """`name` if it can name a provider (and its key variable); ConfigError otherwise."""
    if not PROVIDER_NAME.fullmatch(name):
        raise ConfigError(f"provider name {mask_url(name)!r} must be 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit (e.g. local)")
    return name


def checked_base_url(url: str) -> str:
    """`url` without a trailing slash if it can be a provider's base URL; ConfigError otherwise."""
    text = url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (parts is None or not port_ok or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or not c.isprintable() for c in text)):
        raise ConfigError(f"URL {mask_url(url)!r} must be an http:// or https:// address with a host, "
                          f"e.g. {URL_EXAMPLE}")
    if parts.username or parts.password:
        raise ConfigError(f"URL {_without_userinfo(parts)} must not hold a user name or password: "
                          "put the key in an environment variable and name it with --key-env")
    if parts.query or parts.fragment:  # not shown: a query may carry a key
        raise ConfigError(f"URL {_without_userinfo(parts)} must not have a query or fragment (?… or #…), "
                          f"e.g. {URL_EXAMPLE}")
    return text


def checked_key_variable(variable: Optional[str]) -> str:
    """`variable` ("" if None) if it can name an environment variable; ConfigError otherwise."""
    if variable is None:
        return ""
    if not ENV_VARIABLE_NAME.fullmatch(variable):
        raise ConfigError("--key-env must name an environment variable (letters, digits, _), not hold the key "
                          "itself (what was given is not shown)")
    return variable


def same_server(first: str, second: str) -> bool:
    """True when two base URLs name the same address (case of scheme and host, and a trailing / aside)."""
    return first.rstrip("/").lower() == second.rstrip("/").lower()


def _without_userinfo(parts: Any) -> str:
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path}"


class ProviderAdder:
    """Adds an OpenAI-compatible provider to the providers YAML after discovering its models."""

    def __init__(self, context: RunContext, print_line: Callable[[str], None], in_chat: bool = False) -> None:
        """`context` is the run's; results go to `print_line`, notices to its terminal's `message`.

        `in_chat`: the hints name chat commands (/mod) instead of command lines (llmc -m)."""
        self.config = context.config
        self.terminal = context.terminal
        self.print_line = print_line
        self.in_chat = in_chat

    @property
    def providers(self) -> ProviderManager:
        return self.config.config.providers

    def add(self, name: str, url: Optional[str] = None, key_env: Optional[str] = None) -> Optional[bool]:
        """Add, discover and save; True on success, False if discovery failed, None if cancelled.

        Without `url`, `name` must be a provider llmc knows (a built-in preset such as openrouter).
        Bad input raises ConfigError before anything is sent or written."""
        name = checked_provider_name(name)
        url = checked_base_url(url) if url is not None else self._known_url(name)
        provider_name, provider = self._provider(name, url, checked_key_variable(key_env))
        is_new = provider_name not in self.providers
        known_before = not is_new and bool(provider.valid_models)  # added (and discovered) before, not a preset
        self.providers.add_provider(provider_name, provider)
        outcome = discover_with_progress(self.providers, self.terminal, self.config.data_directory,
                                         self.print_line, provider_filter=provider_name)
        if not outcome:
            if is_new:
                self.providers.forget_provider(provider_name)
            if outcome is False:
                self.terminal.message(f"Provider {provider_name} was not added.")
            return outcome
        if known_before:
            self.print_line(f"Provider {provider_name} ({provider.base_api_url}) was there already; its models "
                            f"are updated in {self.config.store.path}.")
        else:
            self.print_line(f"Added provider {provider_name} ({provider.base_api_url}) to {self.config.store.path}.")
        self.offer_as_default([provider_name])
        return True

    def _known_url(self, name: str) -> str:
        """The base URL of the known provider `name`; ConfigError asking for a URL if there is none."""
        known = self.providers.resolve_provider_name(name)
        if known is None:
            raise ConfigError(f"no provider named {name!r} is known, so its URL is needed: --add-provider {name} URL "
                              f"(e.g. {URL_EXAMPLE}); known without one: {', '.join(self.providers.keys())}")
        return self.providers[known].base_api_url

    def _provider(self, name: str, url: str, key_env: str) -> tuple[str, ProviderConfig]:
        """The provider to add (or the existing one of that name and URL) with its key from the environment."""
        existing_name = self.providers.resolve_provider_name(name)
        if existing_name is None:
            provider = ProviderConfig(name=name, base_api_url=url, api_key_env=key_env)
        else:
            provider = self.providers[existing_name]
            if not same_server(provider.base_api_url, url):
                raise ConfigError(f"provider '{existing_name}' exists already with the URL "
                                  f"{provider.base_api_url}; pick another name")
            name = existing_name
            provider.api_key_env = key_env or provider.api_key_env
        variable = provider.key_variable(name)
        if key_env or not provider.has_api_key():
            taken_from = environment_key_variable(name, provider.api_key_env, provider.found_by_scan)
            provider.api_key = self.config.environ.get(taken_from, "") if taken_from else ""
        if not provider.is_usable():
            raise ConfigError(f"no API key for {name}: set {variable}, store one with llmc --set-key {name}, "
                              "or name another variable with --key-env; nothing was written")
        if key_env and not provider.has_api_key():
            self.terminal.message(f"Note: {variable} is not set; a server on this machine needs no key")
        return name, provider

    def offer_as_default(self, provider_names: List[str]) -> None:
        """Make the first valid model of these providers the default when the configured default cannot chat;
        else say how to use it."""
        models = [f"{name}/{model}" for name in provider_names for model in self.providers[name].get_valid_models()]
        if not models:
            self.terminal.message(f"No model of {', '.join(provider_names)} answered a chat ping: "
                                  "nothing to chat with yet.")
            return
        model = models[0]
        current = self.config.config.model
        why_not = self._why_default_cannot_chat(current)
        if why_not is None:
            use, make_default = ("/mod", "/set-default") if self.in_chat else ("llmc -m", "llmc --set-default-model")
            self.print_line(f"Chat with it: {use} {model}  (make it the default: {make_default} {model})")
            return
        label = self.config.set_default_model(model)
        self.config.config.model = label
        self.print_line(f"Default model set to {label} in {self.config.config_path} "
                        f"(the default {current} {why_not}).{'' if self.in_chat else ' Start chatting: llmc'}")

    def _why_default_cannot_chat(self, model: str) -> Optional[str]:
        """None when `model` can chat now; else why not."""
        try:
            resolved = self.providers.resolve(model)
        except InvalidModelError:
            return "is not a known valid model"
        if resolved.config.is_usable():
            return None
        return f"has no API key: {resolved.config.key_variable(resolved.provider)} is not set"
