"""The settings that go with each chat request (not with the API object that sends it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class ChatOptions:
    """Sampling and reply settings of one request; None leaves a setting to its default."""

    temperature: Optional[float] = None  # None sends 0; a fixed-temperature model gets 1 whatever is asked
    max_tokens: Optional[int] = None  # None: the model's own limit
    stream: bool = True  # stream the reply as it is generated, or take it whole
    tools: Tuple[Dict[str, Any], ...] = ()  # function definitions offered to the model (`tools` in the body)
