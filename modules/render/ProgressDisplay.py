"""Discovery progress on stderr: one redrawn line on a terminal, plain lines otherwise."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, Optional, TextIO, Tuple

from ..base.Errors import DiscoveryCancelled
from ..base.OutputChannel import OutputChannel
from ..base.SafeFiles import ensure_directory
from ..base.Terminal import Terminal

if TYPE_CHECKING:
    from ..ProviderManager import ProviderManager

BAR_WIDTH = 20


class ProgressDisplay:
    """Receives (provider, done, total) updates from discovery threads and shows them.

    Live mode redraws one line (a bar per provider, cut to the terminal's width) at most every
    `min_interval` seconds; plain mode writes a line when a provider starts and when it is done.
    """

    def __init__(self, stream: TextIO, live: bool, min_interval: float = 0.1,
                 width: Optional[Callable[[], int]] = None) -> None:
        self.stream = stream
        self.live = live
        self.min_interval = min_interval
        self._width = width or (lambda: os.get_terminal_size(stream.fileno()).columns)
        self._state: Dict[str, Tuple[int, int]] = {}
        self._lock = threading.RLock()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, provider: str, done: int, total: int) -> None:
        with self._lock:
            first = provider not in self._state
            self._state[provider] = (done, total)
            if not self.live:
                if first:
                    self._write(f"{provider}: pinging {total} model{'' if total == 1 else 's'}\n")
                elif done == total:
                    self._write(f"{provider}: pinged {done}/{total}\n")
                return
            now = time.monotonic()
            if first or done == total or now - self._last_draw >= self.min_interval:
                self._last_draw = now
                self._draw()

    def note(self, text: str) -> None:
        """Write a message line on the display's stream without garbling the live line."""
        with self._lock:
            self._clear()
            self._write(text + "\n")
            if self.live and self._state:
                self._draw()

    def around(self, write: Callable[[str], None]) -> Callable[[str], None]:
        """Wrap a line writer (e.g. print to stdout) so the live line is cleared before it writes."""
        def wrapped(text: str) -> None:
            with self._lock:
                self._clear()
                write(text)
        return wrapped

    def close(self) -> None:
        """Clear the live line so what follows starts on a clean line."""
        with self._lock:
            self._clear()

    def _draw(self) -> None:
        parts = [f"{name} [{_bar(done, total)}] {done}/{total}" for name, (done, total) in self._state.items()]
        line = "  ".join(parts)
        width = max(10, self._safe_width() - 1)  # never wrap: a wrapped line cannot be redrawn
        if len(line) > width:
            line = line[: width - 1] + "…"
        self._write("\r\x1b[2K" + line)
        self._drawn = True

    def _clear(self) -> None:
        if self.live and self._drawn:
            self._write("\r\x1b[2K")
            self._drawn = False

    def _safe_width(self) -> int:
        try:
            return int(self._width())
        except (OSError, ValueError, AttributeError):
            return shutil.get_terminal_size().columns

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _bar(done: int, total: int) -> str:
    filled = BAR_WIDTH if total == 0 else BAR_WIDTH * done // total
    return "#" * filled + "-" * (BAR_WIDTH - filled)


def discover_with_progress(providers: ProviderManager, terminal: Terminal, data_directory: Path,
                           print_line: Callable[[str], None], provider_filter: Optional[str] = None,
                           force_refresh: bool = False) -> Optional[bool]:
    """Run discovery with a progress bar on stderr; True/False as discovery returns, None if cancelled.

    Summary lines go through `print_line`; failures, skips and rate-limit notices through
    `terminal.message`: each clears the bar first.
    """
    ensure_directory(data_directory)
    progress = ProgressDisplay(terminal.stderr, live=terminal.stderr_is_terminal)
    cancel = threading.Event()

    def on_progress(name: str, done: int, total: int) -> None:
        if not cancel.is_set():
            progress(name, done, total)

    output = OutputChannel(progress.around(print_line), progress.around(terminal.message), on_progress)
    try:
        outcome = providers.discover_and_validate_models(
            force_refresh=force_refresh, provider_filter=provider_filter, cancel=cancel,
            approve_cost=terminal.confirm, output=output)
    except (KeyboardInterrupt, DiscoveryCancelled):
        cancel.set()  # pings still in flight never draw again
        outcome = None
    finally:
        progress.close()
    if outcome is None:
        terminal.message("Discovery cancelled; nothing was saved.")
    return outcome
