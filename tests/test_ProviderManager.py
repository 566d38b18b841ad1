"""ProviderManager: dict-like access, model resolution, and discovery against the fake server on 127.0.0.1."""
from __future__ import annotations

import dataclasses
import socket
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml

from llmc.transport.HttpSettings import HttpSettings
from llmc.discovery.LocalServerScanner import LocalServerScanner
from llmc.discovery.SocketOwner import FOREIGN, UNKNOWN, SocketOwner
from llmc.ModelDiscoveryService import ModelDiscoveryService
from llmc.ProviderConfig import ProviderConfig
from llmc.base.ChatOptions import ChatOptions
from llmc.base.Errors import ApiError, ConfigError, DiscoveryCancelled, InvalidModelError, LlmcError
from llmc.base.OutputChannel import OutputChannel
from llmc.ProviderManager import ProviderManager, split_first_slash
from llmc.discovery.ProvidersYamlStore import ProvidersYamlStore
from tests.fake_openai_server import FakeOpenAIServer
from tests.hostile_server import HostileServer, chat_completion, models_list

FAST = HttpSettings(connect_timeout=2, read_timeout=2, max_retries=0)


def resolved(manager: ProviderManager, model_string: str) -> tuple:
    """(provider name, long id) that a model string resolves to (get_api_for_model_string agrees)."""
    model = manager.resolve(model_string)
    assert manager.get_api_for_model_string(model_string) == (model.config, model.long_id)
    return model.provider, model.long_id


def sample_manager() -> ProviderManager:
    return ProviderManager({
        "openai": ProviderConfig(name="OpenAI", api_key="sk-x", valid_models={
            "gpt-4o-2024-08-06": "4o", "gpt-4o-mini-2024-07-18": "4o-mini", "gpt-5": "5"}),
        "hyperbolic": ProviderConfig(name="Hyperbolic", api_key="hk", valid_models={
            "Qwen/QwQ-32B": "qdub", "moonshotai/Kimi-K2-Instruct": "k2"}),
        "deepseek": ProviderConfig(name="DeepSeek", api_key="dk", valid_models={
            "deepseek-chat": "dschat", "deepseek-reasoner": "r1"}),
    }, report=lambda line: None)


# Dict-like interface and lookups

def test_dict_like_interface():
    manager = sample_manager()
    assert manager.keys() == ["openai", "hyperbolic", "deepseek"]
    assert "openai" in manager and "nope" not in manager
    assert manager["deepseek"].name == "DeepSeek" and manager.get("nope") is None
    assert [name for name, _ in manager.items()] == manager.keys() == list(manager)
    assert [c.name for c in manager.values()] == ["OpenAI", "Hyperbolic", "DeepSeek"]
    assert len(manager) == 3
    assert manager.get_provider_config("openai") is manager["openai"]
    assert manager.get_all_provider_names() == ["openai", "hyperbolic", "deepseek"]
    with pytest.raises(KeyError):
        manager["nope"]


@pytest.mark.parametrize("text, expected", [
    ("openai/gpt-4o", ("openai", "gpt-4o")),
    ("gpt-4o", ("", "gpt-4o")),
    ("hyperbolic/Qwen/QwQ-32B", ("hyperbolic", "Qwen/QwQ-32B")),
    ("", ("", "")),
])
def test_split_first_slash(text, expected):
    assert split_first_slash(text) == expected


@pytest.mark.parametrize("model_string, expected", [
    ("openai/gpt-4o-2024-08-06", ("openai", "gpt-4o-2024-08-06")),
    ("OpenAI/4o", ("openai", "gpt-4o-2024-08-06")),
    ("DEEPSEEK/r1", ("deepseek", "deepseek-reasoner")),
    ("hyperbolic/Qwen/QwQ-32B", ("hyperbolic", "Qwen/QwQ-32B")),
    ("hyperbolic/qdub", ("hyperbolic", "Qwen/QwQ-32B")),
    ("Qwen/QwQ-32B", ("hyperbolic", "Qwen/QwQ-32B")),
    ("k2", ("hyperbolic", "moonshotai/Kimi-K2-Instruct")),
    ("4o-mini", ("openai", "gpt-4o-mini-2024-07-18")),
    ("deepseek-chat", ("deepseek", "deepseek-chat")),
])
def test_resolution(model_string, expected):
    manager = sample_manager()
    assert resolved(manager, model_string) == expected
    provider_config, long_name = manager.get_api_for_model_string(model_string)
    assert provider_config is manager[expected[0]] and long_name == expected[1]
    assert manager.validate_model(model_string) == expected[1]


def test_unprefixed_search_follows_provider_order():
    manager = ProviderManager({
        "a": ProviderConfig(valid_models={"shared": "s"}),
        "b": ProviderConfig(valid_models={"shared": "s", "only-b": "ob"}),
    }, report=lambda line: None)
    assert resolved(manager, "shared") == ("a", "shared")
    assert resolved(manager, "b/shared") == ("b", "shared")
    assert resolved(manager, "ob") == ("b", "only-b")


def test_invalid_model_names_the_closest_few_and_how_to_list_the_rest():
    manager = sample_manager()
    with pytest.raises(ValueError) as info:
        manager.validate_model("deepseek-chatt")
    text = str(info.value)
    assert text.startswith("Invalid model: deepseek-chatt. Did you mean: deepseek/deepseek-chat (dschat)")
    assert text.endswith(" llmc --list-models lists all 7 known (/list in the chat).")
    assert "gpt-4o" not in text and "qdub" not in text  # no unrelated guesses, no list of every model
    with pytest.raises(ValueError, match=r"Did you mean: hyperbolic/moonshotai/Kimi-K2-Instruct \(k2\)\?"):
        manager.validate_model("kimi")


def test_a_prefixed_id_of_another_provider_is_suggested():
    manager = sample_manager()
    manager.providers["openrouter"] = ProviderConfig(api_key="ok", valid_models={
        "deepseek/deepseek-r1:free": "deepseek/deepseek-r1:free"})
    with pytest.raises(ValueError) as info:
        resolved(manager, "deepseek/deepseek-r1:free")
    assert str(info.value).startswith("Invalid model for provider deepseek: deepseek-r1:free. Did you mean: "
                                      "openrouter/deepseek/deepseek-r1:free (deepseek/deepseek-r1:free)")


