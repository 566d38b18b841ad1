"""ExitStatus: one name per status, and the README's table says the same."""
from __future__ import annotations

import re
from pathlib import Path

from llmc.base.Errors import ApiError, ConfigError, InvalidModelError, LlmcError
from llmc.base.ExitStatus import ExitStatus

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_lists_every_status_and_no_other() -> None:
    listed = {int(number) for number in re.findall(r"^\| (\d+) \|", README.read_text(), re.MULTILINE)}
    assert listed == {int(status) for status in ExitStatus}


def test_errors_carry_their_status() -> None:
    assert LlmcError.exit_code is ExitStatus.FAILED and ApiError.exit_code is ExitStatus.FAILED
    assert ConfigError.exit_code is ExitStatus.BAD_INPUT and InvalidModelError.exit_code is ExitStatus.BAD_INPUT
    assert ExitStatus.INTERRUPTED == 130 and ExitStatus.BROKEN_PIPE == 141 and ExitStatus.OUTPUT_ERROR == 74
