"""Recalling the chat's own messages into the input line (Shift-Up/Down, Ctrl-Shift-Up/Down)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..store.Attachment import prompt_of
from ..store.ChatSession import ChatSession

if TYPE_CHECKING:
    from prompt_toolkit.buffer import Buffer


class MessageRecall:
    """Where a walk through the chat's messages stands, and which user message a send would restart
    the chat at (sending an edited recalled message truncates the chat there)."""

    def __init__(self) -> None:
        self._role: Optional[str] = None
        self._position: Optional[int] = None
        self._working_index: Optional[int] = None  # input-history position when the message was recalled
        self.recalled_user_index: Optional[int] = None

    def walk(self, buffer: Buffer, session: ChatSession, role: str, step: int) -> None:
        """Put the previous (-1) or next (+1) message of `role` into `buffer`; past the newest, an empty line."""
        indices = session.indices_of(role)
        if not indices:
            return
        position = len(indices) if self._role != role or self._position is None else self._position
        position = min(max(position + step, 0), len(indices))
        self._role, self._position = role, position
        if position == len(indices):
            self.recalled_user_index = None
            buffer.text = ""
        else:
            self.recalled_user_index = indices[position] if role == "user" else None
            self._working_index = buffer.working_index
            message = session.messages[indices[position]]  # a prompt as typed: its files go again when sent
            buffer.text = prompt_of(message["content"]) if role == "user" else session.message_text(indices[position])
        buffer.cursor_position = len(buffer.text)

    def forget_when_emptied(self, buffer: Buffer) -> None:
        """On each edit: clearing a recalled message and typing anew, or taking a line from the input
        history instead, must not truncate the chat."""
        if not buffer.text or buffer.working_index != self._working_index:
            self.recalled_user_index = None

    def reset(self) -> None:
        """Forget the walk and the recalled message (after a send, a command, Ctrl-C or a reset)."""
        self._role = self._position = self.recalled_user_index = None
