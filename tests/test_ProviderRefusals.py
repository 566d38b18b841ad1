"""ProviderRefusals: what one provider refused in a request body, remembered for the run."""
from __future__ import annotations

from llmc.transport.ProviderRefusals import ProviderRefusals


def test_a_refused_token_field_is_remembered_per_model() -> None:
    refusals = ProviderRefusals()
    assert not refusals.token_field_swapped("m1")
    refusals.swap_token_field("m1")
    assert refusals.token_field_swapped("m1") and not refusals.token_field_swapped("m2")


def test_a_refused_stream_options_holds_for_the_whole_provider() -> None:
    refusals = ProviderRefusals()
    assert not refusals.stream_options
    refusals.refuse_stream_options()
    assert refusals.stream_options and not ProviderRefusals().stream_options
