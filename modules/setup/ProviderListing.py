"""`--list-providers`: each provider, its base URL, where its key comes from (never the key) and its models."""
from __future__ import annotations

from typing import TYPE_CHECKING, List

from ..base.Secrets import mask_url

if TYPE_CHECKING:
    from ..Config import Config

HEADER = ("PROVIDER", "BASE URL", "KEY", "MODELS")


def key_source_text(config: Config, name: str) -> str:
    """Where the provider's key comes from, or what to do when it has none; never the key itself."""
    providers = config.config.providers
    if providers.has_usable_key(name):
        return config.key_sources.get(name, "set")
    if providers[name].is_local():
        return "not needed (this machine)"
    return f"none: set {providers.key_variable(name)} or run llmc --set-key {name}"


def provider_rows(config: Config) -> List[tuple]:
    """(name, base URL, key source, valid model count) of every provider, in the configured order."""
    providers = config.config.providers
    return [(name, mask_url(provider.base_api_url), key_source_text(config, name),
             str(len(provider.valid_models))) for name, provider in providers.items()]


def provider_table(config: Config) -> List[str]:
    """The rows under a header, in aligned columns."""
    rows = [HEADER, *provider_rows(config)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER) - 1)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]).rstrip()
            for row in rows]