def test_invalid_model_for_a_provider_lists_that_providers_models_only():
    manager = sample_manager()
    with pytest.raises(ValueError) as info:
        manager.get_api_for_model_string("openai/deepseek-chat")
    text = str(info.value)
    assert text.startswith("Invalid model for provider openai: deepseek-chat.")
    assert "llmc --list-models --provider openai lists all" in text and "deepseek/" not in text


def test_unknown_prefix_is_searched_as_a_whole_id():
    manager = ProviderManager({"hyperbolic": ProviderConfig(valid_models={"Qwen/QwQ-32B": "qdub"})},
                              report=lambda line: None)
    assert resolved(manager, "Qwen/QwQ-32B") == ("hyperbolic", "Qwen/QwQ-32B")
    with pytest.raises(ValueError, match="^Invalid model: nobody/x"):
        resolved(manager, "nobody/x")


def test_hundreds_of_models_are_not_listed_in_the_error():
    manager = ProviderManager({"p": ProviderConfig(valid_models={f"model-{i}": f"s{i}" for i in range(300)})},
                              report=lambda line: None)
    with pytest.raises(ValueError) as info:
        resolved(manager, "zzz")
    assert str(info.value) == "Invalid model: zzz. llmc --list-models lists all 300 known (/list in the chat)."


def test_listing_helpers():
    manager = sample_manager()
    assert manager.get_available_models("deepseek") == ["deepseek-chat", "deepseek-reasoner"]
    assert len(manager.get_available_models()) == 7
    assert manager.merged_models()[0] == ("openai", ("gpt-4o-2024-08-06", "4o"))
    assert manager.valid_scoped_models()[-1] == "deepseek/deepseek-reasoner (r1)"
    assert manager.valid_scoped_models("hyperbolic") == [
        "hyperbolic/Qwen/QwQ-32B (qdub)", "hyperbolic/moonshotai/Kimi-K2-Instruct (k2)"]
    assert ProviderManager.get_short_name("gpt-5") == "gpt-5"
    assert manager.resolve("openai/gpt-5").short_name == "5"


def test_find_model_returns_each_matching_provider():
    manager = sample_manager()
    found = manager.find_model("4o")
    assert [(c.name, m) for c, m in found] == [("OpenAI", "gpt-4o-2024-08-06")]
    assert [(c.name, m) for c, m in manager.find_model("Qw")] == [("Hyperbolic", "Qwen/QwQ-32B")]
    assert manager.find_model("nothing-like-it") == []


def test_resolve_provider_name_ignores_case():
    manager = sample_manager()
    assert manager.resolve_provider_name("HyperBolic") == "hyperbolic"
    assert manager.resolve_provider_name("x") is None


# Discovery against the fake server

CHAT = ["chat-a", "chat-b", "gpt-5-mini"]
NON_CHAT = ["embed-1", "tts-1"]


@pytest.fixture
def server():
    with FakeOpenAIServer(chat_models=CHAT, non_chat_models=NON_CHAT) as srv:
        yield srv


class Harness:
    """A ProviderManager over the fake server with a YAML store in a temp dir; reports and warnings captured."""

    def __init__(self, tmp_path: Path, providers: Dict[str, ProviderConfig],
                 settings: HttpSettings = FAST, concurrency: int = 4, local_ports: tuple = (),
                 owner_of=None) -> None:
        self.path = tmp_path / "openaicompat-providers.yaml"
        self.lines: List[str] = []
        self.warnings: List[str] = []
        self.manager = ProviderManager(providers, store=ProvidersYamlStore(self.path),
                                       discovery_service=ModelDiscoveryService(settings),
                                       concurrency=concurrency, report=self.lines.append,
                                       warn=self.warnings.append,
                                       local_scanner=self._scanner(local_ports, owner_of))
        self.summaries: List = []  # what the last run reported, one DiscoverySummary per provider
        report = self.manager._report_summaries

        def recorded(summaries, out) -> None:
            self.summaries = list(summaries)
            report(summaries, out)
        self.manager._report_summaries = recorded

    @staticmethod
    def _scanner(ports: tuple, owner_of) -> Optional[LocalServerScanner]:
        if not ports:
            return None
        return LocalServerScanner(ports) if owner_of is None else LocalServerScanner(ports, owner_of=owner_of)

    def run(self, **kwargs) -> bool:
        return self.manager.discover_and_validate_models(**kwargs)

    def saved(self) -> Optional[dict]:
        return yaml.safe_load(self.path.read_text()) if self.path.exists() else None

    def pings(self, srv: FakeOpenAIServer) -> List[str]:
        return [r["json"]["model"] for r in srv.requests if r["path"].endswith("/chat/completions")]


def fake_config(srv: FakeOpenAIServer, **fields) -> ProviderConfig:
    return ProviderConfig(**{"name": "Fake", "base_api_url": srv.base_url, "api_key": "test-key", **fields})


def test_discovery_persists_valid_and_invalid_models(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"})})
    assert h.run() is True
    config = h.manager["fake"]
    assert config.valid_models == {"chat-a": "a", "chat-b": "chat-b", "gpt-5-mini": "gpt-5-mini"}
    assert config.invalid_models == ["embed-1", "tts-1"]
    saved = h.saved()["providers"]["fake"]
    assert saved["valid_models"] == config.valid_models
    assert saved["invalid_models"] == ["embed-1", "tts-1"]
    assert saved["name"] == "Fake" and "api_key" not in saved
    assert h.lines[0] == "fake: 5 models found, 3 valid, 2 invalid, 0 undecided (" + h.lines[0].split("(")[1]
    assert h.warnings[-1] == f"Provider configurations persisted to {h.path}"  # a notice, not a result
    assert sorted(h.pings(server)) == sorted(CHAT + NON_CHAT)


def test_ping_uses_the_token_field_of_the_model(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server)})
    h.run(persist_on_success=False)
    bodies = {r["json"]["model"]: r["json"] for r in server.requests if r["json"]}
    assert "max_completion_tokens" in bodies["gpt-5-mini"] and bodies["gpt-5-mini"]["temperature"] == 1
    assert "max_tokens" in bodies["chat-a"] and bodies["chat-a"]["temperature"] == 0.0


def test_remembered_invalid_models_are_not_pinged_again(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server, invalid_models=["embed-1"])})
    assert h.run(persist_on_success=False)
    assert "embed-1" not in h.pings(server)
    assert h.manager["fake"].invalid_models == ["embed-1", "tts-1"]


