"""What one discovery run found for one provider, and how it is told to the user."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

from ..ModelDiscoveryService import PING_TOKEN_BUDGET
from .ModelCapabilities import ModelCapabilities
from .ModelPrice import ModelPrice

MAX_LISTED_UNDECIDED = 10
MAX_LISTED_FREE = 10
# The worst case of one ping: "Hi" in a chat template is a few tokens (counted generously), and the
# reply at most PING_TOKEN_BUDGET.
PING_PROMPT_TOKENS = 32


def usd(amount: float) -> str:
    """An amount of dollars as shown to the user: four decimals below a dollar, else cents."""
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


@dataclass
class DiscoverySummary:
    """What discovery found for one provider."""

    provider: str
    found: int = 0
    valid: List[str] = field(default_factory=list)
    invalid: List[str] = field(default_factory=list)
    undecided: List[str] = field(default_factory=list)
    judged_by_metadata: int = 0  # invalid models the listing itself showed to be no chat models
    prices: Dict[str, ModelPrice] = field(default_factory=dict)  # what /models said models cost
    capabilities: Dict[str, ModelCapabilities] = field(default_factory=dict)  # what the server said they take
    listed: List[str] = field(default_factory=list)  # ids of the listing, in its order
    known_invalid: Set[str] = field(default_factory=set)  # remembered or judged by metadata: not pinged
    to_ping: List[str] = field(default_factory=list)
    unknown_cost: Set[str] = field(default_factory=set)  # ids whose listed price cannot be read: cost unknown
    seconds: float = 0.0
    error: Optional[str] = None

    def line(self) -> str:
        """One summary line for the user."""
        if self.error is not None:
            return f"{self.provider}: failed: {self.error.removeprefix(self.provider + ': ')}"
        return (f"{self.provider}: {self.found} model{'' if self.found == 1 else 's'} found, {len(self.valid)} valid, "
                f"{len(self.invalid)} invalid{self._metadata_note()}, {len(self.undecided)} undecided "
                f"({self.seconds:.1f} s)")

    def _metadata_note(self) -> str:
        return f" ({self.judged_by_metadata} by metadata, not pinged)" if self.judged_by_metadata else ""

    def worst_ping_cost(self) -> float:
        """USD the pings of the priced models may cost at most."""
        return sum(self.prices[m].cost(PING_PROMPT_TOKENS, PING_TOKEN_BUDGET) for m in self.to_ping
                   if m in self.prices)

    def unknown_cost_pings(self) -> List[str]:
        """The models to ping whose listed price cannot be read: what their pings cost is unknown."""
        return [m for m in self.to_ping if m in self.unknown_cost]

    def ping_cost_line(self) -> Optional[str]:
        """What the pings may cost, which models are free and which of unknown cost; None when /models
        stated no prices."""
        priced = [m for m in self.to_ping if m in self.prices]
        unknown = self.unknown_cost_pings()
        if not priced and not unknown:
            return None
        free = [m for m in priced if self.prices[m].is_free]
        pings = len(self.to_ping)
        line = f"{self.provider}: {pings} ping{'' if pings == 1 else 's'} may cost up to {usd(self.worst_ping_cost())}"
        unpriced = pings - len(priced) - len(unknown)
        if unpriced:
            line += f" ({unpriced} unpriced, not counted)"
        if free:
            line += f"; {len(free)} free: {_first_few(free)}"
        if unknown:
            line += f"; {len(unknown)} of unknown cost (a listed price llmc cannot read): {_first_few(unknown)}"
        return line

    def undecided_line(self) -> Optional[str]:
        """Which models stayed undecided (the first few), or None when every model was decided."""
        if not self.undecided:
            return None
        shown = ", ".join(self.undecided[:MAX_LISTED_UNDECIDED])
        more = len(self.undecided) - MAX_LISTED_UNDECIDED
        if more > 0:
            shown += f", … and {more} more"
        return (f"{self.provider}: {len(self.undecided)} undecided, left as they were; "
                f"a later run will try them again: {shown}")


def _first_few(names: List[str]) -> str:
    """The first MAX_LISTED_FREE names, and how many more."""
    more = len(names) - MAX_LISTED_FREE
    return ", ".join(names[:MAX_LISTED_FREE]) + (f", … and {more} more" if more > 0 else "")
