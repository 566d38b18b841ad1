"""ModelDiscoveryService: /models parsing and caching, ping classification, key checks (one request each)."""
from __future__ import annotations

import json
import time
from typing import List


import pytest
import requests
import responses

from llmc.base.Errors import ApiError, KeyRefusedError
from llmc.transport.HttpSettings import HttpSettings
from llmc.ModelDiscoveryService import ModelDiscoveryService, PingResult
from llmc.ProviderConfig import ProviderConfig
from tests.fake_openai_server import FakeOpenAIServer

BASE = "http://127.0.0.1:9/v1"
MODELS_URL = BASE + "/models"
CHAT_URL = BASE + "/chat/completions"
CHAT_REPLY = {"id": "c1", "object": "chat.completion",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                           "finish_reason": "stop"}]}


@pytest.fixture
def config() -> ProviderConfig:
    return ProviderConfig(name="Fake", base_api_url=BASE, api_key="test-key")


@pytest.fixture
def told() -> List[str]:
    """What the service told the user (its channel)."""
    return []


@pytest.fixture
def service(told: List[str]) -> ModelDiscoveryService:
    # No retries and no waiting: each test is about exactly one request.
    return ModelDiscoveryService(HttpSettings(max_retries=0, connect_timeout=1, read_timeout=1), on_wait=told.append)


def lines(told: List[str]) -> str:
    return "".join(line + "\n" for line in told)


def models_body(*ids: str) -> dict:
    return {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}


def sent_json(call) -> dict:
    return json.loads(call.request.body)


# GET /models

@responses.activate
def test_discover_models_returns_the_data_list_and_sends_the_key(service, config):
    responses.get(MODELS_URL, json=models_body("a", "b"))
    models = service.discover_models(config)
    assert [m["id"] for m in models] == ["a", "b"]
    assert responses.calls[0].request.headers["Authorization"] == "Bearer test-key"


@responses.activate
def test_a_bare_array_is_a_model_list_too(service, config):
    responses.get(MODELS_URL, json=[{"id": "a", "type": "chat"}, {"id": "b", "type": "embedding"}, {"x": 1}])
    assert [m["id"] for m in service.discover_models(config, provider_name="fake", warn=lambda _: None)] == ["a", "b"]


@pytest.mark.parametrize("body", [[], [{"x": 1}], "text", 7])
@responses.activate
def test_a_bare_array_without_models_fails(service, config, body):
    responses.get(MODELS_URL, json=body)
    with pytest.raises(ApiError):
        service.discover_models(config, provider_name="fake")


@responses.activate
def test_cache_is_honoured_for_five_minutes(service, config):
    responses.get(MODELS_URL, json=models_body("a"))
    service.discover_models(config)
    assert service.discover_models(config)[0]["id"] == "a"
    assert len(responses.calls) == 1
    assert config.cache_duration == 300


@responses.activate
def test_force_refresh_bypasses_the_cache(service, config):
    responses.get(MODELS_URL, json=models_body("a"))
    service.discover_models(config)
    responses.replace(responses.GET, MODELS_URL, json=models_body("a", "b"))
    assert [m["id"] for m in service.discover_models(config, force_refresh=True)] == ["a", "b"]
    assert len(responses.calls) == 2


@responses.activate
def test_stale_cache_is_refetched(service, config):
    responses.get(MODELS_URL, json=models_body("a"))
    service.discover_models(config)
    config._cache_timestamp = time.time() - 301
    service.discover_models(config)
    assert len(responses.calls) == 2


@responses.activate
def test_a_request_error_is_an_api_error_naming_the_provider_even_with_a_cached_list(service, config):
    responses.get(MODELS_URL, json=models_body("a"))
    service.discover_models(config)
    responses.replace(responses.GET, MODELS_URL, status=500, json={"error": {"message": "boom"}})
    with pytest.raises(ApiError) as caught:
        service.discover_models(config, force_refresh=True)
    assert str(caught.value).startswith("Fake: API request failed with status code 500.")
    assert "boom" in str(caught.value)


@responses.activate
def test_the_provider_key_names_the_key_variable(service):
    local = ProviderConfig(name="llama.cpp", base_api_url=BASE, api_key="wrong")
    responses.get(MODELS_URL, status=401, json={"error": {"message": "bad key"}})
    with pytest.raises(ApiError) as caught:
        service.discover_models(local, provider_name="local")
    assert str(caught.value).startswith("local: API request failed with status code 401.")
    assert "LOCAL_API_KEY" in str(caught.value) and "LLAMA" not in str(caught.value)


