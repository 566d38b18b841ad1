"""DiscoverySummary: the per-provider lines a discovery run prints."""
import pytest

from llmc.discovery.DiscoverySummary import DiscoverySummary


def test_summary_line_counts_each_outcome():
    summary = DiscoverySummary("fake", found=4, valid=["a", "b"], invalid=["c"], undecided=["d"], seconds=1.26)
    assert summary.line() == "fake: 4 models found, 2 valid, 1 invalid, 1 undecided (1.3 s)"


def test_failure_line_does_not_repeat_the_provider():
    assert DiscoverySummary("fake", error="fake: connection refused").line() == "fake: failed: connection refused"


def test_a_long_undecided_list_names_the_first_ten():
    summary = DiscoverySummary("fake", found=13, undecided=[f"m{i:02d}" for i in range(13)])
    assert summary.undecided_line() == ("fake: 13 undecided, left as they were; a later run will try them "
                                        "again: m00, m01, m02, m03, m04, m05, m06, m07, m08, m09, … and 3 more")
    assert DiscoverySummary("fake", found=2, valid=["a", "b"]).undecided_line() is None


def test_ping_cost_line_counts_priced_pings_and_names_free_models():
    from llmc.discovery.ModelPrice import ModelPrice
    free = {f"free-{i}": ModelPrice() for i in range(12)}
    summary = DiscoverySummary(provider="or", to_ping=["dear", "unknown", *free],
                               prices={"dear": ModelPrice(prompt=1000, completion=2000), **free})
    assert summary.worst_ping_cost() == pytest.approx((32 * 1000 + 16 * 2000) / 1e6)
    assert summary.ping_cost_line() == ("or: 14 pings may cost up to $0.0640 (1 unpriced, not counted); "
                                        "12 free: " + ", ".join(list(free)[:10]) + ", … and 2 more")
    assert DiscoverySummary(provider="x", to_ping=["a"]).ping_cost_line() is None


def test_pings_of_unreadable_price_are_of_unknown_cost_and_always_get_a_cost_line():
    summary = DiscoverySummary(provider="or", to_ping=["a", "b", "c"], unknown_cost={"a", "b"})
    assert summary.unknown_cost_pings() == ["a", "b"]
    assert summary.ping_cost_line() == ("or: 3 pings may cost up to $0.0000 (1 unpriced, not counted); "
                                        "2 of unknown cost (a listed price llmc cannot read): a, b")
    assert DiscoverySummary(provider="or", to_ping=["a"], unknown_cost={"a"}).ping_cost_line() == (
        "or: 1 ping may cost up to $0.0000; 1 of unknown cost (a listed price llmc cannot read): a")


def test_usd():
    from llmc.discovery.DiscoverySummary import usd
    assert usd(0.00012) == "$0.0001" and usd(0.05) == "$0.0500" and usd(1234.5) == "$1,234.50"
