"""What one provider refused in a request body, remembered for the rest of the run so it is not sent again."""
from __future__ import annotations

import threading
from typing import Set


class ProviderRefusals:
    """The request fields a provider turned down: `stream_options` (usage in streams), and per model the
    token-limit field first sent (it wants the other one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stream_options = False
        self._swapped_token_field: Set[str] = set()

    def refuse_stream_options(self) -> None:
        """The provider refused `stream_options`: stream without it from now on."""
        self.stream_options = True

    def swap_token_field(self, model: str) -> None:
        """`model` refused the token-limit field it was sent: send the other one from now on."""
        with self._lock:
            self._swapped_token_field.add(model)

    def token_field_swapped(self, model: str) -> bool:
        """True when `model` takes the other token-limit field than the one chosen by default."""
        return model in self._swapped_token_field
