"""One conversation's turns: send a prompt, stream the reply to a writer, record the reply and save the chat.

The chat and `-p` both send through it and keep only their presentation. A turn is one request round
(`request_round`, from the messages as they are) and its recording (`record_reply`): asking again
(`regenerate`), an edited prompt (`send` replacing a turn) and tool loops are more rounds over the same
seams.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Set, Tuple

from ..base.ChatEvents import Reply
from ..base.ChatOptions import ChatOptions
from ..base.Errors import ApiError, IncompleteReplyError, LlmcError
from ..base.ExitStatus import ExitStatus
from ..base.Terminal import Terminal
from ..base.TokenUsage import TokenUsage
from ..ProviderManager import ProviderManager, ResolvedModel
from ..render.ReplyStreaming import ReplyWriter, make_reply_writer, stream_reply
from ..store.Attachment import Content, has_image, image_refusal
from ..store.Alternatives import keep_replaced, put_back, set_aside
from ..store.ChatSession import ChatSession
from ..store.ChatStore import ChatStore
from ..tools.ToolBox import ToolSpec
from .ToolLoop import ToolLoop, total_usage


class Conversation:
    """A chat's messages and where they go: the providers to ask and the store that keeps them."""

    def __init__(self, session: ChatSession, providers: ProviderManager, terminal: Terminal,
                 store: Optional[ChatStore] = None, autosave: bool = True, echo: bool = False,
                 tools: Optional[ToolLoop] = None) -> None:
        """`store`: where the chat is saved after each exchange while `autosave` is on (None: never);
        `echo`: answer each prompt with itself, asking no model; `tools`: the loop that offers the tools
        switched on in its ToolBox and runs the calls the model asks for."""
        self.session = session
        self.providers = providers
        self.terminal = terminal
        self.store = store
        self.autosave = autosave
        self.echo = echo
        self.tools = tools
        self.turn_dropped = False  # the last send's user message was taken back (nothing came of it)
        self.save_status: int = ExitStatus.OK  # of the last save: OK, or its error's (74 for a full disk)
        self._writer: Optional[ReplyWriter] = None  # showing the round being received
        self._told_no_tools: Set[str] = set()  # models said to take no tools, once each
        self._replaced: Optional[Tuple[int, List[dict]]] = None  # (index, the messages set aside from it)

    def send(self, content: Content, model: Optional[ResolvedModel], options: ChatOptions, writer: ReplyWriter,
             replacing: Optional[int] = None) -> Reply:
        """Add a user message, show the reply in `writer`, record it and save the chat; the reply (with
        the usage of every round when tools were called).

        A reply cut off (IncompleteReplyError, Ctrl-C) is kept as far as it came, marked, and saved; when
        nothing came, or the request failed, the turn is dropped (`turn_dropped`), but tool calls made and
        answered are kept. The error is re-raised. What the model is known not to take (an image) is not
        sent (LlmcError naming the model); a refusal naming the tools or the image sent is remembered.
        `replacing`: the index of the user message this one replaces (an edit): that turn and what followed
        are kept as its alternative (see Alternatives), and are the chat again when the turn is dropped."""
        specs = self._begin_turn(content, model)
        if replacing is not None:
            self._set_aside(replacing)
        self.session.add_user(content)
        return self._answer(model, options, writer, specs, has_image(content))

    def regenerate(self, model: Optional[ResolvedModel], options: ChatOptions, writer: ReplyWriter) -> Reply:
        """Ask again for the last prompt, as `send` does: the replies (and tool calls) that followed it are
        kept as the new reply's alternative, and stay the chat when nothing comes. LlmcError when there is
        no prompt yet."""
        index = self.prompt_to_ask_again()
        content = self.session.messages[index]["content"]
        specs = self._begin_turn(content, model)
        self._set_aside(index + 1)
        return self._answer(model, options, writer, specs, has_image(content))

    def prompt_to_ask_again(self) -> int:
        """The index of the last user message, which /regenerate asks again; LlmcError when there is none."""
        index = self.session.last_user_index()
        if index is None:
            raise LlmcError("no prompt to ask again yet: send one first")
        return index

    def _answer(self, model: Optional[ResolvedModel], options: ChatOptions, writer: ReplyWriter, specs: List[ToolSpec],
                image: bool) -> Reply:
        """The reply to the chat as it is now (its last message the prompt), recorded and saved."""
        self._writer = writer
        try:
            self._warn_of_context(model, specs)
            if specs and model is not None:
                reply, usage = self._tool_turn(model, options, specs, writer)
            else:
                reply, usage = self.request_round(model, options, writer), None
        except (IncompleteReplyError, KeyboardInterrupt, OSError) as exc:  # OSError: the screen's reader went away
            self.keep_partial((self._writer or writer).text or getattr(exc, "partial", ""), model)
            raise
        except ApiError as exc:
            self._end_failed_turn()
            raise self._refusal(exc, model, bool(specs), image) from None
        except BaseException:
            self._end_failed_turn()
            raise
        self.record_reply(reply)
        return reply if usage is None else dataclasses.replace(reply, usage=usage)

    def _set_aside(self, index: int) -> None:
        """Take the chat from `index` on out while a turn replaces it (kept or put back by _settle)."""
        self._replaced = (index, set_aside(self.session.messages, index))

    def _settle(self) -> None:
        """After a turn that replaced part of the chat: keep that part as the alternative of what stands in
        its place now, or put it back when nothing does."""
        if self._replaced is None:
            return
        (index, tail), self._replaced = self._replaced, None
        if len(self.session.messages) > index:
            keep_replaced(self.session.messages, index, tail)
        else:
            put_back(self.session.messages, index, tail)

    def _begin_turn(self, content: Content, model: Optional[ResolvedModel]) -> List[ToolSpec]:
        """A turn asking for `content` begins: LlmcError for what the model is known not to take; the tools
        to offer."""
        self.turn_dropped = False
        self._check_before_sending(content, model)
        return self._offered_tools(model)

    def _check_before_sending(self, content: Content, model: Optional[ResolvedModel]) -> None:
        """LlmcError for an image going to a model known to take none."""
        if model is not None and not self.echo and has_image(content):
            refusal = self.providers.refusal_before_sending(model.provider, model.long_id, tools=False, image=True)
            if refusal:
                raise LlmcError(refusal)

    def _offered_tools(self, model: Optional[ResolvedModel]) -> List[ToolSpec]:
        """The tools to offer this turn: those switched on, unless the model is known to take none."""
        if self.tools is None or model is None or self.echo:
            return []
        specs = self.tools.toolbox.specs()
        refusal = self.providers.refusal_before_sending(model.provider, model.long_id, tools=True, image=False)
        if specs and refusal:
            if model.label not in self._told_no_tools:
                self._told_no_tools.add(model.label)
                self.terminal.message(refusal)
            return []
        return specs

    def _warn_of_context(self, model: Optional[ResolvedModel], specs: List[ToolSpec]) -> None:
        if model is not None and not self.echo:
            warning = self.providers.context_warning(model.provider, model.long_id, self.session.api_messages(),
                                                     [spec.as_openai() for spec in specs])
            if warning:
                self.terminal.message(warning)

    def _tool_turn(self, model: ResolvedModel, options: ChatOptions, specs: List[ToolSpec],
                   writer: ReplyWriter) -> Tuple[Reply, Optional[TokenUsage]]:
        """Rounds of tool calls until the model answers (the first shown in `writer`): (its answer, the usage
        of every round)."""
        assert self.tools is not None
        first = [writer]
        next_writer = getattr(writer, "next_round", None)  # --json's writer goes on in JSON

        def send_round(tools: Tuple[Dict[str, Any], ...]) -> Reply:
            round_writer: ReplyWriter = (first.pop() if first else next_writer() if next_writer
                                         else make_reply_writer(self.terminal))
            self._writer = round_writer
            return self.request_round(model, dataclasses.replace(options, tools=tools), round_writer)

        reply = self.tools.run(self.session, send_round, specs)
        if reply is None:
            self.save()
            raise LlmcError(f"Stopped after {self.tools.max_steps} rounds of tool calls without an answer "
                            "(max_tool_steps in config.toml); the calls and their results are kept in the chat")
        return reply, total_usage(self.tools.rounds)

    def _refusal(self, error: ApiError, model: Optional[ResolvedModel], tools: bool, image: bool) -> ApiError:
        """The error to tell: what a refusal of the tools or the image taught (said in one line and
        remembered), else the provider's own, an image's refusal named as such."""
        if model is None:
            return error
        lesson = self.providers.learn_from_refusal(model.provider, model.long_id, error, tools, image)
        if lesson:
            return ApiError(lesson, status=error.status)
        return image_refusal(error, model.label) if image else error

    def request_round(self, model: Optional[ResolvedModel], options: ChatOptions, writer: ReplyWriter) -> Reply:
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
            self._end_failed_turn()

    def _end_failed_turn(self) -> None:
        """Drop the turn when nothing came of it (what it replaced is the chat again); keep (and save) the
        tool calls it made and answered."""
        messages = self.session.messages
        if messages[-1]["role"] != "user":
            self.save()
            return
        if self._replaced is None or self._replaced[0] < len(messages):  # not asking again for this prompt
            self.drop_turn()
        self._settle()

    def drop_turn(self) -> None:
        """Take back the last user message and what followed it."""
        self.session.remove_last_user()
        self.turn_dropped = True

    def fork(self, title: Optional[str] = None) -> Tuple[Optional[str], str]:
        """Save the chat as it is (its alternatives too) as a new saved chat, titled `title` if given, and go on
        in that one, the one it was saved as before left as it is: (the earlier id, None if it was not saved
        yet; the new id). LlmcError when there is nothing to save, or nowhere (echo mode)."""
        if self.store is None or self.echo:
            raise LlmcError("this chat is not kept (it asks no model), so there is nothing to fork")
        if not self.session.has_user_messages():
            raise LlmcError("nothing to fork yet: send a prompt first")
        previous = self.session.chat_id
        self.session.chat_id = self.store.save(self.session.messages, title=title)
        return previous, self.session.chat_id

    def save(self) -> None:
        """Save the chat as it is now, when autosave is on; a failure is a warning (and `save_status`), the
        chat goes on."""
        self.save_status = ExitStatus.OK
        self._settle()
        if not self.autosave or self.store is None or not self.session.has_user_messages():
            return
        previous = self.session.chat_id
        try:
            self.session.chat_id = self.store.save(self.session.messages, previous, self.session.title)
        except LlmcError as exc:
            self.terminal.message(f"Warning: {exc}")
            self.save_status = exc.exit_code
            return
        self.session.title = None  # the store keeps it from now on
        if previous is not None and self.session.chat_id != previous:
            self.terminal.message(f"The saved chat {previous} was changed by another llmc; this chat "
                                  f"goes on as {self.session.chat_id}, both are kept.")
