"""HttpSettings: the defaults every provider request starts from."""
import dataclasses

import pytest

from llmc.transport.HttpSettings import HttpSettings


def test_defaults_are_bounded_and_the_settings_frozen():
    settings = HttpSettings()
    assert (settings.connect_timeout, settings.read_timeout, settings.max_retries) == (10.0, 60.0, 3)
    assert settings.max_retry_wait <= settings.give_up_after
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.read_timeout = 1  # type: ignore[misc]
    assert dataclasses.replace(settings, pool_size=32).pool_size == 32