def test_force_refresh_pings_remembered_invalid_models_and_can_revalidate_them(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server, invalid_models=["chat-b", "embed-1"])})
    assert h.run(force_refresh=True, persist_on_success=False)
    assert {"chat-b", "embed-1"} <= set(h.pings(server))
    config = h.manager["fake"]
    assert "chat-b" in config.valid_models and "chat-b" not in config.invalid_models


def test_a_model_that_stops_chatting_leaves_the_valid_list(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"embed-1": "e1", "chat-a": "a"})})
    assert h.run()
    config = h.manager["fake"]
    assert "embed-1" not in config.valid_models and "embed-1" in config.invalid_models
    assert not set(config.valid_models) & set(config.invalid_models)
    saved = h.saved()["providers"]["fake"]
    assert not set(saved["valid_models"]) & set(saved["invalid_models"])


def test_undecided_pings_change_nothing(tmp_path, server):
    server.set(fault_rate={"/chat/completions": {"status": 500}})
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"},
                                               invalid_models=["tts-1"])})
    assert h.run() is True
    config = h.manager["fake"]
    assert config.valid_models == {"chat-a": "a"} and config.invalid_models == ["tts-1"]
    assert h.lines[0].startswith("fake: 5 models found, 0 valid, 1 invalid, 4 undecided (")
    assert h.warnings[:-1] == ["fake: 4 undecided, left as they were; a later run will try them again: "
                               "chat-a, chat-b, gpt-5-mini, embed-1"]
    assert h.warnings[-1] == f"Provider configurations persisted to {h.path}"


def test_timeouts_are_undecided(tmp_path, server):
    server.set(fault_rate={"/chat/completions": {"kind": "stall", "seconds": 2}})
    settings = HttpSettings(connect_timeout=1, read_timeout=0.3, max_retries=0)
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"})}, settings, concurrency=8)
    assert h.run(persist_on_success=False)
    summary = h.summaries[0]
    assert summary.undecided == CHAT and summary.invalid == NON_CHAT  # non-chat models refuse at once
    assert h.manager["fake"].valid_models == {"chat-a": "a"}


def test_unknown_provider_filter_names_the_known_providers(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server), "other": fake_config(server)})
    assert h.run(provider_filter="nope") is False
    assert h.warnings == ["Provider 'nope' not found. Known providers: fake, other"] and h.lines == []
    assert server.requests == [] and not h.path.exists()


def test_provider_filter_ignores_case_and_limits_discovery(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server), "other": fake_config(server, api_key="bad")})
    assert h.run(provider_filter="FAKE") is True
    assert list(h.saved()["providers"]) == ["fake"]


def test_providers_without_a_key_are_skipped_and_that_is_no_failure(tmp_path, server):
    h = Harness(tmp_path, {"nokey": ProviderConfig(api_key=""), "placeholder": ProviderConfig(api_key="not-configured"),
                           "fake": fake_config(server)})
    assert h.run() is True
    assert h.warnings[0] == ("Passed over 2 providers without an API key (nokey, placeholder); "
                             "llmc --list-providers shows each one's key variable")
    assert list(h.saved()["providers"]) == ["fake"]


def test_a_local_provider_needs_no_key_and_is_sent_none(tmp_path, server):
    server.set(api_key=None)
    h = Harness(tmp_path, {"local": fake_config(server, api_key=""),
                           "placeholder": fake_config(server, api_key="not-configured")})
    assert h.run() is True
    assert not any(w.startswith("Skipping") for w in h.warnings)
    assert h.saved()["providers"]["local"]["valid_models"] == {m: m for m in CHAT}
    assert server.requests and all("Authorization" not in r["headers"] for r in server.requests)


def test_a_named_provider_without_a_key_fails(tmp_path, server):
    h = Harness(tmp_path, {"nokey": ProviderConfig(api_key=""), "fake": fake_config(server)})
    assert h.run(provider_filter="nokey") is False
    assert h.warnings == ["Skipping nokey: no API key configured (set NOKEY_API_KEY or run llmc --set-key nokey)",
                          "Nothing to discover: no provider asked for has an API key."]
    assert server.requests == [] and not h.path.exists()


def test_no_provider_with_a_key_is_a_failure(tmp_path, server):
    h = Harness(tmp_path, {"nokey": ProviderConfig(api_key=""), "placeholder": ProviderConfig(api_key="not-configured")})
    assert h.run() is False
    assert h.warnings[-1] == "Nothing to discover: no provider asked for has an API key."
    assert not h.path.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("failure", ["refused", "401", "no_data", "html_500"])
def test_one_failing_provider_means_nothing_is_persisted(tmp_path, server, failure):
    with FakeOpenAIServer(chat_models=CHAT, non_chat_models=NON_CHAT) as other:
        broken = fake_config(other, name="Broken")
        if failure == "refused":
            broken.base_api_url = f"http://127.0.0.1:{_free_port()}/v1"
        elif failure == "401":
            broken.api_key = "wrong-key"
        else:
            kind = {"no_data": {"kind": "no_data"}, "html_500": {"kind": "html_error", "status": 500}}[failure]
            other.set(fault_rate={"/models": kind})
        _check_nothing_persisted(tmp_path, server, broken, failure)


def _check_nothing_persisted(tmp_path, server, broken, failure):
    h = Harness(tmp_path, {"broken": broken, "fake": fake_config(server)})
    h.path.write_text("# my providers\nproviders:\n  fake:\n    valid_models: {old: o}\n")
    before = h.path.read_bytes()
    assert h.run() is False
    assert h.path.read_bytes() == before
    failed = [line for line in h.warnings if line.startswith("broken: failed: ")]
    assert len(failed) == 1
    assert {"refused": "connection refused", "401": "API request failed with status code 401.", "no_data": "no 'data' list",
            "html_500": "API request failed with status code 500."}[failure] in failed[0]
    assert h.warnings[-2:] == ["Discovery failed for broken; nothing was saved.",
                               "To save the others, discover them one at a time with --discover-models NAME "
                               "(in the chat /discover-models NAME): fake"]
    assert h.lines[0].startswith("fake: 5 models found, ")  # the provider that worked is still reported
    assert h.manager["broken"].valid_models == {}


def test_several_providers_are_discovered_in_one_run(tmp_path):
    with FakeOpenAIServer(chat_models=["x1", "x2"], non_chat_models=["xe"]) as one, \
            FakeOpenAIServer(chat_models=["y1"], non_chat_models=[]) as two:
        h = Harness(tmp_path, {"one": fake_config(one), "two": fake_config(two)})
        assert h.run() is True
        assert h.manager["one"].valid_models == {"x1": "x1", "x2": "x2"}
        assert h.manager["two"].valid_models == {"y1": "y1"}
        assert [line.split(":")[0] for line in h.lines[:2]] == ["one", "two"]


