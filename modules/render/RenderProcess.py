"""`-p`'s reply drawn by a second process: rich's Markdown layout runs on another core while this one reads the
stream, and rich is imported there while this process loads the settings.

The parent hands each writer call to the child as a frame on a pipe; `finish` and `abort` wait until the child
has drawn everything, so whatever the parent prints next (usage, errors, tool calls) comes after the reply.
"""
from __future__ import annotations

import gc
import os
import select
import signal
import struct
import sys
from typing import TYPE_CHECKING, Iterator, List, Optional, Tuple

if TYPE_CHECKING:
    from ..base.Terminal import Terminal

__all__ = ["RenderProcess", "RemoteReplyWriter"]

_FRAME = struct.Struct(">ccI")  # what to do, whether more of its text follows, the length of the UTF-8 text
_MORE, _LAST = b"+", b"."
# A frame fits the pipe's atomic write (PIPE_BUF): Ctrl-C leaves it written whole or not at all, never half.
_TEXT_CHARS = (select.PIPE_BUF - _FRAME.size) // 4
_READ_BYTES = 1 << 16
# parent -> child
_BEGIN, _WAITING, _WARNING, _CONTENT, _REASONING, _FINISH, _ABORT = (b"b", b"w", b"n", b"c", b"r", b"f", b"a")
# child -> parent
_DONE, _OS_ERROR, _FAILED = b"D", b"O", b"X"
_IDLE = b"i"  # (not sent) the parent has sent nothing more for now
# a warm-up reply: the layout code rich and pygments load on first use is loaded before the real reply comes
_WARM_UP = "# a\n\nb **c** `d` *e*\n\n- f\n  - g\n\n> h\n\n| i | j |\n|---|---|\n| k | l |\n\n```python\nm = 1\n```\n"


