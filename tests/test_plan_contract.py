"""The plan's public contract (/work/shared/plan/provider-refactoring-plan.md): every class, method and field it
names, with the signatures and return types it gives. The plan's names stay as it names them."""
from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import responses

from llmc.Config import Config
from llmc.ModelDiscoveryService import ModelDiscoveryService
from llmc.OpenAIChatCompletionApi import OpenAIChatCompletionApi
from llmc.ProviderConfig import ProviderConfig
from llmc.ProviderManager import ProviderManager, split_first_slash
from llmc.Types import PROVIDER_DATA, ConfigModel

BASE = "http://127.0.0.1:9/v1"
CHAT_REPLY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                           "finish_reason": "stop"}]}


def hints(function: object) -> Dict[str, object]:
    return typing.get_type_hints(function)


def parameters(function: object) -> List[str]:
    return list(inspect.signature(function).parameters)


# ProviderConfig: a pure data model with persisted and runtime fields and four helpers

def test_provider_config_persists_the_plans_fields_and_keeps_the_runtime_ones_out() -> None:
    config = ProviderConfig(name="P", base_api_url=BASE, api_key="k", valid_models={"long-1": "l1"},
                            invalid_models=["bad-1"])
    dumped = config.model_dump()
    for field in ("name", "base_api_url", "api_key", "valid_models", "invalid_models"):
        assert field in dumped
    assert not {"_cached_models", "_cache_timestamp", "cache_duration"} & set(dumped)
    assert config._cached_models == [] and config._cache_timestamp == 0.0 and config.cache_duration == 300
    defaults = ProviderConfig()
    assert (defaults.name, defaults.base_api_url, defaults.api_key) == (
        "Test Provider", "https://test.openai.com/v1", "")
    assert defaults.valid_models == {} and defaults.invalid_models == []


def test_provider_config_helpers() -> None:
    config = ProviderConfig(valid_models={"gpt-4o-2024-08-06": "4o", "gpt-4o-mini": "mini"},
                            invalid_models=["tts-1"])
    assert config.get_valid_models() == ["gpt-4o-2024-08-06", "gpt-4o-mini"]
    assert config.get_invalid_models() == ["tts-1"]
    assert config.find_model("mini") == "gpt-4o-mini"  # exact short name first
    assert config.find_model("4o-2024") == "gpt-4o-2024-08-06"  # then a substring
    assert config.find_model("absent") is None
    config.merge_valid_models(["new-model", "gpt-4o-mini"])
    assert config.valid_models["new-model"] == "new-model" and config.valid_models["gpt-4o-mini"] == "mini"


# ModelDiscoveryService: discover_models, validate_model (a bool), validate_api_key, cache_duration

def test_discovery_service_signatures() -> None:
    service = ModelDiscoveryService()
    assert service.cache_duration == 300
    assert parameters(ModelDiscoveryService.discover_models)[:3] == ["self", "provider_config", "force_refresh"]
    assert hints(ModelDiscoveryService.discover_models)["return"] == List[Dict[str, typing.Any]]
    assert parameters(ModelDiscoveryService.validate_model)[:3] == ["self", "provider_config", "model"]
    assert hints(ModelDiscoveryService.validate_model)["return"] is bool
    assert parameters(ModelDiscoveryService.validate_api_key)[:2] == ["self", "provider_config"]
    assert hints(ModelDiscoveryService.validate_api_key)["return"] is bool


@responses.activate
def test_discover_models_returns_the_list_and_caches_it_on_the_config() -> None:
    responses.get(f"{BASE}/models", json={"data": [{"id": "m1"}, {"id": "m2"}]})
    config = ProviderConfig(base_api_url=BASE, api_key="k")
    service = ModelDiscoveryService()
    models = service.discover_models(config)
    assert isinstance(models, list) and [m["id"] for m in models] == ["m1", "m2"]
    assert service.discover_models(config) == models and len(responses.calls) == 1  # fresh for cache_duration
    service.discover_models(config, force_refresh=True)
    assert len(responses.calls) == 2


@responses.activate
def test_validate_model_is_true_only_for_a_chat_reply() -> None:
    config = ProviderConfig(base_api_url=BASE, api_key="k")
    service = ModelDiscoveryService()
    responses.post(f"{BASE}/chat/completions", json=CHAT_REPLY)
    assert service.validate_model(config, "chat-model") is True
    responses.replace(responses.POST, f"{BASE}/chat/completions", status=404,
                      json={"error": {"message": "The model does not exist"}})
    assert service.validate_model(config, "gone-model") is False
    responses.replace(responses.POST, f"{BASE}/chat/completions", status=401,
                      json={"error": {"message": "bad key"}})
    assert service.validate_model(config, "chat-model") is False  # a refused key proves nothing: not valid


def test_validate_api_key_says_whether_a_key_is_configured() -> None:
    service = ModelDiscoveryService()
    assert service.validate_api_key(ProviderConfig(api_key="sk-real-key")) is True
    for key in ("", "   ", "not-configured", "ds-not-configured"):
        assert service.validate_api_key(ProviderConfig(api_key=key)) is False


# ProviderManager: dict-like, management, cross-provider resolution, discovery, persistence

def manager() -> ProviderManager:
    return ProviderManager({
        "openai": ProviderConfig(name="OpenAI", api_key="k", valid_models={"gpt-4o-2024-08-06": "4o"}),
        "hyperbolic": ProviderConfig(name="Hyperbolic", api_key="k", valid_models={"Qwen/QwQ-32B": "qdub"}),
    })


def test_provider_manager_is_built_from_a_dict_of_configs_and_owns_a_discovery_service() -> None:
    providers = manager()
    assert parameters(ProviderManager.__init__)[:2] == ["self", "providers"]
    assert isinstance(providers.providers, dict) and isinstance(providers.discovery_service, ModelDiscoveryService)


