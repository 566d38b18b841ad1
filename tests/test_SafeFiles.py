"""Files are never lost: atomic writes keep modes, private files are 0600, concurrent discoveries keep
both results, and a process killed or interrupted mid-write leaves the old file intact."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from llmc.base import SafeFiles
from llmc.Config import Config
from llmc.base.Errors import ConfigError
from llmc.base.SafeFiles import atomic_write_text, ensure_directory, file_lock, read_text_file
from tests.e2e.cli_support import MAIN, ROOT, YAML_NAME, clean_env, fake_provider, run_llmc, write_config
from tests.fake_openai_server import FakeOpenAIServer


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_are_private(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "new.txt", "x")
    assert mode_of(tmp_path / "new.txt") == 0o600
    atomic_write_text(tmp_path / "public.txt", "x", mode=0o644)
    assert mode_of(tmp_path / "public.txt") == 0o644


def test_rewrite_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("old")
    for mode in (0o640, 0o600, 0o604):
        path.chmod(mode)
        atomic_write_text(path, "new", mode=0o600)
        assert mode_of(path) == mode and path.read_text() == "new"


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "file"
    path.write_text("old")

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SafeFiles.os, "fsync", fail)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["file"]


def test_config_and_yaml_written_by_llmc_are_0600(tmp_path: Path) -> None:
    config_path = Config.write_default_config(tmp_path)
    assert mode_of(config_path) == 0o600
    config = Config(data_directory=tmp_path, environ={}, warn=lambda _: None)
    config.config.providers.persist_provider_configs()
    assert mode_of(tmp_path / YAML_NAME) == 0o600
    assert mode_of(tmp_path / (YAML_NAME + ".lock")) == 0o600


def test_ensure_directory(tmp_path: Path) -> None:
    created = ensure_directory(tmp_path / "a" / "b")
    assert created.is_dir() and mode_of(created) == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create data directory"):
        ensure_directory(tmp_path / "file" / "sub")
    with pytest.raises(ConfigError, match="is not a directory"):
        ensure_directory(tmp_path / "file")


def test_ensure_directory_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod cannot make a directory unwritable for root, so the access check is simulated
    monkeypatch.setattr(SafeFiles.os, "access", lambda path, mode: False)
    with pytest.raises(ConfigError, match="is not writable"):
        ensure_directory(tmp_path)


def test_read_text_file(tmp_path: Path) -> None:
    assert read_text_file(tmp_path / "absent") is None
    (tmp_path / "f").write_text("text")
    assert read_text_file(tmp_path / "f") == "text"
    with pytest.raises(ConfigError, match="is a directory"):
        read_text_file(tmp_path)


def test_read_text_file_refuses_fifos_and_devices_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # no writer: a plain open() would block forever
    (tmp_path / "zero").symlink_to("/dev/zero")  # a plain read() would never end
    for name, kind in (("pipe", "a FIFO"), ("zero", "a character device")):
        with pytest.raises(ConfigError) as info:
            read_text_file(tmp_path / name, "config file")
        assert str(info.value) == f"{tmp_path / name}: not a regular file ({kind}), expected a config file"


def test_read_text_file_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x" * 11)
    assert read_text_file(tmp_path / "f", max_bytes=11) == "x" * 11
    with pytest.raises(ConfigError) as info:
        read_text_file(tmp_path / "f", "config file", max_bytes=10)
    assert str(info.value) == f"{tmp_path / 'f'}: too large for a config file (more than 10 bytes)"
    with open(tmp_path / "big", "wb") as handle:
        handle.truncate(SafeFiles.MAX_TEXT_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="too large"):
        read_text_file(tmp_path / "big")


def test_read_text_file_drops_a_utf8_bom_only_at_the_start(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"\xef\xbb\xbfa = 1\n\xef\xbb\xbf")
    assert read_text_file(tmp_path / "f") == "a = 1\n\ufeff"
    (tmp_path / "g").write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(ConfigError, match="not UTF-8 text \\(byte 5\\)"):
        read_text_file(tmp_path / "g")


def test_file_lock_is_exclusive_between_processes(tmp_path: Path) -> None:
    target = tmp_path / "data.yaml"
    probe = ("import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1] + '.lock', os.O_RDWR | os.O_CREAT)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('free')\n"
             "except BlockingIOError:\n    print('busy')\n")

    def other_process_sees() -> str:
        return subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30).stdout.strip()

    with file_lock(target):
        assert other_process_sees() == "busy"
    assert other_process_sees() == "free"


# ----- processes -------------------------------------------------------------------------------

def test_two_concurrent_discoveries_lose_neither_result(tmp_path: Path, home: Path) -> None:
    with FakeOpenAIServer(chat_models=["alpha-chat"], non_chat_models=["alpha-embed"], latency=0.3) as alpha, \
            FakeOpenAIServer(chat_models=["beta-chat"], non_chat_models=["beta-embed"], latency=0.3) as beta:
        for round_number in range(2):
            data = tmp_path / f"data{round_number}"
            write_config(data, {"alpha": fake_provider(alpha.base_url), "beta": fake_provider(beta.base_url)})
            (data / YAML_NAME).write_text("# mine\nproviders:\n  openai:\n    invalid_models: [kept]\n")
            runs = [subprocess.Popen([sys.executable, str(MAIN), "-d", str(data), "--discover-models", name],
                                     env=clean_env(home), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for name in ("alpha", "beta")]
            for run in runs:
                out, err = run.communicate(timeout=60)
                assert run.returncode == 0, err
            text = (data / YAML_NAME).read_text()
            providers = yaml.safe_load(text)["providers"]
            assert providers["alpha"] == {"valid_models": {"alpha-chat": "alpha-chat"},
                                          "invalid_models": ["alpha-embed"]}
            assert providers["beta"] == {"valid_models": {"beta-chat": "beta-chat"},
                                         "invalid_models": ["beta-embed"]}
            assert providers["openai"]["invalid_models"] == ["kept"] and "# mine" in text


PAUSE_SCRIPT = """
import os, runpy, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
real_replace = os.replace

