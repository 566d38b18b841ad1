"""DiscoveryThrottle: a shared concurrency limit that pauses and shrinks on rate limits."""
from __future__ import annotations

import threading
import time

import pytest

from llmc.discovery.DiscoveryThrottle import DiscoveryThrottle, ThrottleClosed


def run_workers(throttle: DiscoveryThrottle, count: int, work) -> None:
    def worker(n: int) -> None:
        with throttle.slot():
            work(n)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)


def test_never_more_than_the_limit_in_flight():
    throttle = DiscoveryThrottle(3)
    run_workers(throttle, 12, lambda n: time.sleep(0.01))
    assert throttle.peak_in_flight == 3 and throttle.in_flight == 0


def test_back_off_halves_the_limit_and_pauses_every_worker_until_the_clock_says_so():
    now = [100.0]
    throttle = DiscoveryThrottle(8, clock=lambda: now[0])
    backed_off, entered = threading.Event(), threading.Event()

    def rate_limited() -> None:
        throttle.back_off(5)
        backed_off.set()

    def newcomer() -> None:
        with throttle.slot():
            entered.set()
    threads = [threading.Thread(target=rate_limited), threading.Thread(target=newcomer)]
    for thread in threads:
        thread.start()
    assert not entered.wait(0.1) and not backed_off.is_set()  # both wait for the pause to end
    assert throttle.allowed == 4 and throttle.lowest_allowed == 4 and throttle.backoffs == 1
    assert throttle.paused_until == 105.0
    with throttle._condition:
        now[0] = 105.5
        throttle._condition.notify_all()
    for thread in threads:
        thread.join(timeout=5)
    assert entered.is_set() and backed_off.is_set() and throttle.in_flight == 0


def test_a_worker_backing_off_gives_up_its_slot_and_retries_within_the_new_limit():
    throttle = DiscoveryThrottle(4)

    def work(n: int) -> None:
        if n == 0:
            for _ in range(3):
                throttle.back_off(0.01)
        time.sleep(0.01)
    run_workers(throttle, 8, work)
    assert throttle.allowed == 1  # 4 -> 2 -> 1 -> 1: no success was reported
    assert throttle.in_flight == 0 and throttle.peak_in_flight <= 4


def test_successes_grow_the_limit_back_one_step_at_a_time():
    throttle = DiscoveryThrottle(4)
    throttle.back_off(0)
    throttle.back_off(0)
    assert throttle.allowed == 1
    throttle.succeeded()
    assert throttle.allowed == 2
    throttle.succeeded()
    assert throttle.allowed == 2
    throttle.succeeded()
    assert throttle.allowed == 3
    for _ in range(10):
        throttle.succeeded()
    assert throttle.allowed == 4


def test_notice_is_passed_on_only_when_no_pause_is_running():
    notes = []
    throttle = DiscoveryThrottle(2, on_notice=notes.append)
    throttle.notice("first")
    with throttle._condition:
        throttle.paused_until = time.monotonic() + 60
    throttle.notice("second")
    assert notes == ["first"]


def test_close_wakes_waiting_workers():
    throttle = DiscoveryThrottle(1)
    errors = []
    with throttle.slot():
        def waiter() -> None:
            try:
                with throttle.slot():
                    pass
            except ThrottleClosed:
                errors.append("closed")
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.05)
        throttle.close()
        thread.join(timeout=5)
    assert errors == ["closed"]


def test_limit_is_at_least_one():
    assert DiscoveryThrottle(0).limit == 1


def test_slot_is_released_when_the_work_raises():
    throttle = DiscoveryThrottle(1)
    with pytest.raises(RuntimeError):
        with throttle.slot():
            raise RuntimeError("boom")
    assert throttle.in_flight == 0