def test_parallel_results_equal_serial_results_in_the_same_order(tmp_path):
    chat = [f"c{i:02d}" for i in range(40)]
    non_chat = [f"e{i:02d}" for i in range(0, 40, 7)]
    results = []
    for concurrency in (1, 12):
        with FakeOpenAIServer(chat_models=chat, non_chat_models=non_chat) as srv:
            h = Harness(tmp_path / str(concurrency), {"fake": fake_config(srv)}, concurrency=concurrency)
            h.path.parent.mkdir()
            assert h.run()
            summary = h.summaries[0]
            results.append((list(h.manager["fake"].valid_models), h.manager["fake"].invalid_models,
                            summary.valid, summary.invalid, h.path.read_text().replace(srv.base_url, "URL")))
    assert results[0] == results[1]
    assert results[0][0] == chat and results[0][1] == non_chat


def test_connections_are_pooled_and_reused(tmp_path):
    chat = [f"c{i:02d}" for i in range(96)]
    with FakeOpenAIServer(chat_models=chat, non_chat_models=[]) as srv:
        h = Harness(tmp_path, {"fake": fake_config(srv)}, HttpSettings(pool_size=2, max_retries=0), concurrency=8)
        assert h.run(persist_on_success=False)
        assert len(h.pings(srv)) == 96
        # The pool grows to the concurrency, so no connection is discarded and re-opened.
        assert srv.connections_opened <= 8


def test_progress_reports_every_ping(tmp_path, server):
    updates = []
    h = Harness(tmp_path, {"fake": fake_config(server)})
    h.run(persist_on_success=False, on_progress=lambda p, d, t: updates.append((p, d, t)))
    assert updates[0] == ("fake", 0, 5) and updates[-1] == ("fake", 5, 5)
    assert sorted(d for _, d, _ in updates) == [0, 1, 2, 3, 4, 5]


def test_a_rate_limit_storm_slows_down_and_marks_nothing_invalid(tmp_path):
    chat = [f"c{i:02d}" for i in range(12)]
    with FakeOpenAIServer(chat_models=chat, non_chat_models=["e1"]) as srv:
        srv.add_fault("/chat/completions", {"status": 429, "retry_after": "0.2"}, times=6)
        settings = HttpSettings(connect_timeout=2, read_timeout=2, max_retries=5)
        h = Harness(tmp_path, {"fake": fake_config(srv)}, settings, concurrency=6)
        assert h.run(persist_on_success=False)
        notices = [line for line in h.warnings if "rate limited" in line]  # the run's notices
        throttle = h.manager.discovery_service.throttle_for(h.manager["fake"], "fake")
        summary = h.summaries[0]
        assert summary.valid == chat and summary.invalid == ["e1"] and summary.undecided == []
        assert throttle.backoffs >= 1 and throttle.lowest_allowed <= 3
        assert 1 <= len(notices) < 6  # one notice per pause, not one per rate-limited request
        assert "rate limited (429)" in notices[0]


def test_an_exhausted_rate_limit_is_undecided_not_invalid(tmp_path, server):
    server.set(fault_rate={"/chat/completions": {"status": 429, "retry_after": "0"}})
    settings = HttpSettings(connect_timeout=2, read_timeout=2, max_retries=1)
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"})}, settings)
    assert h.run(persist_on_success=False)
    assert h.summaries[0].undecided == CHAT + NON_CHAT
    assert h.manager["fake"].invalid_models == []
    assert h.lines[0].startswith("fake: 5 models found, 0 valid, 0 invalid, 5 undecided (")
    assert [w for w in h.warnings if "rate limited" not in w] == [
        "fake: 5 undecided, left as they were; a later run will try them again: " + ", ".join(CHAT + NON_CHAT)]


def test_a_manager_given_no_channel_prints_nothing_and_a_run_tells_its_own(capsys):
    manager = ProviderManager({"nokey": ProviderConfig(api_key="")})
    assert manager.discover_and_validate_models() is False
    assert capsys.readouterr() == ("", "")
    notices: List[str] = []
    assert manager.discover_and_validate_models(output=OutputChannel(notice=notices.append)) is False
    assert "Passed over 1 provider without an API key (nokey); llmc --list-providers shows each one's key variable" \
        in notices


def test_cancel_changes_and_persists_nothing(tmp_path):
    chat = [f"c{i:02d}" for i in range(20)]
    with FakeOpenAIServer(chat_models=chat, non_chat_models=["e1"], latency=0.05) as srv:
        h = Harness(tmp_path, {"fake": fake_config(srv, valid_models={"keep": "k"})}, concurrency=2)
        cancel = threading.Event()

        def progress(provider, done, total):
            if done >= 3:
                cancel.set()
        with pytest.raises(DiscoveryCancelled):
            h.run(on_progress=progress, cancel=cancel)
        assert h.manager["fake"].valid_models == {"keep": "k"}
        assert h.manager["fake"].invalid_models == []
        assert not h.path.exists()


# Prices from /models

OPENROUTER_PRICING = {"chat-a": {"pricing": {"prompt": "0.0000025", "completion": "0.00001", "request": "0"}},
                      "chat-b": {"pricing": {"prompt": "0", "completion": "0"}},
                      "embed-1": {"pricing": {"prompt": "0.0000001", "completion": "0"}}}


def test_prices_from_models_are_kept_persisted_and_loaded_back(tmp_path, server):
    from llmc.Config import Config
    from llmc.discovery.ModelPrice import ModelPrice
    server.set(model_metadata=OPENROUTER_PRICING)
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run() is True
    assert h.manager.model_price("fake", "chat-a") == ModelPrice(prompt=2.5, completion=10.0)
    assert h.manager.model_price("fake", "chat-b").is_free
    assert h.manager.model_price("fake", "gpt-5-mini") is None  # the listing gave no price
    assert h.manager.model_price("fake", "embed-1") is None  # prices of models that do not chat are not kept
    assert h.manager.model_price("nope", "chat-a") is None
    saved = h.saved()["providers"]["fake"]
    assert saved["model_prices"] == {"chat-a": {"prompt": 2.5, "completion": 10.0},
                                     "chat-b": {"prompt": 0.0, "completion": 0.0}}
    assert "chat-a: {prompt: 2.5, completion: 10.0}" in h.path.read_text()  # one line per model
    again = Config(data_directory=tmp_path, environ={}, warn=lambda _: None).config.providers
    assert again.model_price("fake", "chat-a") == ModelPrice(prompt=2.5, completion=10.0)


