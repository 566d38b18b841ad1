"""The one rule for what a provider entry of a file may hold (config.toml's tables, the providers YAML's)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Optional, get_origin

from pydantic import ValidationError

from ..base.Errors import ConfigError
from .ModelCapabilities import CAPABILITY_FIELDS, ModelCapabilities
from .ModelPrice import ModelPrice
from ..ProviderConfig import ENV_VARIABLE_NAME, ProviderConfig

# Field names and types are ProviderConfig's own: a file may hold what the model takes, nothing else.
PROVIDER_FIELD_TYPES: Dict[str, Any] = {  # a class, or the typing form (Union) of an Optional field
    name: get_origin(info.annotation) or info.annotation for name, info in ProviderConfig.model_fields.items()}
PRICE_FIELDS = tuple(ModelPrice.model_fields)
FIELD_PHRASES = {"valid_models": "a mapping of long model id to short name",
                 "invalid_models": "a list of model ids",
                 "model_prices": "a mapping of long model id to prices",
                 "model_capabilities": "a mapping of long model id to capabilities"}


class ProviderEntryShape:
    """Checks the provider entries of one file; errors name the file, the provider and the field."""

    def __init__(self, path: Path, warn: Optional[Callable[[str], None]] = None) -> None:
        """`warn` hears of unknown fields (dropped from the entry), by default nobody."""
        self.path = path
        self.warn = warn

    def check(self, providers: Dict[Any, Any]) -> None:
        """ConfigError for the first entry of `providers` a provider cannot be made of; unknown fields dropped."""
        for name, entry in providers.items():
            self._check_name(name)
            if not isinstance(entry, dict):
                raise ConfigError(f"{self.path}: provider '{name}' must be a mapping (a table) of fields")
            self._check_field_types(name, entry)
            self._check_model_lists(name, entry)
            self._check_prices(name, entry.get("model_prices") or {})
            self._check_capabilities(name, entry.get("model_capabilities") or {})
            variable = entry.get("api_key_env")
            if variable is not None and not ENV_VARIABLE_NAME.fullmatch(variable):
                self._refuse(name, "field 'api_key_env' must name an environment variable (letters, digits, _), "
                                   f"not {value_phrase(variable)}")

    def _check_name(self, name: Any) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{self.path}: provider name {value_phrase(name)} must be non-empty text")
        if "/" in name:  # "provider/model" strings split at the first slash
            raise ConfigError(f"{self.path}: provider name '{name}' must not contain '/'")

    def _check_field_types(self, name: str, entry: Dict[Any, Any]) -> None:
        for field_name in list(entry):
            value = entry[field_name]
            expected = PROVIDER_FIELD_TYPES.get(field_name)
            if expected is None:
                if self.warn:
                    self.warn(f"Warning: {self.path}: provider '{name}': unknown field '{field_name}' ignored")
                del entry[field_name]
            elif value is not None and not isinstance(value, expected):
                shown = kind_of(value) if field_name == "api_key" else value_phrase(value)
                wanted = FIELD_PHRASES.get(field_name) or kind_of(expected())
                self._refuse(name, f"field '{field_name}' must be {wanted}, not {shown}")

    def _check_model_lists(self, name: str, entry: Dict[Any, Any]) -> None:
        for long_name, short_name in (entry.get("valid_models") or {}).items():
            if not isinstance(long_name, str) or not long_name:
                self._refuse(name, f"valid_models keys must be model ids (text), not {value_phrase(long_name)}")
            if not isinstance(short_name, str) or not short_name:
                self._refuse(name, f"valid_models['{long_name}'] must be a short name (text), "
                                   f"not {value_phrase(short_name)}")
        for item in entry.get("invalid_models") or []:
            if not isinstance(item, str):
                self._refuse(name, f"invalid_models must list model ids, not {value_phrase(item)}")

    def _check_prices(self, name: str, prices: Dict[Any, Any]) -> None:
        for long_name, price in prices.items():
            problem = price_problem(price)
            if problem:
                self._refuse(name, f"model_prices['{long_name}'] {problem}")

    def _check_capabilities(self, name: str, capabilities: Dict[Any, Any]) -> None:
        for long_name, known in capabilities.items():
            problem = capabilities_problem(known)
            if problem:
                self._refuse(name, f"model_capabilities['{long_name}'] {problem}")

    def _refuse(self, name: str, problem: str) -> None:
        raise ConfigError(f"{self.path}: provider '{name}': {problem}")


def price_problem(price: Any) -> Optional[str]:
    """What ModelPrice finds wrong with one model_prices entry (USD per million), None if nothing."""
    if not isinstance(price, dict):
        return f"must be a mapping of {', '.join(PRICE_FIELDS)}, not {value_phrase(price)}"
    try:
        ModelPrice.model_validate(price, strict=True)
        return None
    except ValidationError as exc:
        order = list(price)
        field_name = min((error["loc"][0] for error in exc.errors()),
                         key=lambda field: order.index(field) if field in order else len(order))
    if field_name not in PRICE_FIELDS:
        return f"has unknown field '{field_name}' (known: {', '.join(PRICE_FIELDS)})"
    return f"field '{field_name}' must be USD per million (a number from 0), not {value_phrase(price[field_name])}"


def capabilities_problem(known: Any) -> Optional[str]:
    """What ModelCapabilities finds wrong with one model_capabilities entry, None if nothing."""
    if not isinstance(known, dict):
        return f"must be a mapping of {', '.join(CAPABILITY_FIELDS)}, not {value_phrase(known)}"
    unknown = [field for field in known if field not in CAPABILITY_FIELDS]
    if unknown:
        return f"has unknown field '{unknown[0]}' (known: {', '.join(CAPABILITY_FIELDS)})"
    try:
        ModelCapabilities.model_validate(known, strict=True)
        return None
    except ValidationError as exc:
        field_name = exc.errors()[0]["loc"][0]
    wanted = "a token count (a whole number from 1)" if field_name == "context_length" else "true or false"
    return f"field '{field_name}' must be {wanted}, not {value_phrase(known[field_name])}"


def kind_of(value: Any) -> str:
    """What kind of value this is, in a user's words ("a list", "text"...)."""
    return {list: "a list", dict: "a mapping", bool: "a boolean", int: "a number",
            float: "a number", str: "text"}.get(type(value), type(value).__name__)


def value_phrase(value: Any) -> str:
    """The kind of `value` and its first 40 characters, e.g. `a number (42)`."""
    return f"{kind_of(value)} ({json.dumps(value, default=str)[:40]})"
