"""TokenUsage: counts taken from untrusted replies, and the usage line with its cost."""
from __future__ import annotations

import pytest

from llmc.discovery.ModelPrice import ModelPrice
from llmc.base.TokenUsage import TokenUsage, format_dollars


def test_counts_from_a_reply() -> None:
    assert TokenUsage.from_reply({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}) == (3, 4)
    assert TokenUsage(3, 4).as_dict() == {"prompt_tokens": 3, "completion_tokens": 4}


@pytest.mark.parametrize("usage", [
    None, [], "12", {"prompt_tokens": 3}, {"prompt_tokens": "3", "completion_tokens": 4},
    {"prompt_tokens": True, "completion_tokens": 4}, {"prompt_tokens": -1, "completion_tokens": 4},
    {"prompt_tokens": 10**13, "completion_tokens": 4}, {"prompt_tokens": 1.5, "completion_tokens": 4}])
def test_unusable_counts_are_ignored(usage) -> None:
    assert TokenUsage.from_reply(usage) is None


def test_the_usage_line_with_and_without_a_price() -> None:
    usage = TokenUsage(1200, 34)
    assert usage.describe() == "1,200 prompt + 34 completion tokens"
    price = ModelPrice(prompt=0.5, completion=1.5)  # USD per million tokens
    assert usage.describe(price) == "1,200 prompt + 34 completion tokens, $0.000651"
    assert usage.describe(ModelPrice()) == "1,200 prompt + 34 completion tokens, free"


def test_format_dollars() -> None:
    assert format_dollars(0.000123) == "0.000123"
    assert format_dollars(1.5) == "1.5"
    assert format_dollars(0.0000001) == "0"