def test_a_model_that_turns_invalid_loses_its_price(tmp_path, server):
    server.set(model_metadata=OPENROUTER_PRICING)
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run() is True
    server.set(chat_models=["chat-b", "gpt-5-mini"], non_chat_models=["chat-a", "embed-1", "tts-1"])
    h.manager["fake"]._cached_models = []
    assert h.run() is True
    assert h.manager.model_price("fake", "chat-a") is None
    assert "chat-a" not in h.saved()["providers"]["fake"]["model_prices"]


# A refused key

@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_pings_fails_the_provider_and_saves_nothing(tmp_path, status):
    models = [f"chat-{i}" for i in range(40)]
    with FakeOpenAIServer(chat_models=models, non_chat_models=[], latency=0.05,
                          fault_rate={"/chat/completions": {"status": status}}) as srv:
        h = Harness(tmp_path, {"fake": fake_config(srv, api_key_env="MY_FAKE_TOKEN"), "other": fake_config(srv)},
                    concurrency=4)
        h.manager.providers["other"].api_key = "other-key"  # listed with a key the server refuses: fails too
        assert h.run() is False
        pings = [r for r in srv.requests if r["path"].endswith("/chat/completions")]
    assert len(pings) <= 4  # no more than were already in flight
    failure = next(w for w in h.warnings if w.startswith("fake: failed: "))
    assert "refused the API key while its models were pinged" in failure and "MY_FAKE_TOKEN" in failure
    assert f"status code {status}" in failure
    assert h.warnings[-1].startswith("Discovery failed for ") and not h.path.exists()
    assert h.manager["fake"].valid_models == {} and h.manager["fake"].invalid_models == []


# Model lists as providers send them

@pytest.mark.parametrize("shape, judged", [("openai", 0), ("bare", 0), ("together", 2), ("openrouter", 2),
                                           ("lmstudio", 2), ("mistral", 2)])
def test_each_providers_list_is_read_and_its_metadata_judges_non_chat_models_unpinged(tmp_path, server,
                                                                                       shape, judged):
    server.set(models_shape=shape)
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run() is True
    assert h.manager["fake"].invalid_models == NON_CHAT and set(h.manager["fake"].valid_models) == set(CHAT)
    pinged = set(h.pings(server))
    assert pinged == set(CHAT) | (set() if judged else set(NON_CHAT))
    note = f" ({judged} by metadata, not pinged)" if judged else ""
    assert h.lines[0].startswith(f"fake: 5 models found, 3 valid, 2 invalid{note}, 0 undecided (")


def test_metadata_that_says_nothing_of_chat_leaves_the_model_to_the_ping(tmp_path, server):
    server.set(models_shape="together", model_metadata={
        "embed-1": {"type": "language"}, "tts-1": {"type": None},
        "chat-a": {"architecture": {"output_modalities": []}, "capabilities": {"completion_chat": None}}})
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run(persist_on_success=False) is True
    assert {"embed-1", "tts-1", "chat-a"} <= set(h.pings(server))
    assert h.summaries[0].judged_by_metadata == 0


# The chat API handed out for a model

def chat_manager(base_url: str = "http://127.0.0.1:9/v1") -> ProviderManager:
    return ProviderManager({
        "fake": ProviderConfig(name="Fake", base_api_url=base_url, api_key="test-key",
                               valid_models={"fake-chat-1": "f1", "fake-embed-1": "e1"}),
        "deepseek": ProviderConfig(name="DeepSeek", api_key="", valid_models={"deepseek-reasoner": "r1"}),
    }, report=lambda line: None, http_settings=HttpSettings(max_retries=0, read_timeout=5))


def test_chat_model_resolves_names_of_any_case():
    manager = chat_manager()
    assert manager.chat_model("fake/f1").label == "fake/fake-chat-1"
    assert manager.chat_model("FAKE/fake-chat-1").label == "fake/fake-chat-1"
    with pytest.raises(InvalidModelError, match="Invalid model for provider fake: f2"):
        manager.chat_model("fake/f2")


def test_why_a_model_cannot_chat_is_one_short_reason():
    manager = chat_manager()
    assert manager.why_cannot_chat("fake/fake-chat-1") is None
    assert manager.why_cannot_chat("fake/gone-model") == "it is not a known valid model now"
    assert manager.why_cannot_chat("deepseek/r1") == "its provider has no API key now"


def test_an_unknown_chat_model_lists_close_matches_and_where_it_came_from():
    with pytest.raises(InvalidModelError) as info:
        chat_manager().chat_model("fake-chat-2", "from LLMC_DEFAULT_MODEL")
    assert "Invalid model: fake-chat-2." in str(info.value)
    assert "Did you mean: fake/fake-chat-1 (f1)" in str(info.value)
    assert str(info.value).endswith("(the model 'fake-chat-2' came from LLMC_DEFAULT_MODEL)")


def test_get_api_for_model_string_says_where_a_bad_model_came_from():
    with pytest.raises(InvalidModelError) as info:
        chat_manager().get_api_for_model_string("fake-chat-2", "from LLMC_DEFAULT_MODEL")
    assert str(info.value).endswith("(the model 'fake-chat-2' came from LLMC_DEFAULT_MODEL)")


def test_a_resolved_model_knows_its_provider_config_and_names():
    manager = sample_manager()
    model = manager.resolve("qdub")
    assert (model.provider, model.long_id, model.short_name) == ("hyperbolic", "Qwen/QwQ-32B", "qdub")
    assert model.config is manager["hyperbolic"]
    assert model.label == "hyperbolic/Qwen/QwQ-32B" and model.display == "hyperbolic/Qwen/QwQ-32B (qdub)"
    assert manager.resolve("HYPERBOLIC/Qwen/QwQ-32B") == model
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.long_id = "other"  # type: ignore[misc]


def test_the_plans_lookups_are_the_resolved_models_parts():
    manager = sample_manager()
    model = manager.resolve("4o")
    assert manager.get_api_for_model_string("4o") == (model.config, model.long_id)
    assert manager.validate_model("4o") == model.long_id == "gpt-4o-2024-08-06"


def test_no_chat_api_without_a_key():
    with pytest.raises(ConfigError, match="No API key for provider deepseek: set DEEPSEEK_API_KEY"):
        chat_manager().chat_api("deepseek/r1")


