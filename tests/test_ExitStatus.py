"""ExitStatus: one name per status (tests/test_docs.py holds the docs' table to it)."""
from __future__ import annotations

from llmc.base.Errors import ApiError, ConfigError, InvalidModelError, LlmcError
from llmc.base.ExitStatus import ExitStatus


def test_errors_carry_their_status() -> None:
    assert LlmcError.exit_code is ExitStatus.FAILED and ApiError.exit_code is ExitStatus.FAILED
    assert ConfigError.exit_code is ExitStatus.BAD_INPUT and InvalidModelError.exit_code is ExitStatus.BAD_INPUT
    assert ExitStatus.INTERRUPTED == 130 and ExitStatus.BROKEN_PIPE == 141 and ExitStatus.OUTPUT_ERROR == 74
