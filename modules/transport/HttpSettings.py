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
    # Total seconds one request may take (a server trickling bytes resets no read timeout but hits these):
    models_timeout: float = 10.0   # GET /models, headers to last byte
    ping_timeout: float = 60.0     # a discovery ping
    reply_timeout: float = 300.0   # a whole (stream = false) chat reply
    stall_timeout: float = 600.0   # a stream: the headers, and any stretch with no reply text in it
    discovery_timeout: float = 300.0  # one provider's discovery: its model list and all its pings