def test_the_chat_api_talks_to_the_model_with_the_managers_settings():
    notices: List[str] = []
    with FakeOpenAIServer(reply="Hi there.") as server:
        server.add_fault("/chat/completions", {"status": 429, "retry_after": "0"})
        manager = chat_manager(server.base_url)
        manager.output = OutputChannel(notice=notices.append)
        manager.http_settings = HttpSettings(max_retries=1)
        api = manager.chat_api("f1")
        assert api.complete([{"role": "user", "content": "hi"}], ChatOptions(temperature=0.5)) == "Hi there."
        sent = [r for r in server.requests if r["path"].endswith("/chat/completions")]
    assert [(r["json"]["model"], r["json"]["temperature"]) for r in sent] == [("fake-chat-1", 0.5)] * 2
    assert sent[-1]["headers"].get("Authorization") == "Bearer test-key"
    assert notices == ["fake: rate limited (429); retrying in 0 s (retry 1 of 1)"]


def test_the_chat_api_of_a_model_is_one_for_the_run_and_its_providers_refusals_are_the_managers():
    manager = chat_manager()
    api = manager.chat_api("f1")
    assert manager.chat_api("fake/fake-chat-1") is api is manager.chat_api(manager.resolve("FAKE/f1"))
    assert api.refusals is manager.refusals["fake"]
    assert chat_manager().chat_api("f1").refusals is not api.refusals  # another run's manager starts afresh
    with pytest.raises(ConfigError, match="No API key for provider deepseek"):
        manager.chat_api(manager.resolve("deepseek/r1"))


def test_an_invalid_model_is_an_llmc_error_and_a_value_error():
    with pytest.raises(InvalidModelError) as info:
        resolved(sample_manager(), "nonesuch")
    assert isinstance(info.value, LlmcError) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 2


def test_a_providers_failure_is_a_failed_line_but_a_bug_is_raised(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server)})

    def failing(error: Exception):
        def fetch(*args, **kwargs):
            raise error
        return fetch
    h.manager.discovery_service.discover_models = failing(ApiError("fake: the provider is down"))
    assert h.run() is False
    assert "fake: failed: the provider is down" in h.warnings
    h.manager.discovery_service.discover_models = failing(KeyError("a bug"))
    with pytest.raises(KeyError, match="a bug"):
        h.run()


# Local servers found on their ports during an all-provider discovery

def test_local_servers_found_are_added_named_for_their_kind_and_saved(tmp_path, server):
    with FakeOpenAIServer(api_key=None, server_kind="ollama", chat_models=["llama3"], non_chat_models=[]) as ollama, \
            FakeOpenAIServer(api_key=None, server_kind="llamacpp", chat_models=["gemma"], non_chat_models=[]) as cpp:
        h = Harness(tmp_path, {"fake": fake_config(server)}, local_ports=(ollama.port, cpp.port))
        assert h.run() is True
    assert h.warnings[:2] == [f"Found a local Ollama server at {ollama.base_url}: added as provider ollama",
                              f"Found a local llama.cpp server at {cpp.base_url}: added as provider llamacpp"]
    saved = h.saved()["providers"]
    assert saved["ollama"] == {"name": "Ollama", "base_api_url": ollama.base_url, "found_by_scan": True,
                               "valid_models": {"llama3": "llama3"}, "invalid_models": []}
    assert saved["llamacpp"]["valid_models"] == {"gemma": "gemma"} and "fake" in saved


def test_a_port_a_provider_points_at_is_not_probed_and_a_taken_name_gets_the_port(tmp_path, server):
    with FakeOpenAIServer(api_key=None, server_kind="vllm", non_chat_models=[]) as vllm:
        taken = ProviderConfig(name="Remote vLLM", base_api_url="https://vllm.example/v1", api_key="k-123456789")
        h = Harness(tmp_path, {"fake": fake_config(server), "vllm": taken},
                    local_ports=(server.port, vllm.port))
        h.manager.discover_and_validate_models(provider_filter=None, persist_on_success=False)
    assert f"Found a local vLLM server at {vllm.base_url}: added as provider vllm-{vllm.port}" in h.warnings
    assert not any(server.base_url in w for w in h.warnings if w.startswith("Found"))
    assert h.manager[f"vllm-{vllm.port}"].valid_models == {"fake-chat-1": "fake-chat-1", "fake-chat-2": "fake-chat-2"}


def test_a_named_discovery_looks_for_no_local_server(tmp_path, server):
    with FakeOpenAIServer(api_key=None, server_kind="ollama") as ollama:
        h = Harness(tmp_path, {"fake": fake_config(server)}, local_ports=(ollama.port,))
        assert h.run(provider_filter="fake") is True
        assert ollama.requests == [] and "ollama" not in h.manager


def test_a_local_server_without_models_or_asking_for_a_key_is_said_and_not_added(tmp_path, server):
    with FakeOpenAIServer(api_key=None, server_kind="lmstudio", chat_models=[], non_chat_models=[]) as empty, \
            FakeOpenAIServer(api_key="secret", server_kind="vllm") as locked:
        h = Harness(tmp_path, {"fake": fake_config(server)}, local_ports=(empty.port, locked.port))
        assert h.run() is True
    assert h.warnings[:2] == [
        f"Found a local LM Studio server at {empty.base_url} with no models; load or pull one, then discover again",
        f"A server at {locked.base_url} asks for a key: add it with llmc --add-provider NAME {locked.base_url} "
        "--key-env VAR"]
    assert list(h.saved()["providers"]) == ["fake"]


def test_a_local_server_of_another_user_is_named_in_one_line_and_not_added(tmp_path, server):
    with FakeOpenAIServer(api_key=None, server_kind="llamacpp") as squat:
        h = Harness(tmp_path, {"fake": fake_config(server)}, local_ports=(squat.port,),
                    owner_of=lambda port: SocketOwner(1234, "mallory", FOREIGN))
        assert h.run() is True
        assert squat.requests == []
    assert "llamacpp" not in h.manager and h.manager.found_local_providers == []
    assert [w for w in h.warnings if str(squat.port) in w] == [
        f"Not adding the server on port {squat.port}: it is run by user mallory (not you, root or a system "
        f"account), so llmc sent it nothing; if you trust it: llmc --add-provider NAME {squat.base_url}"]
    assert list(h.saved()["providers"]) == ["fake"]


