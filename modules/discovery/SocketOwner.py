"""Who owns a socket listening on a local port (Linux: /proc/net/tcp and tcp6), and whether to trust it.

Any user may listen on a port above 1024, so a server found there is only as trustworthy as its owner:
this user, root, or a system account (a packaged Ollama runs as its own system user) is trusted;
another ordinary user is not. Where the owner cannot be known (no /proc, another network namespace)
it is UNKNOWN."""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Set

PROC_NET = Path("/proc/net")
LOGIN_DEFS = Path("/etc/login.defs")
DEFAULT_UID_MIN = 1000  # login.defs' own default: ordinary users' uids start here
LISTEN = "0A"  # the TCP state column of a listening socket
# Local addresses a connection to 127.0.0.1 may reach: IPv4 127.0.0.1 and any; IPv6 any (dual stack) and
# the IPv4-mapped 127.0.0.1, as /proc writes them (each 32-bit word in host order: little- and big-endian).
REACHED_BY_LOOPBACK = {"0100007F", "7F000001", "00000000", "00000000000000000000000000000000",
                       "0000000000000000FFFF00000100007F", "00000000000000000000FFFF7F000001"}

TRUSTED = "trusted"
FOREIGN = "foreign"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class SocketOwner:
    """The owner of a listening port: its uid (None if unknown), its user name and whether to trust it."""

    uid: Optional[int]
    user: str
    trust: str


def listening_uids(lines: Iterable[str], port: int) -> Set[int]:
    """The uids of the sockets in these /proc/net/tcp(6) lines that listen on `port` where 127.0.0.1 reaches."""
    uids = set()
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or fields[3] != LISTEN or ":" not in fields[1]:
            continue
        address, _, port_hex = fields[1].rpartition(":")
        try:
            if int(port_hex, 16) != port or address.upper() not in REACHED_BY_LOOPBACK:
                continue
            uids.add(int(fields[7]))
        except ValueError:
            continue
    return uids


def uid_min(login_defs: Path = LOGIN_DEFS) -> int:
    """UID_MIN of /etc/login.defs (the first ordinary user's uid); DEFAULT_UID_MIN when it says none."""
    try:
        text = login_defs.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return DEFAULT_UID_MIN
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "UID_MIN":
            try:
                return int(words[1], 0)
            except ValueError:
                return DEFAULT_UID_MIN
    return DEFAULT_UID_MIN


def owner_of_port(port: int, proc_net: Optional[Path] = None, login_defs: Path = LOGIN_DEFS) -> SocketOwner:
    """Who listens on `port` for 127.0.0.1 (by /proc/net, or `proc_net`), and whether to trust a server there."""
    proc_net = PROC_NET if proc_net is None else proc_net
    lines = []
    for table in ("tcp", "tcp6"):
        try:
            lines += (proc_net / table).read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except OSError:
            continue
    uids = listening_uids(lines, port)
    if not uids:
        return SocketOwner(None, "", UNKNOWN)
    first_ordinary = uid_min(login_defs)
    strangers = sorted(uid for uid in uids if uid not in (os.getuid(), 0) and uid >= first_ordinary)
    uid = strangers[0] if strangers else min(uids)
    return SocketOwner(uid, user_name(uid), FOREIGN if strangers else TRUSTED)


def user_name(uid: int) -> str:
    """The user name of `uid`, else "uid N"."""
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return f"uid {uid}"
