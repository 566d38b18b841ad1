"""The wheel as a user installs it: built from the tracked sources, installed into a fresh venv, run elsewhere."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from llmc import __version__
from tests.conftest import shared_fake_server
from tests.e2e.cli_support import ROOT, clean_env, fake_provider, write_config
from tests.fake_openai_server import FakeOpenAIServer

REPLY = "Installed llmc talks to the loopback server."


def tracked_sources(destination: Path) -> Path:
    """Copy what git tracks (or, outside git, the tree without venvs and caches) to `destination`."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        names = [name for name in listed.stdout.decode().split("\0") if name]
    else:
        skip = {".venv", ".git", "__pycache__", ".pytest_cache", "build", "dist"}
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    for name in names:
        if (ROOT / name).is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Path]]:
    """Build the wheel from a copy of the sources and install it (with its dependencies) into a new venv."""
    base = tmp_path_factory.mktemp("wheel")
    source = tracked_sources(base / "src")
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(base / "dist"), str(source)], check=True,
                   env=pip_env, cwd=base, timeout=600)
    wheel = next((base / "dist").glob("llmc-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q",
                    "install", str(wheel)], check=True, env=pip_env, cwd=base, timeout=600)
    yield {"wheel": wheel, "bin": venv / "bin"}


server = shared_fake_server(reply=REPLY, chat_models=["chat-a"], chunk_size=5)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A project directory of someone else's, with its own main.py and modules/ to shadow ours."""
    project = tmp_path / "someone-elses-project"
    (project / "modules").mkdir(parents=True)
    (project / "main.py").write_text("raise SystemExit('the project main.py ran instead of llmc')\n")
    (project / "modules" / "__init__.py").write_text("raise ImportError('the project modules/ was imported')\n")
    return project


def run_installed(installed: Dict[str, Path], args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH=. inside a project with its own main.py once made that project's code run instead
    env = clean_env(cwd / "home", {"PYTHONPATH": "."})
    (cwd / "home").mkdir(exist_ok=True)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_the_wheel_holds_the_llmc_package_only(installed: Dict[str, Path]) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"llmc", f"llmc-{__version__}.dist-info"}, sorted(top_level)
    assert "llmc/cli/CommandLine.py" in names and "llmc/__main__.py" in names
    modules_in_checkout = {p.relative_to(ROOT / "modules").as_posix() for p in (ROOT / "modules").rglob("*.py")}
    assert {n.split("/", 1)[1] for n in names if n.startswith("llmc/") and n.endswith(".py")} == modules_in_checkout
    entry_points = zipfile.ZipFile(installed["wheel"]).read(f"llmc-{__version__}.dist-info/entry_points.txt")
    assert b"llmc = llmc.cli.CommandLine:run" in entry_points


def test_installed_llmc_runs_from_another_directory(installed: Dict[str, Path], elsewhere: Path) -> None:
    for command in ([str(installed["bin"] / "llmc"), "--version"],
                    [str(installed["bin"] / "python"), "-m", "llmc", "--version"]):
        result = run_installed(installed, command, elsewhere)
        assert (result.returncode, result.stdout.strip()) == (0, f"llmc {__version__}"), result.stderr


def test_installed_llmc_lists_and_chats_with_the_loopback_server(installed: Dict[str, Path], elsewhere: Path,
                                                                  server: FakeOpenAIServer) -> None:
    data = elsewhere / "data"
    write_config(data, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "a"})},
                 extra='model = "fake/a"')
    llmc = str(installed["bin"] / "llmc")
    listed = run_installed(installed, [llmc, "-d", str(data), "--list-models"], elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert "chat-a" in listed.stdout
    server.clear_requests()
    answered = run_installed(installed, [llmc, "-d", str(data), "-p", "hello from the wheel"], elsewhere)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == REPLY
    chats = [r for r in server.request_log() if r["path"].endswith("/chat/completions")]
    assert chats and chats[-1]["json"]["messages"][-1] == {"role": "user", "content": "hello from the wheel"}