def test_a_local_server_whose_owner_is_unknown_is_added_but_never_offered_as_the_default(tmp_path, server):
    with FakeOpenAIServer(api_key=None, server_kind="ollama", chat_models=["llama3"], non_chat_models=[]) as found:
        h = Harness(tmp_path, {"fake": fake_config(server)}, local_ports=(found.port,),
                    owner_of=lambda port: SocketOwner(None, "", UNKNOWN))
        assert h.run() is True
    assert h.manager["ollama"].valid_models == {"llama3": "llama3"}
    assert h.manager.found_local_providers == []  # what may become the default unasked
    assert (f"Found a local Ollama server at {found.base_url}: added as provider ollama; who runs it cannot be "
            "checked, so it becomes the default only if you say so (llmc --set-default-model ollama/MODEL)"
            in h.warnings)


# The discovery deadline (issue 17)
def never_answering_pings(fast: int):
    """A provider listing 200 models whose pings never answer, but for the first `fast`."""
    ids = [f"m{i:03d}" for i in range(200)]

    def script(request, reply) -> None:
        if request.method == "GET":
            reply.whole(200, models_list(*ids))
        elif request.json["model"] in ids[:fast]:
            reply.whole(200, chat_completion("hi"))
        else:
            reply.wait(120)
    return script


@pytest.mark.parametrize("fast", [0, 3])
def test_a_providers_discovery_ends_at_discovery_timeout_and_the_models_not_pinged_stay_undecided(tmp_path, fast):
    with HostileServer(never_answering_pings(fast)) as slow:
        settings = HttpSettings(connect_timeout=2, read_timeout=60, max_retries=0, discovery_timeout=1.0)
        h = Harness(tmp_path, {"slow": ProviderConfig(name="Slow", base_api_url=slow.base_url, api_key="k-12345678")},
                    settings=settings)
        started = time.monotonic()
        assert h.run(provider_filter="slow") is False
        took = time.monotonic() - started
    assert took < 1.0 + 1.0, took  # pinged one by one at 60 s each, it would take hours
    assert h.warnings[0] == (f"slow: failed: stopped at discovery_timeout (1 s): {fast} of 200 models pinged "
                             f"({fast} valid, 0 invalid), {200 - fast} undecided and left as they were; raise "
                             "discovery_timeout in config.toml to give it longer")
    assert h.warnings[-1] == "Discovery failed for slow; nothing was saved."
    assert h.manager["slow"].valid_models == {} and h.manager["slow"].invalid_models == []
    assert h.saved() is None


# What the pings may cost

DEAR = {m: {"pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0.02"}}
        for m in CHAT + NON_CHAT}


def test_the_worst_case_cost_is_shown_before_pinging_and_free_models_are_named(tmp_path, server):
    server.set(model_metadata={**OPENROUTER_PRICING, "chat-b": {"pricing": {"prompt": "0", "completion": "0"}}})
    asked = []
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run(approve_cost=asked.append) is True
    # chat-a: 32 x 2.5 + 16 x 10 per million; embed-1: 32 x 0.1; chat-b free; gpt-5-mini, tts-1 unpriced
    assert h.warnings[0] == "fake: 5 pings may cost up to $0.0002 (2 unpriced, not counted); 1 free: chat-b"
    assert asked == [] and len(h.pings(server)) == 5  # cheap: nothing asked


def test_costly_pings_are_not_sent_unless_approved(tmp_path, server):
    server.set(model_metadata=DEAR)
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run() is False
    assert h.pings(server) == [] and not h.path.exists()
    failure = next(w for w in h.warnings if w.startswith("fake: failed: "))
    assert failure == ("fake: failed: not pinged: 5 pings may cost up to $0.1003, more than $0.0500 in all; "
                       "answer yes in a terminal or give --yes to send them")


@pytest.mark.parametrize("answer", [True, False])
def test_costly_pings_are_sent_when_approved(tmp_path, server, answer):
    server.set(model_metadata=DEAR)
    questions = []
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run(approve_cost=lambda q: questions.append(q) or answer) is answer
    assert questions == ["The 5 pings of fake may cost up to $0.1003 in all. Send them?"]
    assert len(h.pings(server)) == (5 if answer else 0)


GARBLED = ["1e308", "-1", "NaN", "Infinity", "0.01 USD", True, ["0"]]


def test_prices_that_cannot_be_read_make_the_cost_unknown_and_are_refused_unless_approved(tmp_path, server):
    garbled = {m: {"pricing": {"prompt": GARBLED[i % len(GARBLED)], "completion": "0"}}
               for i, m in enumerate(CHAT + NON_CHAT)}
    garbled[CHAT[0]] = {"pricing": {"prompt": "0", "completion": "0", "request": "2"}}  # $2 a request: no
    server.set(model_metadata=garbled)
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run() is False
    assert h.pings(server) == [] and not h.path.exists()
    assert h.warnings[0].startswith("fake: 5 pings may cost up to $0.0000; 5 of unknown cost (a listed price llmc "
                                    "cannot read): ")
    failure = next(w for w in h.warnings if w.startswith("fake: failed: "))
    assert failure == ("fake: failed: not pinged: 5 pings may cost up to $0.0000 and 5 of them an unknown amount; "
                       "answer yes in a terminal or give --yes to send them")
    questions = []
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run(approve_cost=lambda q: questions.append(q) or True) is True
    assert questions == ["The 5 pings of fake may cost up to $0.0000 in all, and 5 of them an unknown amount "
                         "(a listed price llmc cannot read). Send them?"]
    assert len(h.pings(server)) == 5


@pytest.mark.parametrize("stage", ["models", "pings"])
def test_running_out_of_memory_is_a_failure_that_names_the_provider(tmp_path, server, monkeypatch, stage):
    h = Harness(tmp_path, {"evil": fake_config(server)})

    def out_of_memory(*args, **kwargs):
        raise MemoryError()
    target = "discover_models" if stage == "models" else "ping_model"
    monkeypatch.setattr(h.manager.discovery_service, target, out_of_memory)
    assert h.run(provider_filter="evil") is False
    assert h.lines == [] and "models found" not in " ".join(h.warnings)
    assert h.warnings[0] == "evil: failed: out of memory while reading its replies"
    assert h.warnings[-1] == "Discovery failed for evil; nothing was saved."
    assert h.saved() is None


# Capabilities from /models and local servers' own endpoints

