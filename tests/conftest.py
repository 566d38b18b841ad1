"""Fixtures every test shares: its own HOME, data directory and working directory, and the loopback server.

The isolation is autouse, so no test can read or write the real `~/.llm_chat_cli` or see a real API key,
llmc setting or colour hint of the developer's environment by forgetting a fixture of its own.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator, List, Set

import pytest

from llmc.base import Secrets
from tests.fake_openai_server import FakeOpenAIServer
from tests.real_server import REQUIRED  # read at start-up, before any test's environment is cleaned


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is `<tmp_path>/home` (not yet created; so the default data directory is under it), the test's
    temp directory is the working directory, and no `*_API_KEY`, `LLMC_*` or `NO_COLOR` variable is set
    (but LLMC_LOCAL_PORTS is empty: discovery looks for no local servers unless a test names its ports)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("LLMC_") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("LLMC_LOCAL_PORTS", "")  # no test looks at the machine's real local-server ports
    # the keys a run remembers (to mask them) are per process: one test's keys must not mask another's text
    monkeypatch.setattr(Secrets, "_KNOWN_KEYS", [])
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def home(isolated_environment: Path) -> Path:
    """This test's HOME, created empty."""
    isolated_environment.mkdir(exist_ok=True)
    return isolated_environment


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory for `-d` / `Config(data_directory=...)`, created empty."""
    path = tmp_path / "data"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    """The loopback fake OpenAI server with its default models and reply, for this test only."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs, to fill to the last byte (needs root, or skips: OS-boundary tests cover the logic)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                                 capture_output=True).returncode == 0
    except OSError:
        mounted = False
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here (not root)")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


_SHARED_SERVERS: Set[FakeOpenAIServer] = set()


def shared_fake_server(**options: Any) -> Callable[..., Iterator[FakeOpenAIServer]]:
    """A module-scoped fixture: one loopback FakeOpenAIServer made with `options` serves all of a module's
    tests, and is reset() to those options (no faults, no requests logged) before each test."""
    @pytest.fixture(scope="module")
    def server() -> Iterator[FakeOpenAIServer]:
        with FakeOpenAIServer(**options) as started:
            _SHARED_SERVERS.add(started)
            try:
                yield started
            finally:
                _SHARED_SERVERS.discard(started)
    return server


@pytest.fixture(autouse=True)
def _reset_shared_servers() -> None:
    """Whatever the last test set on a shared server, the next one starts from its options."""
    for server in list(_SHARED_SERVERS):
        server.reset()


def _drives_a_terminal(function: Any, seen: Set[Any]) -> bool:
    """True if a test function, or a helper of the tests it calls (at any depth), uses pexpect."""
    code = getattr(function, "__code__", None)
    if code is None or function in seen:
        return False
    seen.add(function)
    names = set(code.co_names)
    for constant in code.co_consts:  # nested functions and lambdas
        names.update(getattr(constant, "co_names", ()))
    if "pexpect" in names or "spawn" in names:
        return True
    helpers = (function.__globals__.get(name) for name in names)
    return any(_drives_a_terminal(helper, seen) for helper in helpers
               if callable(helper) and getattr(helper, "__module__", "").startswith("tests"))


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """Mark `pty` every test that drives llmc in a real terminal (CI runs those on one interpreter)."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and _drives_a_terminal(function, set()):
            item.add_marker(pytest.mark.pty)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Under LLMC_REQUIRE_REAL_SERVER=1 (CI) a real-server test that skips is a failure."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRED and report.skipped and item.get_closest_marker("real_server"):
        report.outcome = "failed"
        report.longrepr = f"a real-server test may not skip in CI (LLMC_REQUIRE_REAL_SERVER=1): {report.longrepr}"


@pytest.fixture(scope="session")
def loopback_mcp() -> Iterator["LoopbackMcpServer"]:
    """A Streamable HTTP MCP server on 127.0.0.1 (the SDK's own server classes) that wants a bearer token."""
    from tests.mcp_servers import LoopbackMcpServer  # imports the MCP SDK: only for the tests that use it
    with LoopbackMcpServer(token=MCP_TOKEN) as server:
        yield server


MCP_TOKEN = "mcp-test-token-5e1f0a9c"