class RenderProcess:
    """The child process that draws this run's replies as live Markdown on the terminal, one writer at a time."""

    def __init__(self, pid: int, requests: int, replies: int) -> None:
        self.pid = pid
        self._requests = requests  # pipe to the child
        self._replies = replies  # pipe from the child
        self._received = _FrameReader()
        self._replies_read: List[Tuple[bytes, str]] = []  # the child's messages not yet taken
        self.failure: Optional[BaseException] = None
        self._used = False
        self._closed = False

    @classmethod
    def start(cls, terminal: Terminal) -> Optional[RenderProcess]:
        """A child drawing on `terminal`'s stdout; None where none can be started (no fork, threads already
        running, no colour terminal): the reply is then drawn in this process."""
        threading = sys.modules.get("threading")
        if not hasattr(os, "fork") or not terminal.color or (threading is not None and threading.active_count() > 1):
            return None  # forking with threads running may copy a lock some thread holds
        for stream in (terminal.stdout, terminal.stderr):
            stream.flush()  # else the child would write out a copy of what is buffered
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (requests_read, requests_write, replies_read, replies_write):
                os.close(fd)
            return None
        if pid == 0:  # the child: never returns into the caller's code
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it sends the abort
                os.close(requests_write)
                os.close(replies_read)
                status = _serve(terminal, requests_read, replies_write)
            finally:
                os._exit(status)
        os.close(requests_read)
        os.close(replies_write)
        return cls(pid, requests_write, replies_read)

    @property
    def usable(self) -> bool:
        """True while the child can draw another reply."""
        return not self._closed and self.failure is None

    def writer(self) -> RemoteReplyWriter:
        """A writer for the next reply, drawn by the child."""
        self._used = True
        writer = RemoteReplyWriter(self)
        self.send(_BEGIN)
        return writer

    def send(self, kind: bytes, text: str = "") -> None:
        """One writer call for the child; the child's failure (OSError, RuntimeError) once it is gone."""
        if self.failure is not None:
            raise self.failure
        for frame in _encoded(kind, text):
            try:
                os.write(self._requests, frame)
            except BrokenPipeError:
                raise self._fail() from None

    def wait_until_drawn(self) -> None:
        """Return once the child has drawn the reply to its end (after a finish or an abort)."""
        said = self._next_reply()
        if said is None or said[0] != _DONE:
            raise self._fail(said)

    def close(self) -> None:
        """End the child: it draws what it holds and exits (killed at once if it never drew a reply)."""
        if self._closed:
            return
        self._closed = True
        os.close(self._requests)
        if not self._used:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()
        os.close(self._replies)

    def _reap(self) -> int:
        """Wait for the child to end; its wait status (0 if it was reaped before)."""
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0

    def _next_reply(self) -> Optional[Tuple[bytes, str]]:
        """The child's next message; None once it has closed its end."""
        while not self._replies_read:
            piece = os.read(self._replies, _READ_BYTES)
            if not piece:
                return None
            self._replies_read.extend(self._received.feed(piece))
        return self._replies_read.pop(0)

    def _fail(self, said: Optional[Tuple[bytes, str]] = None) -> BaseException:
        """The child stopped: why, as the exception drawing in this process would have raised."""
        if said is None:  # the pipe broke or closed: the child may have said why before it went
            said = self._next_reply()
        kind, text = said if said is not None else (b"", "")
        if kind == _OS_ERROR:
            number = int(text) if text.isdigit() else 5
            failure: BaseException = OSError(number, os.strerror(number))
        elif kind == _FAILED:
            failure = RuntimeError(f"the reply's renderer failed: {text}")
        else:
            status = self._reap()
            how = (f"was stopped by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"ended with status {os.waitstatus_to_exitcode(status)}")
            failure = RuntimeError(f"the process drawing the reply {how}")
        self.failure = failure
        return failure


class RemoteReplyWriter:
    """A ReplyWriter whose reply is drawn by the RenderProcess; it keeps the answer text itself."""

    def __init__(self, process: RenderProcess) -> None:
        self._process = process
        self._answer: List[str] = []
        self._closed = False

    @property
    def text(self) -> str:
        """The full answer text received so far."""
        return "".join(self._answer)

    def on_waiting(self, text: str) -> None:
        """Until the first delta, `text` dim in the live region."""
        self._send(_WAITING, text)

    def on_warning(self, text: str) -> None:
        """A notice on its own line, after the text that came before it."""
        self._send(_WARNING, text)

    def on_content(self, text: str) -> None:
        """An answer delta."""
        if text and not self._closed:
            self._answer.append(text)
            self._send(_CONTENT, text)

    def on_reasoning(self, text: str) -> None:
        """A reasoning delta."""
        self._send(_REASONING, text)

    def finish(self) -> None:
        """The stream ended: returns once all of it is on the screen."""
        self._close(_FINISH, "")

    def abort(self, note: Optional[str] = None) -> None:
        """The stream was cut: what came is drawn as is, then `note`; returns once it is on the screen."""
        self._close(_ABORT, note or "")

    def _send(self, kind: bytes, text: str) -> None:
        if not self._closed:
            self._process.send(kind, text)

    def _close(self, kind: bytes, note: str) -> None:
        if self._closed:
            return
        self._closed = True
        if self._process.failure is None:  # the failure was raised already: this is the cleanup after it
            self._process.send(kind, note)
            self._process.wait_until_drawn()


def _serve(terminal: Terminal, requests: int, replies: int) -> int:
    """The child's loop: draw each reply the parent streams over `requests`; tell `replies` when each is drawn."""
    from .MarkdownStreamRenderer import MarkdownStreamRenderer  # noqa: PLC0415 - rich: in the drawing process only
    console = terminal.console()
    MarkdownStreamRenderer.warm_up(console, _WARM_UP)
    gc.freeze()  # what the imports made lives to the end: the collector need not look at it
    gc.enable()
    renderer: Optional[MarkdownStreamRenderer] = None
    try:
        for kind, text in _frames(requests):
            if kind == _IDLE:
                if renderer is not None:
                    renderer.catch_up()
            elif kind == _BEGIN:
                renderer = MarkdownStreamRenderer(console)
            elif renderer is None:
                continue
            elif kind == _CONTENT:
                renderer.on_content(text)
            elif kind == _REASONING:
                renderer.on_reasoning(text)
            elif kind == _WARNING:
                renderer.on_warning(text)
            elif kind == _WAITING:
                renderer.on_waiting(text)
            else:
                renderer.finish() if kind == _FINISH else renderer.abort(text or None)
                renderer = None
                os.write(replies, _encoded(_DONE, "")[0])
        if renderer is not None:  # the parent went away in the middle of a reply
            renderer.abort()
    except OSError as exc:
        _tell(replies, _OS_ERROR, str(exc.errno or 5))
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug here is told by the parent, as drawing in it would be
        _tell(replies, _FAILED, f"{type(exc).__name__}: {exc}")
        return 1
    return 0


def _tell(replies: int, kind: bytes, text: str) -> None:
    try:
        for frame in _encoded(kind, text):
            os.write(replies, frame)
    except OSError:
        pass  # the parent is gone


def _frames(requests: int) -> Iterator[Tuple[bytes, str]]:
    """The parent's messages as they come, and _IDLE whenever nothing more has come, until it closes the pipe."""
    reader = _FrameReader()
    while True:
        piece = os.read(requests, _READ_BYTES)
        if not piece:
            return
        yield from reader.feed(piece)
        if not select.select([requests], [], [], 0)[0]:
            yield _IDLE, ""


def _encoded(kind: bytes, text: str) -> List[bytes]:
    """The frames of one message: reply text as pieces that stand alone, any other text as a chain of frames
    of which only the last is marked _LAST (a chain cut by Ctrl-C is dropped by the reader)."""
    payloads = [text[start:start + _TEXT_CHARS].encode("utf-8", "surrogatepass")
                for start in range(0, len(text), _TEXT_CHARS)] or [b""]
    alone = kind in (_CONTENT, _REASONING)
    return [_FRAME.pack(kind, _LAST if alone or index == len(payloads) - 1 else _MORE, len(payload)) + payload
            for index, payload in enumerate(payloads)]


class _FrameReader:
    """Bytes from a pipe in, whole messages (kind, text) out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._chain: List[str] = []  # the texts of a message's frames so far
        self._chain_kind = b""

    def feed(self, data: bytes) -> List[Tuple[bytes, str]]:
        self._buffer += data
        messages, start = [], 0
        while len(self._buffer) - start >= _FRAME.size:
            kind, more, size = _FRAME.unpack_from(self._buffer, start)
            end = start + _FRAME.size + size
            if end > len(self._buffer):
                break
            text = bytes(self._buffer[start + _FRAME.size:end]).decode("utf-8", "surrogatepass")
            start = end
            if kind != self._chain_kind:
                self._chain = []  # the rest of a message cut off by Ctrl-C never came
            if more == _MORE:
                self._chain.append(text)
                self._chain_kind = kind
                continue
            messages.append((kind, "".join(self._chain) + text))
            self._chain, self._chain_kind = [], b""
        del self._buffer[:start]
        return messages
