"""Exceptions that end in a one-line message for the user instead of a traceback."""
import errno

from .ExitStatus import ExitStatus
from .Secrets import without_known_keys
from .Text import one_line

DISK_FAILURE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}  # the disk, not the path, failed


def internal_error_text(exc: BaseException) -> str:
    """One line for an exception that is a bug in llmc, said without ending the chat."""
    text = one_line(without_known_keys(str(exc)), 200)
    return (f"internal error ({type(exc).__name__}: {text}); the chat goes on, "
            "the messages so far are kept (please report it)")


class LlmcError(Exception):
    """A failure the user can act on; its text is the whole message."""

    exit_code = ExitStatus.FAILED


class ConfigError(LlmcError):
    """A configuration, data or session file, or a command-line value, that cannot be used."""

    exit_code = ExitStatus.BAD_INPUT


class WriteError(LlmcError):
    """A file that could not be written for want of space or an I/O fault; the old file is unchanged."""

    exit_code = ExitStatus.OUTPUT_ERROR


def file_write_error(message: str, exc: OSError) -> LlmcError:
    """`message` as WriteError (exit 74) when the disk failed, else as ConfigError (exit 2: the path is wrong)."""
    return (WriteError if exc.errno in DISK_FAILURE_ERRNOS else ConfigError)(message)


class InvalidModelError(LlmcError, ValueError):
    """A model string that names no known valid model (a ValueError too, as the plan's contract says)."""

    exit_code = ExitStatus.BAD_INPUT


class ApiError(LlmcError):
    """A provider request that failed: HTTP status, network fault or a malformed reply."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class KeyRefusedError(ApiError):
    """The provider refused the API key (401/403): its models cannot be judged with it."""


class DiscoveryCancelled(Exception):
    """Discovery was interrupted; nothing was changed or persisted."""


INCOMPLETE_MARKER = "[reply incomplete]"  # shown after, and kept with, the partial text of a cut-off reply


class IncompleteReplyError(ApiError):
    """A stream that ended before `[DONE]`; `partial` holds what arrived."""

    def __init__(self, message: str, partial: str = ""):
        super().__init__(message)
        self.partial = partial
