"""A total time limit for one HTTP request: when it passes, the request's socket is shut down, so even a
server that trickles a byte every few seconds (which no read timeout catches) cannot hold llmc."""
from __future__ import annotations

import socket
import threading
from typing import Any, List, Optional, Type

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_active = threading.local()  # the deadline of the request this thread is sending, if any


class RequestDeadline:
    """`with RequestDeadline(seconds):` around a request and the reading of its reply; `expired` tells
    whether the time ran out (the read then failed, or came back short)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: List[Any] = []
        self._lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None
        self._outer: Optional[RequestDeadline] = None

    def __enter__(self) -> "RequestDeadline":
        self._outer = getattr(_active, "deadline", None)
        _active.deadline = self
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        _active.deadline = self._outer

    @staticmethod
    def current() -> Optional["RequestDeadline"]:
        """The deadline of the request this thread is sending."""
        return getattr(_active, "deadline", None)

    def watch(self, sock: Any) -> None:
        """Shut the socket down when the time runs out (at once if it has), or when a deadline around this
        one does (a discovery's, around each of its pings)."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut_down(sock)
        if self._outer is not None:
            self._outer.watch(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut_down(sock)


def _shut_down(sock: Any) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading it
    except OSError:
        pass


def _watched(connection_class: Type[HTTPConnection]) -> type:
    """`connection_class` whose every request puts its socket under the thread's deadline (the socket
    itself: http.client lets go of it when the reply says Connection: close)."""
    def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = connection_class.request(self, *args, **kwargs)  # connects if need be
        deadline = RequestDeadline.current()
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return result
    return type(f"Watched{connection_class.__name__}", (connection_class,), {"request": request})


_POOLS = {
    "http": type("WatchedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": _watched(HTTPConnection)}),
    "https": type("WatchedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": _watched(HTTPSConnection)}),
}


def watched_adapter(pool_size: int) -> HTTPAdapter:
    """A requests adapter whose connections honour RequestDeadline (direct and through a proxy)."""
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size))
    adapter.poolmanager.pool_classes_by_scheme = _POOLS
    original = adapter.proxy_manager_for

    def proxy_manager_for(proxy: str, **proxy_kwargs: Any) -> Any:
        manager = original(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
    adapter.proxy_manager_for = proxy_manager_for  # type: ignore[method-assign]
    return adapter
