"""DiscoverySummary: the per-provider lines a discovery run prints."""
from llmc.DiscoverySummary import DiscoverySummary


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
