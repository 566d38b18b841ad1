"""Shared pacing of one provider's discovery workers: a concurrency limit that backs off on 429/503."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional


class ThrottleClosed(Exception):
    """The throttle was closed (discovery cancelled) while a worker waited for it."""


class DiscoveryThrottle:
    """Admits at most `limit` requests at once; a rate limit pauses every worker and halves the limit.

    The limit grows back by one after `allowed` successful requests in a row, so a short storm costs
    little and a long one settles at what the provider tolerates.
    """

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic,
                 on_notice: Optional[Callable[[str], None]] = None) -> None:
        self.limit = max(1, limit)
        self.allowed = self.limit
        self.lowest_allowed = self.limit
        self.in_flight = 0
        self.peak_in_flight = 0
        self.paused_until = 0.0
        self.backoffs = 0  # pauses started (the 429s of one burst count once)
        self.waits = 0     # rate-limited requests that waited
        self.on_notice = on_notice
        self._clock = clock
        self._successes = 0
        self._closed = False
        self._condition = threading.Condition()
        self._local = threading.local()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the allowed request slots, waiting for a free one and for any pause to end."""
        with self._condition:
            self._acquire()
        try:
            yield
        finally:
            with self._condition:
                self._release()

    def succeeded(self) -> None:
        """Count a request that was not rate limited; grow the limit back slowly."""
        with self._condition:
            self._successes += 1
            if self.allowed < self.limit and self._successes >= self.allowed:
                self.allowed += 1
                self._successes = 0
                self._condition.notify_all()

    def back_off(self, seconds: float) -> None:
        """A rate limit, used as the HTTP client's retry sleep: pause every worker for `seconds`,
        halve the concurrency (once per pause), and retry only when a slot under the new limit is free."""
        with self._condition:
            now = self._clock()
            self.waits += 1
            if self.paused_until <= now:  # the 429s of requests sent together are one signal, not many
                self.backoffs += 1
                self.allowed = max(1, self.allowed // 2)
                self.lowest_allowed = min(self.lowest_allowed, self.allowed)
            self._successes = 0
            self.paused_until = max(self.paused_until, now + seconds)
            if getattr(self._local, "holding", False):
                self._release()
                self._acquire()
            else:
                self._wait(lambda: self.paused_until <= self._clock())

    def notice(self, message: str, deliver: Optional[Callable[[str], None]] = None) -> None:
        """Pass on a retry notice (to `deliver`, else `on_notice`) only when it starts a new pause,
        not once per waiting worker."""
        with self._condition:
            paused = self.paused_until > self._clock()
        deliver = deliver or self.on_notice
        if not paused and deliver is not None:
            deliver(message)

    def notices_to(self, deliver: Optional[Callable[[str], None]]) -> Callable[[str], None]:
        """A retry-notice callback for one request that tells `deliver` (see notice)."""
        return lambda message: self.notice(message, deliver)

    def close(self) -> None:
        """Wake every waiting worker with ThrottleClosed (discovery was cancelled)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def _acquire(self) -> None:
        self._wait(lambda: self.paused_until <= self._clock() and self.in_flight < self.allowed)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self._local.holding = True

    def _release(self) -> None:
        if getattr(self._local, "holding", False):
            self.in_flight -= 1
            self._local.holding = False
            self._condition.notify_all()

    def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self._closed:
                raise ThrottleClosed()
            delay = self.paused_until - self._clock()
            self._condition.wait(timeout=delay if delay > 0 else None)
