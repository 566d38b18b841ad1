"""Timeouts and retry policy of provider requests (no HTTP imports: settings are cheap to build)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HttpSettings:
    """Timeouts and retry policy shared by chat and discovery requests."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 3
    max_retry_wait: float = 10.0
    give_up_after: float = 60.0  # a Retry-After longer than this is not waited for at all
    pool_size: int = 16
