"""ProviderAdder: checks of NAME/URL/VAR, discovery at once, the saved entry, and the default model offer."""
from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import yaml

from llmc.Config import Config
from llmc.base.Errors import ConfigError
from llmc.setup.RunContext import RunContext
from llmc.setup.ProviderAdder import ProviderAdder, checked_base_url, checked_key_variable, checked_provider_name
from llmc.base.Terminal import Terminal
from tests.fake_openai_server import FakeOpenAIServer

YAML_NAME = "openaicompat-providers.yaml"
KEYED_YAML = """# my providers, hand-written
providers:
  other:  # keep me
    name: Other
    base_api_url: https://other.example/v1
    valid_models:
      o1: o  # short
"""


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key=None, chat_models=["chat-a", "chat-b"], non_chat_models=["embed-1"]) as srv:
        yield srv


class Run:
    """A Config in a temp data dir, a Terminal writing to StringIOs, and what the adder printed."""

    def __init__(self, tmp_path: Path, environ: Optional[Dict[str, str]] = None, config_toml: str = "") -> None:
        self.data = tmp_path / "data"
        self.data.mkdir(exist_ok=True)
        if config_toml:
            (self.data / "config.toml").write_text(config_toml)
        self.config = Config(data_directory=self.data, environ=environ or {}, warn=lambda text: None,
                             report=lambda text: None)
        self.terminal = Terminal(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
        self.lines: List[str] = []

    def add(self, name: str, url: str, key_env: Optional[str] = None, in_chat: bool = False) -> Optional[bool]:
        return ProviderAdder(RunContext(self.terminal, self.config), self.lines.append, in_chat).add(name, url, key_env)

    @property
    def errors(self) -> str:
        return self.terminal.stderr.getvalue()

    def saved(self) -> dict:
        return yaml.safe_load((self.data / YAML_NAME).read_text())["providers"]


def test_adds_the_provider_with_its_models_and_keeps_the_rest_of_the_file(tmp_path, server) -> None:
    run = Run(tmp_path)
    (run.data / YAML_NAME).write_text(KEYED_YAML)
    (run.data / YAML_NAME).chmod(0o640)
    run.config = Config(data_directory=run.data, environ={}, warn=lambda text: None, report=lambda text: None)
    assert run.add("local", server.base_url + "/") is True
    text = (run.data / YAML_NAME).read_text()
    assert "# my providers, hand-written" in text and "# keep me" in text and "# short" in text
    saved = run.saved()
    assert saved["other"]["valid_models"] == {"o1": "o"}
    assert saved["local"] == {"name": "local", "base_api_url": server.base_url,
                              "valid_models": {"chat-a": "chat-a", "chat-b": "chat-b"},
                              "invalid_models": ["embed-1"]}
    assert stat.S_IMODE((run.data / YAML_NAME).stat().st_mode) == 0o640  # the user's choice is kept
    assert run.lines[0].startswith("local: 3 models found, 2 valid, 1 invalid")
    assert run.lines[1] == f"Added provider local ({server.base_url}) to {run.data / YAML_NAME}."
    assert server.requests and all("Authorization" not in r["headers"] for r in server.requests)


def test_a_default_that_cannot_chat_is_replaced_and_that_is_said(tmp_path, server) -> None:
    run = Run(tmp_path, config_toml="# my settings\nstream = true  # keep\n")
    assert run.add("local", server.base_url) is True
    assert run.lines[-1] == (f"Default model set to local/chat-a in {run.data / 'config.toml'} (the default "
                             "openai/4.1-mini has no API key: OPENAI_API_KEY is not set). Start chatting: llmc")
    text = (run.data / "config.toml").read_text()
    assert 'model = "local/chat-a"' in text and "# my settings" in text and "stream = true  # keep" in text
    assert Config(data_directory=run.data, environ={}, warn=lambda t: None).config.model == "local/chat-a"


def test_a_default_that_can_chat_is_kept_and_the_hint_names_the_model(tmp_path, server) -> None:
    run = Run(tmp_path, environ={"OPENAI_API_KEY": "sk-test-123456"})
    assert run.add("local", server.base_url, in_chat=True) is True
    assert run.lines[-1] == "Chat with it: /mod local/chat-a  (make it the default: /set-default local/chat-a)"
    assert not (run.data / "config.toml").exists()


def test_key_env_is_recorded_and_its_key_sent_but_never_written(tmp_path, server) -> None:
    server.set(api_key="secret-local-key")
    run = Run(tmp_path, environ={"MY_LLM_TOKEN": "secret-local-key"})
    assert run.add("guarded", server.base_url, key_env="MY_LLM_TOKEN") is True
    assert run.saved()["guarded"]["api_key_env"] == "MY_LLM_TOKEN"
    assert "secret-local-key" not in (run.data / YAML_NAME).read_text()
    assert stat.S_IMODE((run.data / YAML_NAME).stat().st_mode) == 0o600  # a new file is private
    assert all(r["headers"]["Authorization"] == "Bearer secret-local-key" for r in server.requests)
    reloaded = Config(data_directory=run.data, environ={"MY_LLM_TOKEN": "secret-local-key"}, warn=lambda t: None)
    assert reloaded.config.providers["guarded"].api_key == "secret-local-key"


def test_a_remote_provider_without_its_key_is_refused_before_anything_is_sent(tmp_path, server) -> None:
    run = Run(tmp_path)
    with pytest.raises(ConfigError, match=r"^no API key for remote: set REMOTE_API_KEY, .*nothing was written$"):
        run.add("remote", "https://llm.example/v1")
    with pytest.raises(ConfigError, match=r"set THEIR_KEY"):
        run.add("remote", "https://llm.example/v1", key_env="THEIR_KEY")
    assert "remote" not in run.config.config.providers and not (run.data / YAML_NAME).exists()


def test_a_url_without_v1_that_404s_gets_the_hint_and_nothing_is_saved(tmp_path, server) -> None:
    run = Run(tmp_path)
    root = server.base_url.removesuffix("/v1")
    assert run.add("local", root) is False
    assert f"(no /v1 at the end of the URL: try {root}/v1)" in run.errors
    assert "Provider local was not added." in run.errors
    assert "local" not in run.config.config.providers and not (run.data / YAML_NAME).exists()


def test_an_existing_name_with_another_url_is_refused_and_the_same_url_rediscovers(tmp_path, server) -> None:
    run = Run(tmp_path)
    with pytest.raises(ConfigError, match=r"provider 'openai' exists already with the URL https://api.openai.com/v1"):
        run.add("OpenAI", server.base_url)
    assert run.add("local", server.base_url) is True
    assert run.add("LOCAL", server.base_url + "/") is True  # same provider, same server: discovered again
    assert list(run.saved()) == ["local"]
    assert (f"Provider local ({server.base_url}) was there already; its models are updated in "
            f"{run.data / YAML_NAME}.") in run.lines  # not "Added"
    assert sum(line.startswith("Added provider local") for line in run.lines) == 1


@pytest.mark.parametrize("name", ["", "bad name", "a/b", "-x", "x" * 65, "ünï"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="provider name .* must be 1-64 letters, digits"):
        checked_provider_name(name)


@pytest.mark.parametrize("url, message", [
    ("127.0.0.1:8080/v1", "must be an http:// or https:// address"), ("ftp://host/v1", "must be an http://"),
    ("http:///v1", "must be an http://"), ("http://host:99999/v1", "must be an http://"),
    ("http://ho st/v1", "must be an http://"), ("http://[::1/v1", "must be an http://"),
    ("http://user:pw@host/v1", "must not hold a user name or password"),
    ("http://host/v1?key=pw-secret", "must not have a query")])
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        checked_base_url(url)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize("url", ["http://x:PASSWORD@127.0.0.1:57219:1/v1", "http://user:PASSWORD@[::1/v1",
                                 "http://127.0.0.1:99999/v1?api_key=SECRET", "http://x:PASS/WORD@127.0.0.1/v1",
                                 "http://x:PASSWORD@127.0.0.1:abc/v1", "http://127.0.0.1/v1#SECRET"])
def test_a_malformed_url_is_refused_without_its_secrets(url: str) -> None:
    with pytest.raises(ConfigError, match="URL .* must") as info:
        checked_base_url(url)
    assert "PASS" not in str(info.value) and "SECRET" not in str(info.value)
    with pytest.raises(ConfigError, match="provider name") as info:
        checked_provider_name(url)  # the URL given where the name goes
    assert "PASS" not in str(info.value) and "SECRET" not in str(info.value)


def test_a_key_given_as_key_env_is_not_shown() -> None:
    with pytest.raises(ConfigError, match="must name an environment variable") as info:
        checked_key_variable("sk-proj-SECRETSECRET")
    assert "SECRET" not in str(info.value)


def test_good_urls_lose_their_trailing_slash() -> None:
    assert checked_base_url(" http://localhost:11434/v1/ ") == "http://localhost:11434/v1"
    assert checked_base_url("https://[::1]:8000/v1") == "https://[::1]:8000/v1"


@pytest.mark.parametrize("variable", ["sk-abc123", "1ABC", "A B", ""])
def test_key_env_must_name_a_variable(variable: str) -> None:
    with pytest.raises(ConfigError, match="must name an environment variable"):
        checked_key_variable(variable)
    assert checked_key_variable(None) == "" and checked_key_variable("MY_KEY") == "MY_KEY"
