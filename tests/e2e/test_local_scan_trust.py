"""The local-server scan trusts a server only as far as it deserves (issue 17): a found server is sent no key
the user did not name for it, another user's server is not added, and the scan ends in its time whatever a
port sends. The proof is what the loopback servers received."""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import yaml

from llmc.discovery.SocketOwner import owner_of_port, uid_min
from tests.e2e.cli_support import MAIN, SERVER_SCRIPT, YAML_NAME, clean_env, run_llmc, run_llmc_in_process
from tests.fake_openai_server import FakeOpenAIServer
from tests.hostile_server import HostileServer, models_list

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


# Another user's server (item 2): run as another ordinary user with runuser
OTHER_USER = "llmc-test-other"


@pytest.fixture
def other_user() -> str:
    """An ordinary user other than this one, created if need be (root only; else the test is skipped)."""
    if os.geteuid() != 0 or not shutil.which("runuser") or not Path("/proc/net/tcp").exists():
        pytest.skip("needs root, runuser and /proc/net/tcp to run a server as another user")
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        created = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                                 capture_output=True, text=True)
        if created.returncode not in (0, 9):  # 9: created meanwhile by another run
            pytest.skip(f"cannot create a user: {created.stderr.strip()}")
    if pwd.getpwnam(OTHER_USER).pw_uid < uid_min():
        pytest.skip(f"{OTHER_USER} is a system account here")
    return OTHER_USER


def python_for(user: str) -> str:
    """A Python the user may run (this one may live under root's home); the test is skipped without one."""
    for candidate in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if candidate and subprocess.run(["runuser", "-u", user, "--", candidate, "-c", "pass"],
                                        capture_output=True).returncode == 0:
            return candidate
    pytest.skip(f"no Python that {user} may run")


@contextlib.contextmanager
def server_run_as(user: str, options: dict) -> Iterator[Tuple[str, List[dict]]]:
    """The fake server as a process of `user`: its base URL, and the requests it logged (filled in at the end)."""
    child = subprocess.Popen(["runuser", "-u", user, "--", python_for(user), str(SERVER_SCRIPT), "--config", "-",
                              "--log-requests", "--max-seconds", "120"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd="/")
    child.stdin.write(json.dumps(options))
    child.stdin.close()
    base_url = child.stdout.readline().strip()
    received: List[dict] = []
    try:
        assert base_url.startswith("http://127.0.0.1:"), base_url
        yield base_url, received
    finally:
        child.terminate()
        received += [json.loads(line) for line in child.stdout.read().splitlines() if line.strip()]
        child.wait(10)


def test_a_server_another_user_runs_on_a_scanned_port_is_not_added_and_is_sent_nothing(home: Path,
                                                                                       other_user: str) -> None:
    options = {"api_key": None, "server_kind": "llamacpp", "chat_models": ["squat-model"], "non_chat_models": []}
    with server_run_as(other_user, options) as (base_url, received):
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        assert owner_of_port(port).user == other_user
        result = run_llmc(["--discover-models"], home, env={"LLMC_LOCAL_PORTS": str(port),
                                                            "LLAMACPP_API_KEY": CLOUD_KEY})
    assert received == []  # not a byte of HTTP: no probe, no ping, no key
    assert [line for line in result.stderr.splitlines() if str(port) in line] == [
        f"Not adding the server on port {port}: it is run by user {other_user} (not you, root or a system account), "
        f"so llmc sent it nothing; if you trust it: llmc --add-provider NAME {base_url}"]
    data = home / ".llm_chat_cli"
    assert "squat" not in "".join(p.read_text() for p in data.glob("*") if p.is_file())


# The scan's deadline (item 3)
def trickle_headers(request, reply) -> None:
    reply.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 100, every=1.0)


def trickle_body(request, reply) -> None:
    body = models_list("a", "b", "c")
    reply.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    reply.trickle(body, every=1.0)


def test_discovery_passes_over_trickling_ports_within_the_scans_deadline(home: Path) -> None:
    with HostileServer(trickle_headers) as headers, HostileServer(trickle_body) as body:
        ports = ",".join(s.origin.rsplit(":", 1)[1] for s in (headers, body))
        started = time.monotonic()
        result = run_llmc(["--discover-models"], home, env={"LLMC_LOCAL_PORTS": ports})
        took = time.monotonic() - started
        assert headers.requests and body.requests
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Nothing to discover" in result.stderr
    assert took < 10, took  # Python's start and the 2 s scan; the trickles alone take 100 s


def test_ctrl_c_ends_a_scan_at_once(home: Path) -> None:
    with HostileServer(trickle_headers) as headers:
        child = subprocess.Popen([sys.executable, str(MAIN), "--discover-models"], cwd=str(home),
                                 env=clean_env(home, {"LLMC_LOCAL_PORTS": headers.origin.rsplit(":", 1)[1]}),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waited = time.monotonic() + 30
        while not headers.requests and time.monotonic() < waited:  # the scan is under way
            time.sleep(0.02)
        assert headers.requests
        child.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        _, err = child.communicate(timeout=30)
        took = time.monotonic() - interrupted
    assert child.returncode == 130 and "Traceback" not in err
    assert "Discovery cancelled; nothing was saved." in err
    assert took < 1.0, took


def test_a_server_whose_owner_cannot_be_known_is_added_but_not_made_the_default_unasked(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llmc.discovery.SocketOwner.PROC_NET", tmp_path / "no-proc-net")  # as where /proc is not Linux's
    with FakeOpenAIServer(api_key=None, server_kind="ollama", chat_models=["m"], non_chat_models=[]) as found:
        scan = run_llmc_in_process(["--discover-models"], home, env={"LLMC_LOCAL_PORTS": str(found.port)})
        assert scan.returncode == 0, scan.stderr
        assert (f"added as provider ollama; who runs it cannot be checked, so it becomes the default only if you "
                "say so (llmc --set-default-model ollama/MODEL)") in scan.stderr
        assert "Default model set" not in scan.stdout
        config = home / ".llm_chat_cli" / "config.toml"
        assert not config.exists() or "ollama" not in config.read_text()
        chosen = run_llmc_in_process(["--set-default-model", "ollama/m"], home)  # the user's word
        assert chosen.returncode == 0 and 'model = "ollama/m"' in config.read_text()
