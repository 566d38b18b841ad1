"""One conversation's turns: send a prompt, stream the reply to a writer, record the reply and save the chat.

The chat and `-p` both send through it and keep only their presentation. A turn is one request round
(`request_round`, from the messages as they are) and its recording (`record_reply`): regenerating,
editing and resending, and tool loops are more rounds over the same seams.
"""
from __future__ import annotations

from typing import Any, Optional

from ..base.ChatEvents import Reply
from ..base.ChatOptions import ChatOptions
from ..base.Errors import ApiError, IncompleteReplyError, LlmcError
from ..base.ExitStatus import ExitStatus
from ..base.Terminal import Terminal
from ..ProviderManager import ProviderManager, ResolvedModel
from ..render.ReplyStreaming import stream_reply
from ..store.Attachment import Content, has_image, image_refusal
from ..store.ChatSession import ChatSession
from ..store.ChatStore import ChatStore


class Conversation:
    """A chat's messages and where they go: the providers to ask and the store that keeps them."""

    def __init__(self, session: ChatSession, providers: ProviderManager, terminal: Terminal,
                 store: Optional[ChatStore] = None, autosave: bool = True, echo: bool = False) -> None:
        """`store`: where the chat is saved after each exchange while `autosave` is on (None: never);
        `echo`: answer each prompt with itself, asking no model."""
        self.session = session
        self.providers = providers
        self.terminal = terminal
        self.store = store
        self.autosave = autosave
        self.echo = echo
        self.turn_dropped = False  # the last send's user message was taken back (nothing came of it)
        self.save_status: int = ExitStatus.OK  # of the last save: OK, or its error's (74 for a full disk)

    def send(self, content: Content, model: Optional[ResolvedModel], options: ChatOptions, writer: Any) -> Reply:
        """Add a user message, show the reply in `writer`, record it and save the chat; the reply.

        A reply cut off (IncompleteReplyError, Ctrl-C) is kept as far as it came, marked, and saved; when
        nothing came, or the request failed, the turn is dropped (`turn_dropped`). The error is re-raised."""
        self.turn_dropped = False
        self.session.add_user(content)
        try:
            reply = self.request_round(model, options, writer)
        except (IncompleteReplyError, KeyboardInterrupt, OSError) as exc:  # OSError: the screen's reader went away
            self.keep_partial(writer.text or getattr(exc, "partial", ""), model)
            raise
        except ApiError as exc:
            self.drop_turn()
            if model is not None and has_image(content):
                raise image_refusal(exc, model.label) from None
            raise
        except BaseException:
            self.drop_turn()
            raise
        self.record_reply(reply)
        return reply

    def request_round(self, model: Optional[ResolvedModel], options: ChatOptions, writer: Any) -> Reply:
        """Send the messages as they are now to `model` and show the answer in `writer`; the reply, not
        recorded. In echo mode (or with no model) the last message comes back as the answer."""
        if self.echo or model is None:
            writer.on_content(self.session.message_text(-1))
            writer.finish()
            return Reply(writer.text)
        api = self.providers.chat_api(model)
        reply = stream_reply(api, self.session.api_messages(), writer, self.terminal, options)
        reply.model = model.label
        return reply

    def record_reply(self, reply: Reply) -> None:
        """Append the reply, its usage and its model to the chat, and save it."""
        self.session.add_assistant(reply.text, usage=reply.usage, model=reply.model)
        self.save()

    def keep_partial(self, partial: str, model: Optional[ResolvedModel]) -> None:
        """After a cut-off reply: keep (and save) what arrived, marked; nothing arrived drops the turn."""
        if partial.strip():
            self.session.add_assistant(partial, incomplete=True, model=model.label if model else None)
            self.save()
        else:
            self.drop_turn()

    def drop_turn(self) -> None:
        """Take back the last user message and what followed it."""
        self.session.remove_last_user()
        self.turn_dropped = True

    def save(self) -> None:
        """Save the chat as it is now, when autosave is on; a failure is a warning (and `save_status`), the
        chat goes on."""
        self.save_status = ExitStatus.OK
        if not self.autosave or self.store is None or not self.session.has_user_messages():
            return
        previous = self.session.chat_id
        try:
            self.session.chat_id = self.store.save(self.session.messages, previous)
        except LlmcError as exc:
            self.terminal.message(f"Warning: {exc}")
            self.save_status = exc.exit_code
            return
        if previous is not None and self.session.chat_id != previous:
            self.terminal.message(f"The saved chat {previous} was changed by another llmc; this chat "
                                  f"goes on as {self.session.chat_id}, both are kept.")