def paused_replace(source, target):
    if str(target).endswith({name!r}):
        # The marker appears whole or not at all: the test may look at any moment.
        Path({marker!r} + ".part").write_text(str(source))
        real_replace({marker!r} + ".part", {marker!r})
        time.sleep(60)
    return real_replace(source, target)

os.replace = paused_replace  # the rename inside SafeFiles.atomic_write_text
sys.argv = ["main.py", "-d", {data!r}, "--discover-models", "fake"]
runpy.run_path({main!r}, run_name="__main__")
"""


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_process_stopped_mid_write_leaves_the_old_file(tmp_path: Path, home: Path, how: str) -> None:
    data = tmp_path / "data"
    marker = tmp_path / "marker"
    with FakeOpenAIServer(chat_models=["new-chat"], non_chat_models=[]) as server:
        write_config(data, {"fake": fake_provider(server.base_url)})
        old = "# old file\nproviders:\n  fake:\n    valid_models: {old-chat: old}\n"
        (data / YAML_NAME).write_text(old)
        script = PAUSE_SCRIPT.format(root=str(ROOT), name=YAML_NAME, marker=str(marker), data=str(data),
                                     main=str(MAIN))
        process = subprocess.Popen([sys.executable, "-c", script], env=clean_env(home),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        assert marker.exists(), process.communicate()[1]
        temp_file = Path(marker.read_text())
        assert temp_file.parent == data and "new-chat" in temp_file.read_text()  # the new text was ready
        process.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert (data / YAML_NAME).read_text() == old
    assert "Traceback" not in err
    if how == "SIGINT":
        assert process.returncode == 130
        assert not temp_file.exists()  # an interrupted write cleans up after itself
    else:
        assert process.returncode == -signal.SIGKILL
    # the next run still reads the old file and saves cleanly
    with FakeOpenAIServer(chat_models=["new-chat"], non_chat_models=[]) as server:
        write_config(data, {"fake": fake_provider(server.base_url)})
        result = run_llmc(["-d", str(data), "--discover-models", "fake"], home)
    assert result.returncode == 0, result.stderr
    saved = yaml.safe_load((data / YAML_NAME).read_text())["providers"]["fake"]["valid_models"]
    assert saved == {"old-chat": "old", "new-chat": "new-chat"}
    assert not temp_file.exists()  # the orphan of the killed writer was cleaned up under the lock


def test_writes_go_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / YAML_NAME
    real.parent.mkdir()
    real.write_text("providers: {}\n")
    real.chmod(0o640)
    link = tmp_path / YAML_NAME
    link.symlink_to(real)
    atomic_write_text(link, "providers:\n  a: {}\n")
    assert link.is_symlink() and real.read_text() == "providers:\n  a: {}\n"
    assert mode_of(real) == 0o640


# ----- stale temp files of every kind (issue 9 item 11) and locks through symlinks (item 10) -------------

def orphan(directory: Path, target: str, age: float = 60.0) -> Path:
    """A temp file as a killed atomic_write_text leaves it, last touched `age` seconds ago."""
    path = directory / f".{target}.k1ll3d_x.tmp"
    path.write_text("half a file")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_the_data_directory_is_swept_of_every_kind_of_orphan(tmp_path: Path) -> None:
    kinds = ["kept.json", "chat_history.txt", "config.toml", "notes.md", YAML_NAME]
    orphans = [orphan(tmp_path, name) for name in kinds]
    young = orphan(tmp_path, "busy.json", age=0)  # its writer may be between creating and locking it
    mine = tmp_path / ".notes.tmp"
    mine.write_text("not llmc's")
    os.utime(mine, (0, 0))
    ensure_directory(tmp_path)
    assert [p.exists() for p in orphans] == [False] * len(kinds)
    assert young.exists() and mine.exists()


def test_a_temp_file_a_live_writer_holds_is_never_removed(tmp_path: Path) -> None:
    import fcntl
    held = orphan(tmp_path, "kept.json")
    with open(held) as writer:  # a writer mid-write holds the lock on its temp file
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        ensure_directory(tmp_path)
        atomic_write_text(tmp_path / "kept.json", "[]")
        assert held.exists()
    ensure_directory(tmp_path)
    assert not held.exists()


def test_writing_a_file_removes_its_own_orphans_anywhere(tmp_path: Path) -> None:
    elsewhere = tmp_path / "exports"
    elsewhere.mkdir()
    stale, other = orphan(elsewhere, "chat.json"), orphan(elsewhere, "someone-else.txt")
    atomic_write_text(elsewhere / "chat.json", "[]")
    assert not stale.exists() and other.exists()  # outside the data directory only the file's own


def test_two_links_to_one_providers_yaml_share_one_lock(tmp_path: Path) -> None:
    import threading
    from llmc.discovery.ProvidersYamlStore import ProvidersYamlStore
    real = tmp_path / "dotfiles" / YAML_NAME
    real.parent.mkdir()
    real.write_text("providers: {}\n")
    stores = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / YAML_NAME).symlink_to(real)
        stores.append(ProvidersYamlStore(tmp_path / name / YAML_NAME))
    rounds = 10
    barrier = threading.Barrier(2, timeout=30)

    def discover(store: ProvidersYamlStore, name: str) -> None:
        for number in range(rounds):
            barrier.wait()
            store.save({f"{name}{number}": {"valid_models": {"m": "m"}, "invalid_models": []}})
    threads = [threading.Thread(target=discover, args=(store, name)) for store, name in zip(stores, "ab")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = yaml.safe_load(real.read_text())["providers"]
    assert sorted(saved) == sorted(f"{n}{i}" for n in "ab" for i in range(rounds))  # no discovery lost
    assert (real.parent / (YAML_NAME + ".lock")).exists() and (tmp_path / "one").iterdir() is not None
    assert not (tmp_path / "one" / (YAML_NAME + ".lock")).exists()
