"""The exit statuses of llmc, one name each (the README's table)."""
from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What the process tells a script when it ends."""

    OK = 0
    FAILED = 1          # a request or discovery failed; an unknown provider
    BAD_INPUT = 2       # a config/YAML/session file, a flag, an unknown model, a missing key
    INTERNAL_ERROR = 70  # a bug (EX_SOFTWARE)
    OUTPUT_ERROR = 74   # the output could not be written: full disk, closed stdout (EX_IOERR)
    INTERRUPTED = 130   # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141   # the reader of stdout went away (128 + SIGPIPE)