def test_provider_manager_dict_like_access() -> None:
    providers = manager()
    assert providers.get("openai") is providers["openai"] and providers.get("absent") is None
    assert "openai" in providers and "absent" not in providers
    assert providers.keys() == ["openai", "hyperbolic"]
    assert providers.values() == [providers["openai"], providers["hyperbolic"]]
    assert providers.items() == [("openai", providers["openai"]), ("hyperbolic", providers["hyperbolic"])]
    with pytest.raises(KeyError):
        providers["absent"]
    assert hints(ProviderManager.keys)["return"] == List[str]
    assert hints(ProviderManager.items)["return"] == List[Tuple[str, ProviderConfig]]


def test_provider_manager_management_and_resolution() -> None:
    providers = manager()
    assert providers.get_provider_config("openai") is providers["openai"]
    assert providers.get_provider_config("absent") is None
    assert providers.get_all_provider_names() == ["openai", "hyperbolic"]
    assert providers.merged_models() == [("openai", ("gpt-4o-2024-08-06", "4o")),
                                         ("hyperbolic", ("Qwen/QwQ-32B", "qdub"))]
    assert providers.valid_scoped_models() == ["openai/gpt-4o-2024-08-06 (4o)", "hyperbolic/Qwen/QwQ-32B (qdub)"]
    assert providers.get_api_for_model_string("hyperbolic/Qwen/QwQ-32B") == (providers["hyperbolic"], "Qwen/QwQ-32B")
    assert providers.get_api_for_model_string("4o") == (providers["openai"], "gpt-4o-2024-08-06")
    assert hints(ProviderManager.get_api_for_model_string)["return"] == Tuple[ProviderConfig, str]
    assert providers.validate_model("qdub") == "Qwen/QwQ-32B"
    assert hints(ProviderManager.validate_model)["return"] is str
    assert providers.get_available_models() == ["gpt-4o-2024-08-06", "Qwen/QwQ-32B"]
    assert providers.get_available_models("openai") == ["gpt-4o-2024-08-06"]
    assert ProviderManager.get_short_name("some-model-id") == "some-model-id"
    assert split_first_slash("hyperbolic/Qwen/QwQ-32B") == ("hyperbolic", "Qwen/QwQ-32B")
    assert split_first_slash("gpt-4o") == ("", "gpt-4o")


def test_provider_manager_discovery_and_persistence_signatures() -> None:
    discover = inspect.signature(ProviderManager.discover_and_validate_models).parameters
    assert [discover[name].default for name in ("force_refresh", "persist_on_success", "provider_filter")] == [
        False, True, None]
    assert hints(ProviderManager.discover_and_validate_models)["return"] is bool
    assert parameters(ProviderManager.persist_provider_configs)[0] == "self"
    assert inspect.signature(ProviderManager.persist_provider_configs).parameters["provider_names"].default is None


# Types and Config: ConfigModel.providers is a ProviderManager; Config(update_valid_models=...) is a boolean

def test_config_model_holds_a_provider_manager_and_the_built_in_providers() -> None:
    assert isinstance(ConfigModel().providers, ProviderManager)
    assert {"openai", "deepseek", "hyperbolic"} <= set(PROVIDER_DATA)


def test_config_builds_the_provider_manager_and_takes_update_valid_models_as_a_boolean(tmp_path: Path) -> None:
    assert inspect.signature(Config).parameters["update_valid_models"].default is False
    assert hints(Config.__init__)["update_valid_models"] is bool
    config = Config(data_directory=tmp_path, environ={}, update_valid_models=False)
    assert isinstance(config.config.providers, ProviderManager)
    assert config.config.providers.get_api_for_model_string("openai/4o")[1] == "gpt-4o-2024-08-06"


# OpenAIChatCompletionApi: chat only; the cross-provider methods live in ProviderManager

def test_the_chat_api_has_no_model_listing_or_cross_provider_methods() -> None:
    removed = ["get_available_models", "create_for_model_querying", "merged_models", "valid_scoped_models",
               "get_api_for_model_string", "validate_model", "split_first_slash",
               "get_provider_and_model_for_model_string", "discover_models", "_cached_models", "_cache_timestamp"]
    api = OpenAIChatCompletionApi("p", ProviderConfig(base_api_url=BASE), "m")
    assert not any(hasattr(OpenAIChatCompletionApi, name) or hasattr(api, name) for name in removed)


def test_optional_is_spelt_as_the_plan_spells_it() -> None:
    assert hints(ProviderManager.get)["return"] == Optional[ProviderConfig]
    assert hints(ProviderManager.get_provider_config)["return"] == Optional[ProviderConfig]


PLAN_MODULES = ("Config", "Types", "ProviderConfig", "ProviderManager", "ModelDiscoveryService",
                "OpenAIChatCompletionApi")


def test_no_public_function_of_the_plans_modules_takes_or_returns_bare_any() -> None:
    """Data read from TOML or JSON may stay Dict[str, Any]; a parameter or result that is just Any says nothing."""
    import ast
    root = Path(__file__).resolve().parents[1] / "modules"
    bare = []
    for module in PLAN_MODULES:
        for node in ast.walk(ast.parse((root / f"{module}.py").read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef) or (node.name.startswith("_") and node.name != "__init__"):
                continue
            arguments = node.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                             *filter(None, [arguments.vararg, arguments.kwarg])]:
                if argument.annotation is not None and ast.unparse(argument.annotation) == "Any":
                    bare.append(f"{module}.{node.name}({argument.arg})")
            if node.returns is not None and ast.unparse(node.returns) == "Any":
                bare.append(f"{module}.{node.name} -> Any")
    assert bare == []
