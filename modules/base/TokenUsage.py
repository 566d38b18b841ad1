"""The tokens one reply took, as the provider counted them, and how that reads with its cost."""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

MAX_TOKENS_COUNTED = 10**12  # what a provider sends is untrusted: a count beyond this is garbled


class TokenUsage(NamedTuple):
    """Prompt and completion tokens of one request."""

    prompt_tokens: int
    completion_tokens: int

    @classmethod
    def from_reply(cls, usage: Any) -> Optional["TokenUsage"]:
        """The counts of a reply's `usage` object; None if it holds no usable counts."""
        if not isinstance(usage, dict):
            return None
        prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
        if prompt is None or completion is None:
            return None
        return cls(prompt, completion)

    def as_dict(self) -> dict:
        """The counts as a saved chat keeps them."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    def describe(self, price: Any = None) -> str:
        """`12 prompt + 34 completion tokens`, and the cost where the model's price is known."""
        text = f"{self.prompt_tokens:,} prompt + {self.completion_tokens:,} completion tokens"
        if price is None:
            return text
        if price.is_free:
            return f"{text}, free"
        return f"{text}, ${format_dollars(price.cost(self.prompt_tokens, self.completion_tokens))}"


def format_dollars(amount: float) -> str:
    """Dollars to the millionth, without trailing zeros (`0.000123`, `1.5`)."""
    return f"{amount:.6f}".rstrip("0").rstrip(".") or "0"


def _count(value: object) -> Optional[int]:
    """`value` if it is a plausible token count (a whole number, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS_COUNTED:
        return value
    return None
