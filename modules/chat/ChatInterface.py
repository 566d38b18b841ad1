"""The interactive chat: a prompt_toolkit line editor, streamed replies and the chat's key bindings."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, List, Optional, Set, Tuple

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.input.ansi_escape_sequences import ANSI_SEQUENCES
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys

from ..base.ChatEvents import ChatSender, Reply
from ..base.ChatOptions import ChatOptions
from ..base.Errors import ConfigError, InvalidModelError, LlmcError, internal_error_text
from ..base.ExitStatus import ExitStatus
from ..base.OutputChannel import OutputChannel
from ..base.SafeFiles import ensure_directory
from ..base.Secrets import without_known_keys
from ..setup.ProviderAdder import ProviderAdder
from ..Types import ConfigModel, SettingValue
from ..ProviderManager import ProviderManager, ResolvedModel
from ..render.ChatPrinter import print_turns
from ..render.ReplyStreaming import ReplyWriter, make_reply_writer, usage_text
from ..store.Alternatives import last_turn_choices
from ..store.Attachment import Attachment, Content, prompt_of, with_attachments, with_prompt
from ..store.ChatSession import TITLE_TOKEN_BUDGET, ChatSession
from ..setup.RunContext import RunContext
from ..store.Roles import Role, load_role
from ..tools.McpConfig import MCP_FILE_NAME, McpServers
from ..tools.ToolBox import ToolBox
from .Clipboard import Clipboard
from .CommandHandler import CommandHandler
from .Conversation import Conversation
from .ExternalEditor import edit_text
from .InputHistory import InputHistory
from .InputKeys import STAR_LINE, input_key_bindings, keys_line
from .MessageRecall import MessageRecall
from .ToolApproval import ToolApproval
from .ToolLoop import ToolLoop

WELCOME = "Welcome to LLM Chat"
# Some prompt_toolkit versions map xterm's Ctrl-Shift-Up/Down sequences to the opposite keys:
# bind whatever key the terminal's actual sequences decode to.
CTRL_SHIFT_UP = ANSI_SEQUENCES.get("\x1b[1;6A", Keys.ControlShiftUp)
CTRL_SHIFT_DOWN = ANSI_SEQUENCES.get("\x1b[1;6B", Keys.ControlShiftDown)


class ChatInterface:
    """Reads prompts and commands, sends the chat to the current model and shows the replies."""

    def __init__(self, context: RunContext, history_file: Optional[str] = None,
                 clear: bool = False, echo: bool = False, pt_input: Any = None,
                 pt_output: Any = None, save: bool = True, resumed: Optional[ChatSession] = None,
                 toolbox: Optional[ToolBox] = None, approve_tools: bool = False,
                 role: Optional[Role] = None, plain_system_prompt: Optional[str] = None) -> None:
        """`context`: the run's terminal, settings, providers and saved chats; `save`: save the chat after
        each exchange and the prompts in the input history (not in echo mode); `resumed`: a saved chat to go
        on with; `pt_input`/`pt_output`: prompt_toolkit input and output (tests pass a pipe and a dummy);
        `toolbox`: the MCP servers of this chat (none configured if not given), whose tools switched on are
        offered to the model; `approve_tools`: every tool call runs unasked (--approve-tools); `role`: the
        role of -r, whose prompt, model and settings the run already took (a resumed chat's own role too);
        `plain_system_prompt`: the system prompt without a role, which /role off goes back to (by default the
        configured one)."""
        self.context = context
        config = self.config = context.config
        terminal = self.terminal = context.terminal
        self.history_file = history_file
        self.clear = clear
        self.echo = echo
        self.data_directory = context.data_directory
        self.resumed = resumed is not None
        self.store = context.chat_store
        self.toolbox = toolbox or ToolBox(McpServers(self.data_directory / MCP_FILE_NAME), (),
                                          OutputChannel.of_terminal(terminal), config.config.tool_timeout)
        approval = ToolApproval(config.config.allowed_tools, approve_tools, notice=terminal.message,
                                ask=self._ask_about_tool if terminal.is_interactive else None)
        tools = ToolLoop(self.toolbox, approval, config.config.max_tool_steps, terminal.print, terminal.print_dim)
        self.conversation = Conversation(resumed or ChatSession(config.config.system_prompt, self.data_directory),
                                         config.config.providers, terminal, self.store,
                                         autosave=save and not echo,  # echo mode asks no model: nothing to keep
                                         echo=echo, tools=tools)
        self.plain_system_prompt = config.config.system_prompt if plain_system_prompt is None else plain_system_prompt
        if role is not None:
            self.session.mark_role(role.name, role.prompt)
        self.clipboard = Clipboard(terminal.stdout)
        self.commands = CommandHandler(self)
        self.default_model = config.config.model
        self.model = config.config.model
        self._resolved: Optional[Tuple[str, ResolvedModel]] = None  # (model string, what it resolved to)
        self.attachments: List[Attachment] = []  # files /attach'ed for the next message
        self.recall = MessageRecall()
        self.input_history = InputHistory(self.data_directory, terminal.message, keep=save)
        self._io = {"input": pt_input, "output": pt_output}
        self.prompt_session: Optional[PromptSession] = None
        self.next_input = ""  # text the next prompt starts with (/edit-prompt, /edit)
        self.editing: Optional[Tuple[int, Content]] = None  # the user message /edit put back: index, content
        self._said_no_usage: Set[str] = set()  # providers whose missing usage was told

    # Start and main loop
    def run(self) -> int:
        """Chat until /exit or Ctrl-D; return the exit status."""
        self.providers.resolve(self.model, self.config.model_source)
        ensure_directory(self.data_directory)
        self.prompt_session = session = self._make_prompt_session()
        try:
            self._start()
            self._loop(session)
        finally:
            self.input_history.trim()
        return ExitStatus.OK

    def _start(self) -> None:
        if self.clear:
            self.clear_screen()
            self.terminal.print(WELCOME)
        if self.history_file:
            self._load_start_file(self.history_file)
        if self.resumed:
            self.terminal.print(f"Continuing the saved chat {self.session.chat_id}.")
            self.show_chat()
        if not self.echo:
            try:
                self.providers.chat_model(self.model)
            except (ConfigError, InvalidModelError) as exc:
                self.terminal.print(f"ERROR: {exc}")
        self.terminal.print_dim(keys_line(self.settings.enter_sends))
        self.terminal.print_dim(STAR_LINE)

    def _load_start_file(self, name: str) -> None:
        path = self.session.resolve_start_file(name)
        if not path.exists():
            self.terminal.message(f"Warning: chat file {path} not found; starting an empty chat.")
            return
        try:
            self.session.load(str(path))
        except ConfigError as exc:
            self.terminal.message(f"Warning: {exc}; starting an empty chat.")
            return
        self.terminal.print(f"Chat history loaded from {path}.")
        self.show_chat()

    def _loop(self, session: PromptSession) -> None:
        while True:
            try:
                default, self.next_input = self.next_input, ""
                text = session.prompt(self._prompt_text, default=default)
            except KeyboardInterrupt:  # the line is cleared, and a recalled message or an edit with it
                self.recall.reset()
                self.editing = None
                continue
            except EOFError:
                return
            editing, self.editing = self.editing, None  # what /edit put back goes with this line alone
            self.input_history.say_notices()
            if not text.strip():
                continue
            try:
                if not self._take(text, editing):
                    return
            except Exception as exc:  # noqa: BLE001 - a bug in one command or reply must not end the chat
                self.terminal.print(f"ERROR: {internal_error_text(exc)}")

    def _take(self, text: str, editing: Optional[Tuple[int, Content]] = None) -> bool:
        """Run a command line or send a message (`editing`: as the new text of that user message); False
        when the chat should end."""
        if text.lstrip().startswith("/") and "\n" not in text.strip():
            self.recall.reset()
            return self.commands.handle(text.strip())
        self.send(text, editing)
        return True

    def _prompt_text(self) -> str:
        marker = "*>" if self.session.has_user_messages() else ">"
        return f"{self.brief_model()} {marker} "

    # What the commands see (ChatControls)
    @property
    def session(self) -> ChatSession:
        """The chat's messages (the conversation's)."""
        return self.conversation.session

    @session.setter
    def session(self, session: ChatSession) -> None:
        self.conversation.session = session

    @property
    def autosave(self) -> bool:
        """The chat is saved after each exchange."""
        return self.conversation.autosave

    @autosave.setter
    def autosave(self, on: bool) -> None:
        self.conversation.autosave = on

    @property
    def providers(self) -> ProviderManager:
        """The ProviderManager of this run."""
        return self.context.providers

    @property
    def settings(self) -> ConfigModel:
        """The ConfigModel of this run."""
        return self.context.settings

    def copy_to_clipboard(self, text: str) -> str:
        """Copy `text`; the way it went (a tool's name or OSC 52)."""
        return self.clipboard.copy(text)

    def set_default_model(self, model: str) -> str:
        """Write `model` as config.toml's default and use it for /dm; what was written where."""
        self.default_model = self.config.set_default_model(model)
        return f"{self.default_model} in {self.config.config_path}"

    # Models
    def resolved_model(self) -> ResolvedModel:
        """The current model, resolved once per model and providers (InvalidModelError if it is not valid now)."""
        if self._resolved is None or self._resolved[0] != self.model:
            self._resolved = (self.model, self.providers.resolve(self.model))
        return self._resolved[1]

    def brief_model(self) -> str:
        """The short name of the current model, else its id."""
        try:
            return self.resolved_model().short_name
        except InvalidModelError:
            return self.model

    def model_label(self) -> str:
        """`provider/long-id` of the current model."""
        return self.resolved_model().label

    def refresh_providers(self) -> None:
        """Take in models another llmc discovered since this chat started (the providers YAML changed)."""
        try:
            if self.config.reload_providers_if_changed():
                self._resolved = None  # the same model string may name another model now
        except ConfigError as exc:
            self.terminal.message(f"Warning: {exc}; keeping the models known so far")

    def add_provider(self, name: str, url: Optional[str] = None, key_env: Optional[str] = None) -> None:
        """/add-provider: add, discover and save a provider (see ProviderAdder); adopt a new default."""
        if ProviderAdder(self.context, self.terminal.print, in_chat=True).add(name, url, key_env):
            self._adopt_new_default()

    def adopt_found_local_servers(self) -> None:
        """After a discovery that added local servers: offer their model as the default, as /add-provider does."""
        found = self.providers.found_local_providers
        if found:
            ProviderAdder(self.context, self.terminal.print, in_chat=True).offer_as_default(found)
            self._adopt_new_default()

    def _adopt_new_default(self) -> None:
        """Take in a new default model; switch to it when the current model cannot chat."""
        default = self.config.config.model
        if default == self.default_model:
            return
        self.default_model = default
        try:
            self.providers.chat_model(self.model)
        except (ConfigError, InvalidModelError):
            self.terminal.print(f"Model set to {self.set_model(default)}.")

    def set_model(self, model: str) -> str:
        """Switch to `model` (ConfigError if invalid or its provider has no key); return its label."""
        resolved = self.providers.resolve(model) if self.echo else self.providers.chat_model(model)
        self.model = resolved.label
        self._resolved = (self.model, resolved)
        return self.model

    def api(self) -> ChatSender:
        """The chat API of the current model (ConfigError if its provider has no key)."""
        return self.providers.chat_api(self.resolved_model())

    def options(self) -> ChatOptions:
        """The settings each request goes with: temperature, max tokens, streaming."""
        return self.config.config.chat_options()

    def key_source(self, provider: str) -> str:
        """Where the provider's API key came from ("environment (OPENAI_API_KEY)"), "" if unknown."""
        return self.config.key_sources.get(provider, "")

    def use_role(self, name: Optional[str]) -> str:
        """/role NAME: the role's prompt, settings and model from now on; None: no role (the plain system
        prompt). A line saying what changed."""
        if name is None:
            self.session.set_system_prompt(self.plain_system_prompt)
            return "No role: the system prompt is the plain one again."
        role = load_role(self.data_directory, name)
        self.session.set_system_prompt(role.prompt, role.name)
        role.apply_settings(self.set_option)
        switched = f"; model set to {self.set_model(role.model)}" if role.model else ""
        return f"Role {role.name} ({role.source}){switched}."

    def set_option(self, name: str, value: SettingValue, source: str) -> None:
        """Change a request setting (temperature, max_tokens) for the rest of this chat: the next request
        goes with it."""
        self.config.apply_setting(name, value, source)

    def title_completer(self) -> Optional[Callable[[List[dict]], str]]:
        """What /md asks for a title: the model's non-streamed answer, capped at TITLE_TOKEN_BUDGET tokens and
        ping_timeout seconds (keys typed meanwhile wait for the next prompt as typed); None in echo mode."""
        if self.echo:
            return None
        try:
            api = self.providers.chat_api(self.resolved_model())
        except (ConfigError, InvalidModelError):
            return None
        asked = self.options()
        options = replace(asked, stream=False, tools=(),
                          max_tokens=min(asked.max_tokens or TITLE_TOKEN_BUDGET, TITLE_TOKEN_BUDGET))

        def complete(messages: List[dict]) -> str:
            with self.terminal.keys_not_echoed():
                return without_known_keys(api.complete(messages, options, limit="ping_timeout"))
        return complete

    # Sending
    def send(self, text: str, editing: Optional[Tuple[int, Content]] = None) -> None:
        """Send a user message (with the files attached since the last one) and show the reply;
        Ctrl-C or an error drops this turn (a reply cut off keeps what came, marked). A message recalled
        (Shift-Up) and sent replaces its turn and what followed, which are kept as its alternative; so
        does `editing` (the index and content of the user message /edit put back). Either way its attached
        files go again, with those attached since."""
        replacing = self.recall.recalled_user_index
        self.recall.reset()
        if replacing is not None:  # a message recalled since /edit is the one edited
            editing = (replacing, self.session.messages[replacing]["content"])
        if editing is None:
            self._send_content(text, None)
        else:  # the recall showed, and /edit put back, what was typed: the files go again
            self._send_content(with_prompt(editing[1], text), editing[0])

    def _send_content(self, content: Content, replacing: Optional[int]) -> None:
        """Send `content` with the files attached since the last message, in place of the user message at
        `replacing` if given."""
        attached, self.attachments = self.attachments, []
        content = with_attachments(content, attached)
        self._show_turn(lambda model, writer: self.conversation.send(content, model, self.options(), writer,
                                                                      replacing), attached)

    def fork(self, title: str = "") -> str:
        """/fork [TITLE]: go on in a new saved chat holding this one as it is (titled TITLE if given); a line
        naming both."""
        previous, forked = self.conversation.fork(title or None)
        if previous is None:
            return f"Saved as the new chat {forked}; this chat goes on there."
        return f"Forked: this chat goes on as {forked}; the saved chat {previous} stays as it was."

    def edit_last_prompt(self, text: str) -> None:
        """/edit: the last prompt back in the input line, to change and send in place of its turn (kept
        as an alternative); with `text`, `text` sent in its place at once. LlmcError when there is none."""
        index = self.session.last_user_index()
        if index is None:
            raise LlmcError("no prompt to edit yet: send one first")
        content = self.session.messages[index]["content"]
        if text:
            self._send_content(with_prompt(content, text), index)
            return
        self.next_input, self.editing = prompt_of(content), (index, content)
        attached = " Its attached files go with it again." if with_prompt(content, "") else ""
        if self.attachments:
            attached += " The files attached since go with it too."
        self.terminal.print_dim("Change the prompt and send it: it replaces the last turn, which is kept "
                                "(/alternatives). Ctrl-X Ctrl-E opens $EDITOR; Ctrl-C keeps the chat as it is."
                                + attached)

    def regenerate(self) -> None:
        """/regenerate: ask the current model again for the last prompt; the earlier reply is kept as an
        alternative (LlmcError when there is no prompt yet)."""
        self.conversation.prompt_to_ask_again()  # said before the model is resolved or anything drawn
        if self._show_turn(lambda model, writer: self.conversation.regenerate(model, self.options(), writer), []):
            count = len(last_turn_choices(self.session.messages))
            self.terminal.print_dim(f"The earlier reply is kept: /alternatives shows the {count} answers "
                                    "and takes one back.")

    def _show_turn(self, turn: Callable[[Optional[ResolvedModel], ReplyWriter], Reply],
                   attached: List[Attachment]) -> bool:
        """Run one turn (a send or an ask again) with the current model, its reply shown as it comes and
        its usage after it; a failure or Ctrl-C is told. True when a reply came whole."""
        writer = None
        try:
            model = None if self.echo else self.resolved_model()
            writer = make_reply_writer(self.terminal)
            reply = turn(model, writer)
        except KeyboardInterrupt:
            if writer is not None:
                writer.abort()
            self._after_failure("Keyboard interrupt.", attached, writer is None)
        except (LlmcError, OSError) as exc:
            self._after_failure(f"ERROR: {exc}", attached, writer is None)
        except Exception as exc:  # noqa: BLE001 - a bug in one reply drops that turn, never the chat
            self._after_failure(f"ERROR: {internal_error_text(exc)}", attached, writer is None)
        else:
            self._show_usage(reply)
            self.terminal.print()
            return True
        return False

    def edit_next_prompt(self, text: str) -> None:
        """Write the next prompt in the editor, starting from `text`; it comes back to the input line."""
        self.next_input = edit_text(text, self.terminal.environ)

    def attach(self, path: str) -> Attachment:
        """Read a file to go with the next message (ConfigError naming it if it cannot go)."""
        attachment = Attachment.read(path)
        self.attachments.append(attachment)
        return attachment

    def _after_failure(self, notice: str, attached: List[Attachment], before_sending: bool) -> None:
        """After a turn that failed or was cut off (what arrived of a reply is kept): say why; the attachments
        of a turn dropped, or failed before it was sent, were not sent."""
        self.terminal.print(notice)
        if before_sending or self.conversation.turn_dropped:
            self._not_sent(attached)

    def _not_sent(self, attached: List[Attachment]) -> None:
        if attached:
            names = ", ".join(a.name for a in attached)
            self.terminal.print(f"Not sent: {names} (/attach again to send with the next message).")

    def _show_usage(self, reply: Reply) -> None:
        """The dim usage line after a reply, unless config.toml's show_usage is off; a provider that reports
        none is said so once per provider in a chat, not after every reply."""
        if self.echo or not self.settings.show_usage:
            return
        model = self.resolved_model()
        if reply.usage is None:
            if model.provider in self._said_no_usage:
                return
            self._said_no_usage.add(model.provider)
        self.terminal.print_dim(usage_text(reply.usage, model))

    def save_chat(self) -> None:
        """Save the chat as it is now, when autosave is on; a failure is a warning, the chat goes on."""
        self.conversation.save()

    # Showing the chat
    def show_chat(self) -> None:
        """Print every message of the chat (replies as Markdown on a colour terminal), and how many answers
        its last prompt had when /regenerate or /edit replaced some."""
        print_turns(self.terminal, self.session.turns())
        count = len(last_turn_choices(self.session.messages))
        if count > 1:
            self.terminal.print_dim(f"The last prompt had {count} answers: /alternatives lists them.")

    def clear_screen(self) -> None:
        """Clear the terminal (nothing when output is not a terminal or TERM=dumb; NO_COLOR is no reason)."""
        if self.terminal.is_interactive and self.terminal.environ.get("TERM") != "dumb":
            self.terminal.write("\x1b[2J\x1b[3J\x1b[H")

    # Asking
    def ask(self, question: str, default: str = "", multiline: bool = False) -> Optional[str]:
        """One answer from the user; None on Ctrl-C or Ctrl-D."""
        asker: PromptSession = PromptSession(multiline=multiline, key_bindings=self._input_bindings(),
                                             **self._io_arguments())
        try:
            return asker.prompt(question, default=default)
        except (KeyboardInterrupt, EOFError):
            return None

    def ask_key(self, question: str) -> Optional[str]:
        """One key from the user, read as it is pressed ("" for Enter); None on Ctrl-C or Ctrl-D."""
        bindings = KeyBindings()

        @bindings.add(Keys.Any)
        def _take(event: KeyPressEvent) -> None:
            event.app.exit(result=event.data)

        @bindings.add("enter")
        def _enter(event: KeyPressEvent) -> None:
            event.app.exit(result="")

        @bindings.add("c-c")
        @bindings.add("c-d")
        def _stop(event: KeyPressEvent) -> None:
            event.app.exit(result=None)

        asker: PromptSession = PromptSession(key_bindings=bindings, **self._io_arguments())
        return asker.prompt(question)

    def _ask_about_tool(self, question: str) -> Optional[str]:
        """The user's answer to whether a tool call may run; Ctrl-C is raised (it stops the tool loop)."""
        asker: PromptSession = PromptSession(**self._io_arguments())
        try:
            return asker.prompt(question)
        except EOFError:
            return None

    def _io_arguments(self) -> dict:
        return {k: v for k, v in self._io.items() if v is not None}

    # Input history
    def _make_prompt_session(self) -> PromptSession:
        session: PromptSession = PromptSession(
            history=self.input_history.open(), multiline=True, key_bindings=self._key_bindings(),
            enable_suspend=True,  # Ctrl-Z suspends at the prompt as it does during a reply
            completer=self.commands, complete_while_typing=False, prompt_continuation=self._continuation,
            **self._io_arguments())
        session.default_buffer.on_text_changed += self.recall.forget_when_emptied
        return session

    @staticmethod
    def _continuation(width: int, line_number: int, wrap_count: int) -> str:
        return "...".rjust(max(0, width - 1)) + " "

    def set_keep_input_history(self, keep: bool) -> None:
        """Write the prompts from now on to the input history file, or keep them in memory only."""
        if keep == self.input_history.keep:
            return
        self.input_history.keep = keep
        if self.prompt_session is not None:
            history = self.input_history.open(self.prompt_session.history)
            self.prompt_session.history = history
            self.prompt_session.default_buffer.history = history
            self.prompt_session.default_buffer.reset()

    def clear_input_history(self) -> None:
        """Empty the history file and the history Up/Down walks."""
        history = self.input_history.clear()
        if self.prompt_session is not None:
            self.prompt_session.history = history
            self.prompt_session.default_buffer.history = history
            self.prompt_session.default_buffer.reset()

    # Key bindings
    def _input_bindings(self) -> KeyBindings:
        """Send, new line and editor keys (see InputKeys); an editor that fails is told on the screen."""
        return input_key_bindings(self.settings.enter_sends, self.terminal.environ, self.terminal.print)

    def _key_bindings(self) -> KeyBindings:
        bindings = self._input_bindings()
        for key, role, step in (("s-up", "user", -1), ("s-down", "user", 1),
                                (CTRL_SHIFT_UP, "assistant", -1), (CTRL_SHIFT_DOWN, "assistant", 1)):
            keys = key if isinstance(key, tuple) else (key,)  # prompt_toolkit may map a sequence to several keys
            bindings.add(*keys)(self._walk_key(role, step))
        bindings.add("escape", "N")(self._reset_key)
        bindings.add("c-b")(lambda event: self._copy_key(event.current_buffer.text, "input"))
        bindings.add("c-l")(lambda event: self._copy_key(self.session.last_reply(), "last reply"))
        return bindings

    def _walk_key(self, role: str, step: int) -> Callable[[Any], None]:
        return lambda event: self.recall.walk(event.current_buffer, self.session, role, step)

    def _reset_key(self, event: Any) -> None:
        self.session.reset()
        self.recall.reset()
        self.editing = None
        event.current_buffer.reset()
        run_in_terminal(lambda: self.terminal.print("Chat history reset."))

    def _copy_key(self, text: Optional[str], what: str) -> None:
        def copy() -> None:
            if not text:
                self.terminal.print(f"Nothing to copy: no {what}.")
                return
            used = self.clipboard.copy(text)
            self.terminal.print(f"Copied the {what} to the clipboard ({used}).")
        run_in_terminal(copy)
