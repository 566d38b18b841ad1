"""Discovery progress on stderr: one redrawn line on a terminal, plain lines otherwise."""
from __future__ import annotations

import threading
import time
from typing import Dict, TextIO, Tuple

BAR_WIDTH = 20


class ProgressDisplay:
    """Receives (provider, done, total) updates from discovery threads and shows them."""

    def __init__(self, stream: TextIO, live: bool, min_interval: float = 0.1) -> None:
        self.stream = stream
        self.live = live
        self.min_interval = min_interval
        self._state: Dict[str, Tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, provider: str, done: int, total: int) -> None:
        with self._lock:
            first = provider not in self._state
            self._state[provider] = (done, total)
            if not self.live:
                if first:
                    self._write(f"{provider}: pinging {total} models\n")
                elif done == total:
                    self._write(f"{provider}: pinged {done}/{total}\n")
                return
            now = time.monotonic()
            if done == total or now - self._last_draw >= self.min_interval:
                self._last_draw = now
                self._draw()

    def _draw(self) -> None:
        parts = [f"{name} [{_bar(done, total)}] {done}/{total}" for name, (done, total) in self._state.items()]
        self._write("\r\x1b[2K" + "  ".join(parts))
        self._drawn = True

    def close(self) -> None:
        """Clear the live line so the summary starts on a clean line."""
        with self._lock:
            if self.live and self._drawn:
                self._write("\r\x1b[2K")
                self._drawn = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _bar(done: int, total: int) -> str:
    filled = BAR_WIDTH if total == 0 else BAR_WIDTH * done // total
    return "#" * filled + "-" * (BAR_WIDTH - filled)
