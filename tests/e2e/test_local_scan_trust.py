"""The local-server scan trusts a server only as far as it deserves (issue 17): a found server is sent no key
the user did not name for it, another user's server is not added, and the scan ends in its time whatever a
port sends. The proof is what the loopback servers received."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.cli_support import YAML_NAME, run_llmc
from tests.fake_openai_server import FakeOpenAIServer

CLOUD_KEY = "cloud-key-0123456789abcdef"
KEY_VARIABLES = {"ollama": "OLLAMA_API_KEY", "llamacpp": "LLAMACPP_API_KEY", "vllm": "VLLM_API_KEY",
                 "lmstudio": "LMSTUDIO_API_KEY"}


def chats_received(server: FakeOpenAIServer) -> list:
    return [r for r in server.requests if r["path"].endswith("/chat/completions")]


@pytest.mark.parametrize("kind", list(KEY_VARIABLES))
def test_a_found_server_is_sent_no_key_unless_the_user_names_one(home: Path, kind: str) -> None:
    variable = KEY_VARIABLES[kind]
    with FakeOpenAIServer(api_key=None, server_kind=kind, chat_models=["m"], non_chat_models=[]) as found:
        keyed = {variable: CLOUD_KEY}
        scan = run_llmc(["--discover-models"], home, env={**keyed, "LLMC_LOCAL_PORTS": str(found.port)})
        assert scan.returncode == 0, scan.stderr
        assert f"added as provider {kind}" in scan.stderr
        saved = yaml.safe_load((home / ".llm_chat_cli" / YAML_NAME).read_text())["providers"][kind]
        assert saved.get("found_by_scan") is True and "api_key_env" not in saved
        for args in (["-p", "hi"], ["-m", f"{kind}/m", "-p", "hi"]):
            chat = run_llmc(args, home, env=keyed)
            assert chat.returncode == 0, chat.stderr
        assert all("Authorization" not in r["headers"] for r in found.requests)
        assert len(chats_received(found)) == 3  # the ping and both chats
        assert CLOUD_KEY not in scan.stderr + scan.stdout
        # the user's word: --add-provider NAME URL --key-env VAR
        named = run_llmc(["--add-provider", kind, found.base_url, "--key-env", variable], home, env=keyed)
        assert named.returncode == 0, named.stderr
        assert run_llmc(["-p", "hi"], home, env=keyed).returncode == 0
        assert chats_received(found)[-1]["headers"].get("Authorization") == f"Bearer {CLOUD_KEY}"


def test_a_found_server_takes_a_key_the_user_wrote_for_it_in_config_toml(home: Path) -> None:
    with FakeOpenAIServer(api_key=None, server_kind="ollama", chat_models=["m"], non_chat_models=[]) as found:
        assert run_llmc(["--discover-models"], home, env={"LLMC_LOCAL_PORTS": str(found.port)}).returncode == 0
        config = home / ".llm_chat_cli" / "config.toml"
        config.write_text(config.read_text() + '\n[providers.ollama]\napi_key = "written-key-0123456789"\n')
        assert run_llmc(["-p", "hi"], home, env={"OLLAMA_API_KEY": CLOUD_KEY}).returncode == 0
        assert chats_received(found)[-1]["headers"].get("Authorization") == "Bearer written-key-0123456789"
