"""SocketOwner: the owner of a listening port from real /proc/net/tcp and tcp6 lines, and whom to trust."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from llmc.discovery.SocketOwner import (DEFAULT_UID_MIN, FOREIGN, TRUSTED, UNKNOWN, listening_uids, owner_of_port,
                                        uid_min, user_name)

# Lines as Linux writes them (a header, then one socket a line): 0A is LISTEN, 01 ESTABLISHED.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 339 1 00000000265beb4f 100 0 0 10 0
   1: 0100007F:2CAA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   997        0 99806 1 00000000c7287bd2 100 0 0 10 0
   2: 0100007F:04D2 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1002        0 99415 1 00000000b5d702d2 20 4 30 10 -1
   3: 0200007F:04D2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1003        0 101061 1 00000000da76d0c5 100 0 0 10 0
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:04D2 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1004        0 4243 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:2383 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1005        0 4244 1 0000000000000000 100 0 0 10 0
"""


def lines(text: str) -> list:
    return text.splitlines()[1:]


def test_the_uid_of_a_listening_socket_127_0_0_1_reaches_is_found_by_its_port() -> None:
    assert listening_uids(lines(TCP), 8080) == {1001}    # 0.0.0.0:8080
    assert listening_uids(lines(TCP), 11434) == {997}    # 127.0.0.1:11434
    assert listening_uids(lines(TCP6), 8000) == {0}      # [::]:8000, dual stack
    assert listening_uids(lines(TCP6), 9091) == {1005}   # [::ffff:127.0.0.1]:9091


def test_connections_other_addresses_and_garbage_are_no_listener() -> None:
    # 1234: an established connection, a listener on 127.0.0.2 and one on [::1]: none answers 127.0.0.1
    assert listening_uids(lines(TCP) + lines(TCP6), 1234) == set()
    assert listening_uids(["", "garbage", "0: zz:1F90 0 0A a b c notanumber"], 8080) == set()


def test_uid_min_comes_from_login_defs_with_its_default(tmp_path: Path) -> None:
    defs = tmp_path / "login.defs"
    defs.write_text("# comment\nUID_MIN\t\t\t 500\nUID_MAX 60000\n")
    assert uid_min(defs) == 500
    defs.write_text("UID_MAX 60000\n")
    assert uid_min(defs) == DEFAULT_UID_MIN == 1000
    defs.write_text("UID_MIN lots\n")
    assert uid_min(defs) == 1000
    assert uid_min(tmp_path / "absent") == 1000


@pytest.fixture
def proc(tmp_path: Path) -> Path:
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "tcp6").write_text(TCP6)
    (tmp_path / "login.defs").write_text("UID_MIN 1000\n")
    return tmp_path


def test_this_user_root_and_system_accounts_are_trusted_another_user_is_not(proc: Path) -> None:
    defs = proc / "login.defs"
    assert owner_of_port(11434, proc, defs).trust == TRUSTED   # uid 997: a system account (an Ollama service)
    assert owner_of_port(8000, proc, defs).trust == TRUSTED    # root
    foreign = owner_of_port(8080, proc, defs)
    if os.getuid() != 1001:
        assert (foreign.uid, foreign.trust, foreign.user) == (1001, FOREIGN, user_name(1001))
    assert owner_of_port(4321, proc, defs).trust == UNKNOWN  # nobody listens there
    assert owner_of_port(8080, proc / "none", defs).trust == UNKNOWN  # no /proc/net (not Linux)


def test_a_real_listening_socket_is_owned_by_this_user() -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp (not Linux)")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        owner = owner_of_port(listener.getsockname()[1])
    assert (owner.uid, owner.trust) == (os.getuid(), TRUSTED)


def test_user_names_come_from_the_password_database() -> None:
    assert user_name(0) == "root"
    assert user_name(4_000_000_000) == "uid 4000000000"