@responses.activate
def test_a_connection_error_is_an_api_error_naming_the_provider(service, config):
    responses.get(MODELS_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(ApiError, match=r"\(Fake\) failed: refused"):
        service.discover_models(config)


@pytest.mark.parametrize("body", [{"object": "list"}, {"data": "nope"}, {"data": []}, {"data": [{"x": 1}]},
                                  {"data": [{"id": 7}, "x", {"id": ""}]}])
@responses.activate
def test_a_reply_without_usable_data_is_a_failure_not_an_empty_success(service, config, body):
    responses.get(MODELS_URL, json=body)
    with pytest.raises(ApiError, match="^Fake: the /models reply"):
        service.discover_models(config)
    assert config._cached_models == []


@responses.activate
def test_an_error_object_in_a_200_reply_is_named(service, config):
    responses.get(MODELS_URL, json={"error": {"message": "models endpoint\n disabled", "type": "x"}})
    with pytest.raises(ApiError) as caught:
        service.discover_models(config, provider_name="fake")
    assert str(caught.value) == ("fake: the /models reply has no 'data' list; "
                                 "the provider says: models endpoint disabled")


@responses.activate
def test_entries_without_an_id_are_skipped_with_one_warning(service, config):
    body = models_body("a", "b")
    body["data"][1:1] = [{"object": "model"}, {"id": None}, "junk"]
    responses.get(MODELS_URL, json=body)
    warnings = []
    models = service.discover_models(config, provider_name="fake", warn=warnings.append)
    assert [m["id"] for m in models] == ["a", "b"]
    assert warnings == ["fake: skipped 3 /models entries without an 'id'"]
    assert service.discover_models(config, provider_name="fake", warn=warnings.append) == models  # cached: no second warning
    assert len(warnings) == 1 and len(responses.calls) == 1


@responses.activate
def test_the_id_warning_goes_to_the_services_channel_by_default(service, config, told):
    responses.get(MODELS_URL, json={"data": [{"id": "a"}, {"name": "b"}]})
    assert [m["id"] for m in service.discover_models(config)] == ["a"]
    assert lines(told) == "Fake: skipped 1 /models entry without an 'id'\n"


@responses.activate
def test_cache_is_runtime_only(service, config):
    responses.get(MODELS_URL, json=models_body("a"))
    service.discover_models(config)
    dumped = config.model_dump()
    assert "_cached_models" not in dumped and "cache_duration" not in dumped


# Ping classification

@responses.activate
def test_chat_reply_is_valid(service, config):
    responses.post(CHAT_URL, json=CHAT_REPLY)
    assert service.ping_model(config, "m", provider_name="fake") is PingResult.VALID
    assert bool(service.ping_model(config, "m")) is True


def test_only_a_valid_ping_result_is_true():
    assert [bool(result) for result in PingResult] == [True, False, False]


@responses.activate
def test_reply_without_pong_is_still_valid(service, config):
    reply = json.loads(json.dumps(CHAT_REPLY))
    reply["choices"][0]["message"]["content"] = "Hello! How can I help?"
    responses.post(CHAT_URL, json=reply)
    assert service.ping_model(config, "m", provider_name="fake") is PingResult.VALID


@responses.activate
def test_reply_without_choices_decides_nothing(service, config):
    responses.post(CHAT_URL, json={"id": "x", "object": "chat.completion"})
    assert service.ping_model(config, "m", provider_name="fake") is PingResult.UNDECIDED


@pytest.mark.parametrize("status", [400, 404, 422])
@responses.activate
def test_a_4xx_refusal_is_invalid(service, config, status):
    responses.post(CHAT_URL, status=status, json={"error": {"message": "not a chat model"}})
    assert service.ping_model(config, "m", provider_name="fake") is PingResult.INVALID
    assert bool(service.ping_model(config, "m")) is False


@pytest.mark.parametrize("status", [402, 429, 500, 502, 503, 504])
@responses.activate
def test_5xx_402_and_429_decide_nothing(service, config, status):
    responses.post(CHAT_URL, status=status, json={"error": {"message": "later"}})
    assert service.ping_model(config, "m", provider_name="fake") is PingResult.UNDECIDED


@pytest.mark.parametrize("error", [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow"),
                                   requests.ConnectionError("refused")])
@responses.activate
def test_timeouts_and_connection_errors_decide_nothing(service, config, error):
    responses.post(CHAT_URL, body=error)
    assert service.ping_model(config, "m", provider_name="fake") is PingResult.UNDECIDED


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-mini", "o1", "o3-mini", "o4-mini"])
@responses.activate
def test_new_openai_models_get_max_completion_tokens_and_temperature_1(service, config, model):
    responses.post(CHAT_URL, json=CHAT_REPLY)
    service.ping_model(config, model, provider_name="fake")
    body = sent_json(responses.calls[0])
    assert "max_tokens" not in body and body["max_completion_tokens"] == 16
    assert body["temperature"] == 1 and body["model"] == model and body["stream"] is False


@pytest.mark.parametrize("model", ["gpt-4o", "deepseek-chat", "Qwen/QwQ-32B"])
@responses.activate
def test_other_models_get_max_tokens_and_temperature_0(service, config, model):
    responses.post(CHAT_URL, json=CHAT_REPLY)
    service.ping_model(config, model, provider_name="fake")
    body = sent_json(responses.calls[0])
    assert "max_completion_tokens" not in body and body["max_tokens"] == 16
    assert body["temperature"] == 0.0
    assert body["messages"] == [{"role": "user", "content": "Hi"}]  # the shortest prompt: no system message


@pytest.mark.parametrize("sent, other", [("max_tokens", "max_completion_tokens"),
                                         ("max_completion_tokens", "max_tokens")])
@responses.activate
def test_refused_token_field_is_retried_with_the_other_one(service, config, sent, other):
    model = "gpt-5" if sent == "max_completion_tokens" else "gpt-4o"
    message = f"Unsupported parameter: '{sent}' is not supported with this model. Use '{other}' instead."
    responses.post(CHAT_URL, status=400, json={"error": {"message": message}})
    responses.post(CHAT_URL, json=CHAT_REPLY)
    assert service.ping_model(config, model, provider_name="fake") is PingResult.VALID
    first, second = (sent_json(call) for call in responses.calls)
    assert sent in first and other not in first
    assert other in second and sent not in second and second[other] == first[sent]


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_a_refused_key_is_no_verdict_on_the_model(service, config, status):
    responses.post(CHAT_URL, status=status, json={"error": {"message": "invalid api key"}})
    with pytest.raises(KeyRefusedError) as info:
        service.ping_model(config, "m", provider_name="fake")
    assert info.value.status == status and len(responses.calls) == 1


@pytest.mark.parametrize("finish_reason, content", [("length", "Hello, I am a very long"), ("length", ""),
                                                    ("stop", ""), ("length", None)])
@responses.activate
def test_a_reply_cut_by_the_limit_or_empty_is_a_chat_reply(service, config, finish_reason, content):
    reply = json.loads(json.dumps(CHAT_REPLY))
    reply["choices"][0].update(finish_reason=finish_reason, message={"role": "assistant", "content": content,
                                                                     "reasoning_content": "Let me think"})
    responses.post(CHAT_URL, json=reply)
    assert service.ping_model(config, "o3-mini", provider_name="fake") is PingResult.VALID


@pytest.mark.parametrize("message, field, value", [
    ("Invalid 'max_completion_tokens': integer below minimum value. Expected a value >= 32, but got 16.",
     "max_completion_tokens", 32),
    ("max_tokens must be at least 20", "max_tokens", 20),
    ("Unsupported parameter: 'max_tokens'.", "max_completion_tokens", 16),
])
@responses.activate
def test_a_400_about_the_token_budget_is_adjusted_and_retried_once(service, config, message, field, value):
    model = "gpt-5" if "completion" in message else "gpt-4o"
    responses.post(CHAT_URL, status=400, json={"error": {"message": message}})
    responses.post(CHAT_URL, json=CHAT_REPLY)
    assert service.ping_model(config, model, provider_name="fake") is PingResult.VALID
    assert len(responses.calls) == 2 and sent_json(responses.calls[1])[field] == value


@pytest.mark.parametrize("message", ["max_tokens must be at least 20",
                                     "max_completion_tokens must be at least 4096"])
@responses.activate
def test_a_token_budget_quarrel_that_goes_on_is_undecided_never_invalid(service, config, message):
    responses.post(CHAT_URL, status=400, json={"error": {"message": message}})
    assert service.ping_model(config, "gpt-4o", provider_name="fake") is PingResult.UNDECIDED
    assert len(responses.calls) <= 2


@responses.activate
def test_a_400_not_about_tokens_is_not_retried(service, config):
    responses.post(CHAT_URL, status=400, json={"error": {"message": "model does not support chat"}})
    assert service.ping_model(config, "embed-1", provider_name="fake") is PingResult.INVALID
    assert len(responses.calls) == 1


# Pooling

@responses.activate
def test_one_client_per_provider_is_reused(service, config):
    other = ProviderConfig(name="Other", base_api_url=BASE, api_key="k2")
    assert service.client_for(config, "fake") is service.client_for(config, "fake")
    assert service.client_for(config, "fake") is not service.client_for(other, "other")


def test_two_configs_made_one_after_the_other_never_share_a_client():
    # The second config may well reuse the memory (and so the id()) of the first, freed one.
    service = ModelDiscoveryService(HttpSettings(max_retries=0, connect_timeout=2, read_timeout=2))
    with FakeOpenAIServer(api_key="key-a", chat_models=["model-a"], non_chat_models=[]) as server_a, \
            FakeOpenAIServer(api_key="key-b", chat_models=["model-b"], non_chat_models=[]) as server_b:
        for round_ in range(20):
            server_a_first = round_ % 2 == 0
            server, key, model = (server_a, "key-a", "model-a") if server_a_first else (server_b, "key-b", "model-b")
            models = service.discover_models(ProviderConfig(base_api_url=server.base_url, api_key=key),
                                             force_refresh=True, provider_name="fake")
            assert [m["id"] for m in models] == [model]
        assert len(server_a.requests) == len(server_b.requests) == 10


def test_the_same_connection_shares_one_client_across_config_objects(service):
    first = ProviderConfig(base_api_url=BASE, api_key="k")
    again = ProviderConfig(base_api_url=BASE, api_key="k")  # e.g. after a providers reload
    assert service.client_for(first, "fake") is service.client_for(again, "fake")
    assert service.client_for(first, "fake") is not service.client_for(ProviderConfig(base_api_url=BASE,
                                                                                      api_key="other"), "fake")


def test_use_concurrency_sizes_the_connection_pool():
    service = ModelDiscoveryService(lambda: HttpSettings(pool_size=4))
    service.use_concurrency(32)
    assert service.settings.pool_size == 32 and service.concurrency == 32


def test_settings_factory_is_called_only_on_first_use():
    calls = []
    service = ModelDiscoveryService(lambda: calls.append(1) or HttpSettings(max_retries=1))
    assert calls == []
    assert service.settings.max_retries == 1 and service.settings.max_retries == 1
    assert calls == [1]


@responses.activate
def test_listing_models_waits_at_most_10_s_while_pings_use_the_read_timeout(config):
    service = ModelDiscoveryService(HttpSettings(max_retries=0, connect_timeout=3, read_timeout=60))
    responses.get(MODELS_URL, json=models_body("a"))
    responses.post(CHAT_URL, json=CHAT_REPLY)
    service.discover_models(config)
    service.ping_model(config, "a", provider_name="fake")
    assert responses.calls[0].request.req_kwargs["timeout"] == (3, 10.0)
    assert responses.calls[1].request.req_kwargs["timeout"] == (3, 60)


HOSTILE_IDS = ["lone\ud800x", "nul\x00", "nel\x85x", "line\u2028sep", "para\u2029sep", "bell\x07", "x" * 513,
               "evil-trailing ", " leading", " "]


@responses.activate
def test_ids_llmc_could_not_save_are_skipped_with_one_warning(service, config):
    # json.dumps writes the lone surrogate as the escape "\ud800", as a hostile server would
    responses.get(MODELS_URL, body=json.dumps(models_body("good-1", *HOSTILE_IDS, "x" * 512)),
                  content_type="application/json")
    warnings = []
    models = service.discover_models(config, provider_name="fake", warn=warnings.append)
    assert [m["id"] for m in models] == ["good-1", "x" * 512]
    assert warnings == [f"fake: skipped {len(HOSTILE_IDS)} /models entries with an id llmc cannot use "
                        "(spaces at either end, control characters, line separators, lone surrogates or over 512 "
                        "characters)"]


@responses.activate
def test_missing_and_unusable_ids_share_one_warning_line(service, config):
    body = models_body("good", "bad\x00")
    body["data"].append({"object": "model"})
    responses.get(MODELS_URL, json=body)
    warnings = []
    service.discover_models(config, provider_name="fake", warn=warnings.append)
    assert len(warnings) == 1 and warnings[0].startswith(
        "fake: skipped 2 /models entries: 1 without an 'id', 1 with an id llmc cannot use (")


@responses.activate
def test_a_list_of_only_unusable_ids_is_a_failed_discovery(service, config):
    responses.get(MODELS_URL, json=models_body(*HOSTILE_IDS))
    with pytest.raises(ApiError, match="the /models reply has no model id llmc can use"):
        service.discover_models(config, provider_name="fake", warn=lambda _: None)


KEPT_ODD_IDS = ["a b", "org/model:free", "/leading-slash", "trailing-slash/", "ünï-cødé", "x" * 512, "4o", "fake/x"]


def test_every_id_the_rule_keeps_resolves_with_and_without_its_provider(tmp_path):
    from llmc.ModelDiscoveryService import is_sane_model_id
    from llmc.ProviderManager import ProviderManager
    assert all(is_sane_model_id(model) for model in KEPT_ODD_IDS)
    config = ProviderConfig(name="Local", base_api_url="http://127.0.0.1:9/v1")
    config.merge_valid_models(KEPT_ODD_IDS)
    manager = ProviderManager({"local": config})
    for model in KEPT_ODD_IDS:
        assert manager.validate_model(f"local/{model}") == model
        assert manager.validate_model(f"  {model} ") == model  # as -m takes it, spaces around it dropped
