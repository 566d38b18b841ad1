"""One-shot mode (`-p`): send one prompt, stream the answer to stdout, exit with a status."""
from __future__ import annotations

import io
import sys
from typing import Any, Callable, Optional, Sequence

from ..base.Errors import ConfigError
from ..base.ExitStatus import ExitStatus
from ..base.Terminal import Terminal, is_terminal
from ..base.Text import size_text
from ..chat.Clipboard import code_blocks
from ..chat.Conversation import Conversation
from ..chat.ToolApproval import ToolApproval
from ..chat.ToolLoop import ToolLoop
from ..render.ReplyStreaming import make_reply_writer, usage_text
from ..setup.RunContext import RunContext
from ..store.Attachment import Attachment, message_content
from ..store.ChatSession import ChatSession
from ..store.ChatStore import ChatStore
from ..tools.ToolBox import ToolBox
from ..render.JsonEventWriter import JsonEventWriter

MAX_STDIN_BYTES = 16 * 1024 * 1024  # a prompt; far more than any model's context
STDIN_PIECE_BYTES = 64 * 1024
STDIN_NOTICE = "reading the prompt from standard input (end with Ctrl-D)"


class PromptRunner:
    """Runs `llmc -p`: resolves the model, sends the prompt, writes the answer."""

    def __init__(self, context: RunContext, toolbox: Optional[ToolBox] = None, approve_tools: bool = False,
                 json_events: Optional[JsonEventWriter] = None) -> None:
        """`context`: the run's terminal, settings and providers; `toolbox`: the MCP servers of this run,
        whose tools switched on are offered to the model; `approve_tools`: every tool call runs unasked
        (--approve-tools); `json_events`: --json's writer of the run's events."""
        self.context = context
        self.terminal = context.terminal
        self.toolbox = toolbox
        self.approve_tools = approve_tools
        self.json_events = json_events  # --json: the answer and the run's events as JSON Lines

    def run(self, prompt: str, echo: bool = False, session: Optional[ChatSession] = None,
            store: Optional[ChatStore] = None, show_usage: bool = False,
            attachments: Sequence[Attachment] = (), extract: Optional[str] = None) -> int:
        """Send `prompt` after `session` (a loaded chat, if any), or print it in echo mode; the exit status.

        With a `store` the exchange is saved after the reply (one cut off, or whose reader went away, too,
        marked incomplete);
        `show_usage`: the token counts (and cost) on stderr after the answer; `attachments` go with the prompt;
        `extract` "all" or "last": print only the code of the reply's code blocks (all, or the last one)."""
        if not prompt.strip():
            raise ConfigError("empty prompt: nothing to send")
        if echo:
            if self.json_events is None:
                self.terminal.print(prompt)
                return ExitStatus.OK
            self.json_events.on_content(prompt)
            self.json_events.done(ExitStatus.OK)
            return ExitStatus.OK
        settings = self.context.settings
        model = settings.providers.chat_model(settings.model, self.context.model_source)
        if session is None:
            session = ChatSession(settings.system_prompt, self.context.data_directory)
        conversation = Conversation(session, settings.providers, self.terminal, store, autosave=store is not None,
                                    tools=self._tool_loop())
        events = self.json_events
        if events is not None:
            events.model = model.label
        shown = self.terminal if extract is None else Terminal(io.StringIO(), self.terminal.stderr, {})
        writer = events if events is not None else make_reply_writer(shown)
        try:
            reply = conversation.send(message_content(prompt, list(attachments)), model, settings.chat_options(),
                                      writer)
        finally:
            if events is not None:
                events.chat_id = session.chat_id  # a reply cut off is saved too
        if show_usage:
            self.terminal.message(usage_text(reply.usage, model))
        if events is not None:
            events.usage(reply.usage, model.config.price_of(model.long_id))
            events.done(conversation.save_status, reply.finish_reason)
        if extract is not None and not self._print_code(reply.text, extract == "last"):
            return ExitStatus.FAILED
        return conversation.save_status  # the answer is out, but a chat that was not kept says so

    def _print_code(self, text: str, last_only: bool) -> bool:
        """-x: the code of the reply's code blocks on stdout, one after another; False when it has none."""
        blocks = code_blocks(text)
        if not blocks:
            self.terminal.message("The reply has no code block (llmc without -x shows all of it).")
            return False
        for _, code in blocks[-1:] if last_only else blocks:
            self.terminal.write(code + "\n")
        return True


    def _tool_loop(self) -> Optional[ToolLoop]:
        """The tool calls of -p: shown on stderr (stdout is the answer alone), asked about only where
        stdin and stderr are a terminal."""
        if self.toolbox is None:
            return None
        settings = self.context.settings
        asks = is_terminal(sys.stdin) and self.terminal.stderr_is_terminal
        approval = ToolApproval(settings.allowed_tools, self.approve_tools, notice=self.terminal.message,
                                ask=self.terminal.ask if asks else None)
        return ToolLoop(self.toolbox, approval, settings.max_tool_steps, self.terminal.message, self.terminal.message,
                        events=self.json_events)


def read_prompt(argument: Optional[str], stdin: Any, notify: Optional[Callable[[str], None]] = None) -> Optional[str]:
    """The prompt text: the -p argument, stdin for `-p -` or when stdin is piped, else None.

    A prompt and a piped stdin together make one message: the prompt, a blank line, the piped text.
    `notify` is told how to end the input when it is typed at a terminal."""
    if argument == "-" or (argument is None and not is_terminal(stdin)):
        return read_standard_input(stdin, notify)
    if argument is not None and not is_terminal(stdin):
        piped = read_standard_input(stdin, notify)
        return f"{argument}\n\n{piped}" if piped.strip() else argument
    return argument


def read_standard_input(stdin: Any, notify: Optional[Callable[[str], None]] = None) -> str:
    """All of standard input as text, read piece by piece so Ctrl-C ends it at once; ConfigError past
    MAX_STDIN_BYTES (naming the limit) or for text that does not decode."""
    if stdin is None:  # started with `<&-`
        return ""
    if notify is not None and is_terminal(stdin):
        notify(STDIN_NOTICE)
    binary = getattr(stdin, "buffer", None)
    try:
        if binary is None:  # a text stream with no bytes below it (io.StringIO)
            return _bounded(stdin.read(MAX_STDIN_BYTES + 1))
        data = bytearray()
        while True:
            piece = binary.read1(STDIN_PIECE_BYTES)
            if not piece:
                break
            data += piece
            _bounded(data)
        return data.decode(stdin.encoding or "utf-8", stdin.errors or "strict")
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise ConfigError(f"cannot read the prompt from standard input: {exc}") from None


def _bounded(data: Any) -> Any:
    if len(data) > MAX_STDIN_BYTES:
        raise ConfigError(f"standard input is larger than {size_text(MAX_STDIN_BYTES)}, the most llmc takes "
                          "as a prompt; nothing was sent")
    return data
