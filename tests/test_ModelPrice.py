"""ModelPrice: prices from a /models entry, costs, and the YAML form."""
from __future__ import annotations

import pytest

from llmc.discovery.ModelPrice import ModelPrice


def test_openrouter_pricing_per_token_becomes_usd_per_million():
    entry = {"id": "openai/gpt-4o", "pricing": {"prompt": "0.0000025", "completion": "0.00001",
                                                "request": "0", "image": "0.003613"}}
    price = ModelPrice.from_listing(entry)
    assert price == ModelPrice(prompt=2.5, completion=10.0, request=0.0)
    assert not price.is_free
    assert price.as_yaml() == {"prompt": 2.5, "completion": 10.0}


def test_a_request_fee_is_kept_and_counted():
    price = ModelPrice.from_listing({"pricing": {"prompt": "0.000001", "completion": "0.000002",
                                                 "request": "0.005"}})
    assert price.request == 5000.0 and price.as_yaml()["request"] == 5000.0
    assert price.cost(prompt_tokens=1000, completion_tokens=500, requests=2) == pytest.approx(
        (1000 * 1 + 500 * 2) / 1e6 + 2 * 0.005)


def test_free_models_are_free():
    price = ModelPrice.from_listing({"pricing": {"prompt": "0", "completion": "0"}})
    assert price.is_free and price.cost(100, 100) == 0


@pytest.mark.parametrize("pricing", [
    None, "cheap", [], {}, {"prompt": "0.1"}, {"prompt": "-1", "completion": "-1"},
    {"prompt": "abc", "completion": "0"}, {"prompt": "NaN", "completion": "0"},
    {"prompt": "Infinity", "completion": "0"}, {"prompt": True, "completion": "0"},
    {"prompt": "1e400", "completion": "0"}, {"prompt": "2", "completion": "0"},
    {"prompt": {"x": 1}, "completion": "0"},
])
def test_unusable_pricing_gives_no_price(pricing):
    assert ModelPrice.from_listing({"id": "m", "pricing": pricing}) is None
    assert ModelPrice.is_unreadable_listing({"id": "m", "pricing": pricing}) is (pricing is not None)


@pytest.mark.parametrize("figure", ["1e308", "-1", "NaN", "Infinity", "0.01 USD", True, False, [], ["0"], None, "1.5"])
def test_a_price_that_cannot_be_read_or_believed_makes_the_cost_unknown_never_free(figure):
    for field in ("prompt", "completion", "request"):
        pricing = {"prompt": "0", "completion": "0", field: figure}
        entry = {"id": "m", "pricing": pricing}
        if field == "request" and figure is None:
            continue  # a request price of null is none, as when it is left out
        assert ModelPrice.from_listing(entry) is None, (field, figure)
        assert ModelPrice.is_unreadable_listing(entry), (field, figure)


def test_a_listing_that_gives_no_pricing_or_a_readable_one_is_not_unreadable():
    assert not ModelPrice.is_unreadable_listing({"id": "m"})
    assert not ModelPrice.is_unreadable_listing({"id": "m", "pricing": None})
    assert not ModelPrice.is_unreadable_listing({"id": "m", "pricing": {"prompt": "0", "completion": "0"}})
    assert not ModelPrice.is_unreadable_listing({"id": "m", "pricing": {"prompt": "0", "completion": "0",
                                                                        "request": "0.99"}})


def test_numbers_are_accepted_as_well_as_text_and_rounded_for_the_yaml():
    price = ModelPrice.from_listing({"pricing": {"prompt": 3e-07, "completion": 1.234567891e-06}})
    assert price.prompt == 0.3 and price.completion == 1.2346
    assert "e" not in repr(ModelPrice.from_listing({"pricing": {"prompt": 1e-12, "completion": 0}}).prompt)


def test_entries_without_pricing_give_none():
    assert ModelPrice.from_listing({"id": "gpt-4o"}) is None
    assert ModelPrice.from_listing("not a dict") is None


def test_together_pricing_is_per_million_already():
    entry = {"id": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "type": "chat",
             "pricing": {"hourly": 0, "input": 0.88, "output": 0.88, "base": 0, "finetune": 0}}
    assert ModelPrice.from_listing(entry) == ModelPrice(prompt=0.88, completion=0.88)
    assert ModelPrice.from_listing({"pricing": {"input": -1, "output": 0}}) is None
