"""ProviderEntryShape: the one rule for a provider entry, as ProviderConfig and ModelPrice define it."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from llmc.base.Errors import ConfigError
from llmc.discovery.ModelPrice import MAX_PRICE_PER_MILLION, ModelPrice
from llmc.ProviderConfig import ProviderConfig
from llmc.discovery.ProviderEntryShape import PRICE_FIELDS, PROVIDER_FIELD_TYPES, ProviderEntryShape

PATH = Path("/data/providers.yaml")


def refusal(providers: Dict[Any, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        ProviderEntryShape(PATH).check(providers)
    return str(info.value)


def test_a_file_may_hold_the_fields_the_model_takes_and_no_other() -> None:
    assert set(PROVIDER_FIELD_TYPES) == set(ProviderConfig.model_fields)
    assert PRICE_FIELDS == tuple(ModelPrice.model_fields)


def test_an_entry_that_passes_makes_a_provider_config() -> None:
    entry = {"name": "Local", "base_api_url": "http://127.0.0.1:8080/v1", "api_key": "none",
             "api_key_env": "LOCAL_KEY", "valid_models": {"m": "m"}, "invalid_models": ["n"],
             "model_prices": {"m": {"prompt": 1, "completion": 2.5}}}
    ProviderEntryShape(PATH).check({"local": entry})
    assert ProviderConfig(**entry).price_of("m") == ModelPrice(prompt=1, completion=2.5)


def test_unknown_fields_are_told_and_dropped() -> None:
    told: List[str] = []
    providers = {"x": {"colour": "blue", "name": "X"}}
    ProviderEntryShape(PATH, told.append).check(providers)
    assert told == [f"Warning: {PATH}: provider 'x': unknown field 'colour' ignored"]
    assert providers == {"x": {"name": "X"}}
    quiet = {"x": {"colour": "blue"}}
    ProviderEntryShape(PATH).check(quiet)
    assert quiet == {"x": {}}


@pytest.mark.parametrize("providers, problem", [
    ({"": {}}, 'provider name text ("") must be non-empty text'),
    ({"a/b": {}}, "provider name 'a/b' must not contain '/'"),
    ({"x": 3}, "provider 'x' must be a mapping (a table) of fields"),
    ({"x": {"valid_models": ["a"]}}, "provider 'x': field 'valid_models' must be a mapping of long model id "
                                     'to short name, not a list (["a"])'),
    ({"x": {"valid_models": {"": "a"}}}, 'provider \'x\': valid_models keys must be model ids (text), not text ("")'),
    ({"x": {"valid_models": {"a": ""}}}, "provider 'x': valid_models['a'] must be a short name (text)"),
    ({"x": {"invalid_models": [1]}}, "provider 'x': invalid_models must list model ids, not a number (1)"),
    ({"x": {"api_key_env": "MY-KEY"}}, "provider 'x': field 'api_key_env' must name an environment variable"),
    ({"x": {"model_prices": {"m": {"prompt": MAX_PRICE_PER_MILLION * 2}}}},
     "provider 'x': model_prices['m'] field 'prompt' must be USD per million (a number from 0), not a number"),
    ({"x": {"model_prices": {"m": {"prompt": True}}}}, "provider 'x': model_prices['m'] field 'prompt' must be USD per million"),
    ({"x": {"model_prices": {"m": {"prompt": 1, "tokens": 1, "completion": -1}}}},
     "provider 'x': model_prices['m'] has unknown field 'tokens' (known: prompt, completion, request)"),
    ({"x": {"model_prices": {"m": {"completion": -1, "tokens": 1}}}},
     "provider 'x': model_prices['m'] field 'completion' must be USD per million"),
])
def test_refusals_name_the_file_the_provider_and_the_field(providers: Dict[Any, Any], problem: str) -> None:
    assert refusal(providers).startswith(f"{PATH}: {problem}")


def test_the_price_bounds_are_model_prices_own() -> None:
    ProviderEntryShape(PATH).check({"x": {"model_prices": {"m": {"prompt": MAX_PRICE_PER_MILLION, "request": 0}}}})


def test_a_key_of_the_wrong_type_is_never_shown() -> None:
    message = refusal({"x": {"api_key": 123456789}})
    assert "field 'api_key' must be text, not a number" in message and "123456789" not in message


@pytest.mark.parametrize("capabilities, problem", [
    ({"m": [True]}, "model_capabilities['m'] must be a mapping of tools, images, context_length, not a list"),
    ({"m": {"tools": "yes"}}, "model_capabilities['m'] field 'tools' must be true or false, not text"),
    ({"m": {"context_length": 0}}, "field 'context_length' must be a token count (a whole number from 1), not a number (0)"),
    ({"m": {"context_length": 1.5}}, "field 'context_length' must be a token count"),
    ({"m": {"vision": True}}, "model_capabilities['m'] has unknown field 'vision' (known: tools, images, context_length)"),
])
def test_model_capabilities_are_checked(capabilities, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        ProviderEntryShape(PATH).check({"x": {"model_capabilities": capabilities}})


def test_model_capabilities_load_into_the_provider():
    from llmc.discovery.ModelCapabilities import ModelCapabilities
    entry = {"valid_models": {"m": "m"}, "model_capabilities": {"m": {"tools": False, "context_length": 8192}}}
    ProviderEntryShape(PATH).check({"x": entry})
    assert ProviderConfig(**entry).capabilities_of("m") == ModelCapabilities(tools=False, context_length=8192)
    assert ProviderConfig(**entry).capabilities_of("other").is_unknown
