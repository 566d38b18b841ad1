"""What a model costs, as a provider's /models listing states it (OpenRouter's `pricing`)."""
from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, Optional

from pydantic import BaseModel, ConfigDict, Field

PER_MILLION = Decimal(1_000_000)
MAX_PRICE_PER_MILLION = 1_000_000.0  # $1 a token: anything dearer is taken as a garbled listing
DECIMALS_KEPT = 4  # of a dollar per million: finer than any price, and written without an exponent


class ModelPrice(BaseModel):
    """USD per million prompt tokens, completion tokens and requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: float = Field(default=0.0, ge=0, le=MAX_PRICE_PER_MILLION)
    completion: float = Field(default=0.0, ge=0, le=MAX_PRICE_PER_MILLION)
    request: float = Field(default=0.0, ge=0, le=MAX_PRICE_PER_MILLION)

    @classmethod
    def from_listing(cls, entry: Any) -> Optional["ModelPrice"]:
        """The price in a /models entry (`pricing` in USD per token or request), None if it gives none.

        A missing, negative ("-1": varies by route), non-numeric or absurd figure (a token dearer than $1, a
        request dearer than $1) gives no price; is_unreadable_listing tells it from a listing without prices.
        """
        pricing = entry.get("pricing") if isinstance(entry, dict) else None
        if not isinstance(pricing, dict):
            return None
        if "prompt" not in pricing and "input" in pricing:  # Together: USD per million, input and output
            return cls._from_per_million(pricing.get("input"), pricing.get("output"))
        prompt, completion = (_per_million(pricing.get(name)) for name in ("prompt", "completion"))
        request = pricing.get("request")
        request_price = 0.0 if request is None else _per_million(request)  # none stated: none charged
        if prompt is None or completion is None or request_price is None:
            return None
        return cls(prompt=prompt, completion=completion, request=request_price)

    @classmethod
    def is_unreadable_listing(cls, entry: Any) -> bool:
        """True when a /models entry states a price that llmc cannot read or believe: its cost is unknown,
        never free (an entry that states no price at all is merely unpriced)."""
        stated = isinstance(entry, dict) and entry.get("pricing") is not None
        return stated and cls.from_listing(entry) is None

    @classmethod
    def _from_per_million(cls, prompt: Any, completion: Any) -> Optional["ModelPrice"]:
        prompt_price, completion_price = (_per_million(value, per_unit=False) for value in (prompt, completion))
        if prompt_price is None or completion_price is None:
            return None
        return cls(prompt=prompt_price, completion=completion_price)

    @property
    def is_free(self) -> bool:
        """True when neither tokens nor requests cost anything."""
        return self.prompt == 0 and self.completion == 0 and self.request == 0

    def cost(self, prompt_tokens: int, completion_tokens: int, requests: int = 1) -> float:
        """USD for `requests` requests that used these many tokens in all."""
        return (prompt_tokens * self.prompt + completion_tokens * self.completion
                + requests * self.request) / float(PER_MILLION)

    def as_yaml(self) -> Dict[str, float]:
        """The fields for the providers YAML; a zero request price is left out."""
        fields = {"prompt": self.prompt, "completion": self.completion}
        if self.request:
            fields["request"] = self.request
        return fields


def _per_million(value: Any, per_unit: bool = True) -> Optional[float]:
    """A USD figure (text or number; per unit, or per million) as USD per million, rounded; None if unusable."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        figure = Decimal(str(value).strip()) * (PER_MILLION if per_unit else 1)
    except (InvalidOperation, ValueError):
        return None
    if not figure.is_finite() or figure < 0:
        return None
    per_million = round(float(figure), DECIMALS_KEPT)
    if not math.isfinite(per_million) or per_million > MAX_PRICE_PER_MILLION:
        return None
    return per_million