def test_capabilities_from_models_are_kept_persisted_and_loaded_back(tmp_path, server):
    from llmc.Config import Config
    from llmc.discovery.ModelCapabilities import ModelCapabilities
    server.set(model_metadata={
        "chat-a": {"context_length": 128000, "supported_parameters": ["tools", "temperature"],
                   "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]}},
        "chat-b": {"context_length": 8192, "supported_parameters": ["temperature"]},
        "embed-1": {"context_length": 512}})
    h = Harness(tmp_path, {"fake": fake_config(server)})
    assert h.run() is True
    assert h.manager.capabilities_of("fake", "chat-a") == ModelCapabilities(tools=True, images=True,
                                                                           context_length=128000)
    assert h.manager.capabilities_of("fake", "chat-b") == ModelCapabilities(tools=False, context_length=8192)
    assert h.manager.capabilities_of("fake", "gpt-5-mini").is_unknown
    saved = h.saved()["providers"]["fake"]
    assert saved["model_capabilities"] == {"chat-a": {"tools": True, "images": True, "context_length": 128000},
                                           "chat-b": {"tools": False, "context_length": 8192}}
    assert "chat-b: {tools: false, context_length: 8192}" in h.path.read_text()
    again = Config(data_directory=tmp_path, environ={}, warn=lambda _: None).config.providers
    assert again.capabilities_of("fake", "chat-b") == ModelCapabilities(tools=False, context_length=8192)
    assert again.valid_scoped_models("fake", with_capabilities=True) == [
        "fake/chat-a (chat-a)          tools images 128k ctx",
        "fake/chat-b (chat-b)          no tools images ? 8k ctx",
        "fake/gpt-5-mini (gpt-5-mini)  tools ? images ? ctx ?"]


@pytest.mark.parametrize("kind, native_path", [("llamacpp", "/props"), ("ollama", "/api/show"),
                                               ("lmstudio", "/api/v0/models")])
def test_a_local_servers_own_endpoints_tell_capabilities(tmp_path, kind, native_path):
    from llmc.discovery.ModelCapabilities import ModelCapabilities
    said = {"tools": True, "vision": kind != "llamacpp", "context": 32768}
    with FakeOpenAIServer(api_key=None, chat_models=["local-1"], non_chat_models=[], server_kind=kind,
                          native_capabilities={"local-1": said}) as srv:
        h = Harness(tmp_path, {kind: ProviderConfig(name=kind, base_api_url=srv.base_url)})
        assert h.run() is True
        asked = [(r["method"], r["path"]) for r in srv.requests]
    assert ("POST" if kind == "ollama" else "GET", native_path) in asked
    assert h.manager.capabilities_of(kind, "local-1") == ModelCapabilities(tools=True, images=kind != "llamacpp",
                                                                          context_length=32768)
    assert h.saved()["providers"][kind]["model_capabilities"]["local-1"]["context_length"] == 32768


def test_a_remote_provider_is_asked_nothing_beyond_its_listing(tmp_path, server):
    h = Harness(tmp_path, {"fake": fake_config(server, base_api_url=server.base_url.replace("127.0.0.1",
                                                                                          "localhost"))})
    h.manager["fake"].base_api_url = server.base_url  # loopback: local, but its listing names no known server
    assert h.run() is True
    assert {r["path"] for r in server.requests} == {"/v1/models", "/v1/chat/completions"}
    assert "model_capabilities" not in h.saved()["providers"]["fake"]


def test_a_learnt_refusal_is_saved_at_once_and_kept_by_the_next_discovery(tmp_path, server):
    from llmc.discovery.ModelCapabilities import ModelCapabilities
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"})})
    h.manager.learn_capabilities("fake", "chat-a", ModelCapabilities(tools=False))
    assert h.saved()["providers"]["fake"]["model_capabilities"] == {"chat-a": {"tools": False}}
    server.set(model_metadata={"chat-a": {"context_length": 4096}})
    assert h.run() is True
    assert h.saved()["providers"]["fake"]["model_capabilities"]["chat-a"] == {"tools": False, "context_length": 4096}


def test_a_refusal_of_tools_is_learnt_said_in_one_line_and_checked_before_the_next_request(tmp_path, server):
    from llmc.discovery.ModelCapabilities import ModelCapabilities
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"})})
    assert h.manager.refusal_before_sending("fake", "chat-a", tools=True, image=True) is None  # unknown: sent
    refused = ApiError("fake: Unrecognized request argument supplied: tools", status=400)
    line = h.manager.learn_from_refusal("fake", "chat-a", refused, sent_tools=True, sent_image=False)
    assert line == ("fake/chat-a takes no tool calls: the provider refused them (Unrecognized request argument "
                    "supplied: tools); remembered for this model")
    assert h.saved()["providers"]["fake"]["model_capabilities"] == {"chat-a": {"tools": False}}
    assert h.manager.refusal_before_sending("fake", "chat-a", tools=True, image=False).startswith(
        "fake/chat-a takes no tool calls (as its provider said")
    assert h.manager.refusal_before_sending("fake", "chat-a", tools=False, image=True) is None
    other = ApiError("fake: the model is overloaded", status=400)
    assert h.manager.learn_from_refusal("fake", "chat-a", other, sent_tools=True, sent_image=True) is None
    h.manager.learn_capabilities("fake", "chat-a", ModelCapabilities(images=False))
    assert "takes no images" in h.manager.refusal_before_sending("fake", "chat-a", tools=False, image=True)


def test_a_conversation_past_the_known_context_is_said_with_its_rough_size(tmp_path, server):
    from llmc.discovery.ModelCapabilities import ModelCapabilities
    h = Harness(tmp_path, {"fake": fake_config(server, valid_models={"chat-a": "a"})})
    long = [{"role": "user", "content": "word " * 8000}]  # 40,000 characters: about 10,000 tokens
    assert h.manager.context_warning("fake", "chat-a", long) is None  # no known length: nothing said
    h.manager.learn_capabilities("fake", "chat-a", ModelCapabilities(context_length=8192))
    assert h.manager.context_warning("fake", "chat-a", long) == (
        "This conversation is about 10,000 tokens, more than the 8,192 of fake/chat-a's context: the provider "
        "may refuse it or drop its start (/clear starts afresh)")
    assert h.manager.context_warning("fake", "chat-a", long[:0]) is None


def test_concurrency_is_held_by_the_discovery_service_alone():
    service = ModelDiscoveryService(concurrency=4)
    manager = ProviderManager({}, discovery_service=service)
    assert manager.concurrency == service.concurrency == 4
    manager.concurrency = 9
    assert service.concurrency == 9 and service.settings.pool_size >= 9
    assert ProviderManager({}, discovery_service=ModelDiscoveryService(), concurrency=3).concurrency == 3
