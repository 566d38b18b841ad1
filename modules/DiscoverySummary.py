"""What one discovery run found for one provider, and how it is told to the user."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .ModelPrice import ModelPrice

MAX_LISTED_UNDECIDED = 10


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
    seconds: float = 0.0
    error: Optional[str] = None

    def line(self) -> str:
        """One summary line for the user."""
        if self.error:
            return f"{self.provider}: failed: {self.error.removeprefix(self.provider + ': ')}"
        return (f"{self.provider}: {self.found} models found, {len(self.valid)} valid, "
                f"{len(self.invalid)} invalid{self._metadata_note()}, {len(self.undecided)} undecided "
                f"({self.seconds:.1f} s)")

    def _metadata_note(self) -> str:
        return f" ({self.judged_by_metadata} by metadata, not pinged)" if self.judged_by_metadata else ""

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
