"""Fixtures every test shares: its own HOME, data directory and working directory, and the loopback server.

The isolation is autouse, so no test can read or write the real `~/.llm_chat_cli` or see a real API key,
llmc setting or colour hint of the developer's environment by forgetting a fixture of its own.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

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
