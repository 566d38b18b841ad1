"""The chat's slash commands: one table drives dispatch, /help and tab completion."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .. import __version__
from .Clipboard import code_blocks
from .CommandHelp import command_details, help_lines, show_paged
from ..base.Errors import InvalidModelError, LlmcError
from ..render.ProgressDisplay import discover_with_progress
from ..ProviderManager import ProviderManager, split_first_slash
from ..base.Secrets import mask_key, mask_url
from ..base.Terminal import Terminal
from ..render.ChatPrinter import print_turns
from ..store.Alternatives import choice_lines, last_turn_choices, take
from ..store.ChatSession import readable_text
from ..store.Roles import role_names
from ..store.ChatStore import cut_to_width, format_chat_list, format_search_hits, given_title, model_to_resume
from ..tools.ToolListing import tool_list_lines

if TYPE_CHECKING:
    from .ChatControls import ChatControls

UNKNOWN_COMMAND = "Unknown command. Type /h for a list of commands."
CHATS_SHOWN = 20
FORCE_REFRESH = "--force-refresh"
YES = ("y", "yes")
OFF = ("off", "default", "none")


class Command(NamedTuple):
    """One slash command: its name, aliases, argument synopsis, one-line help, handler method and the
    details `/help NAME` adds."""

    name: str
    aliases: Tuple[str, ...]
    args: str
    help: str
    method: str
    details: str = ""


COMMANDS: Tuple[Command, ...] = (
    Command("help", ("h",), "[CMD]", "list the commands, or tell more about CMD", "_help"),
    Command("clear", ("c",), "", "clear the screen", "_clear"),
    Command("exit", ("e", "q"), "", "leave the chat (Ctrl-D on an empty line too)", "_exit"),
    Command("reset", ("r",), "", "start over: forget this chat's messages", "_reset",
            "Shift-Alt-N does the same. What was saved stays in its file; the next reply starts a new one."),
    Command("print", ("p",), "", "show the whole chat", "_print"),
    Command("regenerate", ("rg",), "", "ask again; the earlier reply is kept", "_regenerate",
            "With the current model (/mod first to ask another). The earlier reply, with any tool calls it made, "
            "stays in the chat file as an alternative: /alternatives shows them and takes one back. Ctrl-C or an "
            "error leaves the earlier reply as it was."),
    Command("edit", (), "[TEXT]", "change the last prompt and send it again", "_edit",
            "Puts the last prompt back in the input line: sending it replaces the last turn, which is kept in the "
            "chat file (/alternatives takes it back). Ctrl-X Ctrl-E opens it in $VISUAL or $EDITOR; Ctrl-C leaves "
            "the chat as it was. With TEXT, TEXT is sent in its place at once. Files attached to the prompt go "
            "with it again, and so do those /attach'ed since. Shift-Up recalls an earlier prompt to change and send "
            "the same way."),
    Command("alternatives", ("alt",), "[N]", "show the last prompt's answers; N takes one back", "_alternatives",
            "What /regenerate and /edit replaced is kept in the chat file: the list numbers every answer the last "
            "turn had (with its prompt when /edit changed it), * marks the current one. /alternatives N makes "
            "answer N the chat's again; the one it replaces is kept in its place."),
    Command("edit-prompt", (), "[TEXT]", "write the next prompt in $VISUAL or $EDITOR", "_edit_prompt",
            "Opens the editor on TEXT (or nothing); what you save comes back to the input line, to send "
            "with Enter. Ctrl-X Ctrl-E does the same with the line being typed."),
    Command("save", ("s",), "[FILE]", "save the chat as JSON", "_save",
            "Into the data directory unless FILE is a path; asks before overwriting a file."),
    Command("load", ("l",), "[FILE|N]", "load a chat file, or chat N of /chats", "_load",
            "Shows the chat and goes on from it. With N, the chat goes on saving into that saved chat, "
            "with the model of its last reply."),
    Command("fork", (), "[TITLE]", "go on in a new saved chat from here", "_fork",
            "The new chat holds this one as it is now (with its alternatives), titled TITLE if given (else its "
            "first prompt's words, as any chat); the saved chat it came from stays as it was, /chats lists both. "
            "Saved even with /autosave off; the replies after it are saved as autosave says."),
    Command("chats", (), "[all]", "list the saved chats, newest first", "_chats",
            "The last 20 unless `all`. /load N opens chat N."),
    Command("search", (), "TEXT", "find the saved chats holding TEXT", "_search",
            "Every word must match; the best and newest matches first, each with a snippet. /load N opens "
            "chat N (the number --list-chats and /chats give it)."),
    Command("title", (), "[TEXT]", "show or give this chat's title", "_title",
            "The title is the first prompt's words until you give one; it is kept in the saved chat."),
    Command("autosave", (), "[on|off]", "save this chat after each reply", "_autosave",
            "off: no chat file, and the prompts stay out of the input history too."),
    Command("clear_history", ("ch",), "", "clear the input history (Up/Down) file", "_clear_history"),
    Command("role", (), "[NAME|off]", "show the role, take role NAME, or none", "_role",
            "A role is a system prompt with settings: <data dir>/roles/NAME.md (YAML front matter with model, "
            "temperature, max_tokens, then the prompt), or built in (llmc --list-roles lists them). Tab "
            "completes the names; the saved chat remembers its role, and -C goes on with it."),
    Command("sp", (), "[TEXT]", "set the system prompt (without TEXT: edit it)", "_system_prompt"),
    Command("copy", ("cb",), "[N]", "copy code block N of the last reply", "_copy_block",
            "Without N: the only block, or the list of them to choose from. llmc -x prints the code blocks "
            "of a -p reply."),
    Command("md", (), "[FILE]", "export the chat to Markdown", "_markdown",
            "The model is asked for a title; the file goes into the data directory unless FILE is a path."),
    Command("config", ("con",), "", "show the settings (API key masked)", "_config"),
    Command("attach", ("a",), "[FILE]", "attach a file to your next message", "_attach",
            "A text file, or a PNG, JPEG, GIF or WebP image. Without FILE: list what is attached."),
    Command("temperature", ("temp",), "[T|off]", "sampling temperature (0 to 2) for this chat",
            "_temperature"),
    Command("max-tokens", (), "[N|off]", "cap the tokens of each reply in this chat", "_max_tokens"),
    Command("tools", (), "[on|off NAME]", "list the MCP servers and their tools", "_tools",
            "/tools on|off NAME switches a server, or one tool (SERVER.TOOL), on or off for this chat."),
    Command("mod", (), "MODEL", "switch to MODEL (Tab completes)", "_model",
            "MODEL is provider/long-id, a long id or a short name; /list shows them."),
    Command("dm", (), "", "switch back to the default model", "_default_model"),
    Command("set-default", (), "[MODEL]", "make MODEL (or this one) the default", "_set_default",
            "Written to config.toml, keeping its comments."),
    Command("list", (), "[PROVIDER]", "list the known valid models (no network)", "handle_models_command"),
    Command("models", (), "[PROVIDER]", "same as /list", "handle_models_command"),
    Command("discover-models", (), "[PROVIDER]", "ask providers for their models, test them",
            "_discover", f"Saves the valid ones. Usage: /discover-models [PROVIDER] [{FORCE_REFRESH}] "
            f"({FORCE_REFRESH}: test the models remembered as invalid too)."),
    Command("add-provider", (), "NAME [URL]", "add a provider and discover its models", "_add_provider",
            "Usage: /add-provider NAME [URL] [--key-env VAR], e.g. /add-provider local http://127.0.0.1:8080/v1 "
            "(URL may be left out for a known provider such as openrouter or groq; the key is read from VAR, "
            "by default NAME_API_KEY; a server on this machine needs none)."),
)
PROVIDER_ARGUMENT = {"list", "models", "discover-models"}
FILE_ARGUMENT = {"save": ".json", "load": ".json", "md": ".md"}


def find_command(word: str) -> Optional[Command]:
    """The command named or aliased exactly `word` (without its slash), else None."""
    for command in COMMANDS:
        if word == command.name or word in command.aliases:
            return command
    return None


class CommandHandler(Completer):
    """Runs slash commands against the chat (through ChatControls) and completes them on Tab."""

    def __init__(self, chat_interface: "ChatControls") -> None:
        self.chat_interface = chat_interface
        self._listed_chats: Optional[List[str]] = None  # ids in the order /chats last showed them

    @property
    def terminal(self) -> Terminal:
        return self.chat_interface.terminal

    @property
    def providers(self) -> ProviderManager:
        return self.chat_interface.providers

    # Dispatch
    def handle(self, line: str) -> bool:
        """Run one command line; False when the chat should end."""
        word, _, rest = line.strip().partition(" ")
        command = find_command(word[1:]) if word.startswith("/") else None
        if command is None:
            self.terminal.print(UNKNOWN_COMMAND)
            return True
        if rest.strip() and not command.args:  # "/ch x" must not wipe the history on a typo
            self._error(f"/{command.name} takes no argument (got '{rest.strip()}')")
            return True
        try:
            return getattr(self, command.method)(rest.strip()) is not False
        except LlmcError as exc:
            self._error(str(exc))
        except OSError as exc:
            self._error(f"{getattr(exc, 'filename', None) or 'file'}: {exc.strerror or exc}")
        except KeyboardInterrupt:
            self.terminal.print("Keyboard interrupt.")
        return True

    def _error(self, text: str) -> None:
        self.terminal.print(f"ERROR: {text}")

    def _row_width(self) -> Optional[int]:
        """The columns a listing's rows are cut to; None when the output is not a terminal (rows stay whole)."""
        return self.terminal.size().columns if self.terminal.is_interactive else None

    def _help(self, name: str) -> None:
        width = self.terminal.size().columns
        if name:
            command = find_command(name.lstrip("/"))
            if command is None:
                self._error(f"no command /{name.lstrip('/')}: /help lists them")
                return
            self.terminal.print("\n".join(command_details(command, width)))
            return
        lines = help_lines(COMMANDS, width, self.chat_interface.settings.enter_sends)
        show_paged(lines, self.terminal, self.chat_interface.ask_key)

    def _edit_prompt(self, text: str) -> None:
        self.chat_interface.edit_next_prompt(text)

    def _clear(self, _: str) -> None:
        self.chat_interface.clear_screen()

    def _exit(self, _: str) -> bool:
        return False

    def _reset(self, _: str) -> None:
        self.chat_interface.session.reset()
        self.terminal.print("Chat history reset.")

    def _print(self, _: str) -> None:
        self.chat_interface.show_chat()

    def _regenerate(self, _: str) -> None:
        self.chat_interface.regenerate()

    def _fork(self, title: str) -> None:
        self.terminal.print(self.chat_interface.fork(title))

    def _edit(self, text: str) -> None:
        self.chat_interface.edit_last_prompt(text)

    def _alternatives(self, number: str) -> None:
        chat = self.chat_interface
        choices = last_turn_choices(chat.session.messages)
        if len(choices) < 2:
            self.terminal.print("The last turn has no alternatives: /regenerate asks again and /edit changes the "
                                "last prompt, both keeping what they replace." if choices else
                                "No prompt yet: nothing to choose from.")
            return
        if not number:
            lines = [cut_to_width(line, self._row_width()) for line in choice_lines(choices)]
            self.terminal.print("\n".join(["Answers to the last prompt (* the current one):", *lines,
                                           "/alternatives N takes answer N."]))
            return
        if not number.isdigit() or not 1 <= int(number) <= len(choices):
            self._error(f"no answer {number!r}: /alternatives lists 1 to {len(choices)}")
            return
        chosen = choices[int(number) - 1]
        take(chat.session.messages, chosen.path)
        chat.save_chat()
        print_turns(self.terminal, [(m["role"], readable_text(m)) for m in chosen.messages])
        self.terminal.print(f"Answer {number} of {len(choices)} is the chat's now (/alternatives lists them).")

    def _save(self, name: str) -> None:
        session = self.chat_interface.session
        if session.would_overwrite(name or None):
            path = session.resolve_path(name or None)
            answer = self.chat_interface.ask(f"{path} exists. Overwrite it? [y/N] ")
            if (answer or "").strip().lower() not in YES:
                self.terminal.print("Not saved.")
                return
        path = session.save(name or None)
        self.terminal.print(f"Chat history saved to {path}.")

    def _load(self, name: str) -> None:
        if name.isdigit():
            self._open_saved_chat(name)
            return
        path = self.chat_interface.session.load(name or None)
        self.terminal.print(f"Chat history loaded from {path}.")
        self.chat_interface.show_chat()

    def _open_saved_chat(self, number: str) -> None:
        """/load N: number N of the list /chats showed (a fresh list if it showed none)."""
        store = self.chat_interface.store
        chat_id = store.find(number, self._listed_chats)
        summary, messages = store.load(chat_id)
        self.chat_interface.session.resume(chat_id, messages)
        self.terminal.print(f"Opened the saved chat {chat_id}.")
        self.chat_interface.show_chat()
        self._go_on_with_model_of(summary.model, chat_id)

    def _go_on_with_model_of(self, model: str, chat_id: str) -> None:
        """An opened chat goes on with the model of its last reply, as `llmc -C` does, if it can chat now."""
        chat = self.chat_interface
        try:
            current = chat.model_label()
        except LlmcError:
            current = chat.model
        resumed_model, note = model_to_resume(chat.providers, model, current, chat_id)
        if resumed_model is not None:
            self.terminal.print(f"Model set to {chat.set_model(resumed_model)} (the model of its last reply).")
        if note:
            self.terminal.print(note)

    def _chats(self, which: str) -> None:
        if which not in ("", "all"):
            self._error(f"usage: /chats [all] (got '{which}')")
            return
        chats, problems = self.chat_interface.store.summaries()
        for problem in problems:
            self.terminal.message(f"Warning: {problem}")
        self._listed_chats = [chat.chat_id for chat in chats]
        if not chats:
            self.terminal.print("No saved chats yet.")
            return
        shown = chats if which == "all" else chats[:CHATS_SHOWN]
        lines = format_chat_list(shown, current=self.chat_interface.session.chat_id, width=self._row_width())
        if len(shown) < len(chats):
            lines.append(f"… and {len(chats) - len(shown)} older: /chats all")
        self.terminal.print("\n".join(lines + ["/load N opens chat N."]))

    def _search(self, text: str) -> None:
        if not text:
            self._error("usage: /search TEXT")
            return
        hits = self.chat_interface.store.search(text)
        if not hits:
            self.terminal.print(f"No saved chat holds {text!r}.")
            return
        self._listed_chats = None  # /load N counts in the list of all chats, as the hits' numbers do
        lines = format_search_hits(hits, self.terminal.color, self._row_width())
        self.terminal.print("\n".join(lines + ["/load N opens chat N."]))

    def _title(self, text: str) -> None:
        chat = self.chat_interface
        chat_id = chat.session.chat_id
        if chat_id is None:  # the title waits for the first save (as --title's does)
            if text:
                chat.session.title = given_title(text)
            self.terminal.print(f"Title: {chat.session.title} (the chat is saved under it with its first reply)."
                                if chat.session.title else
                                "This chat is not saved yet: /title TEXT names it before it is.")
            return
        if not text:
            summary, _ = chat.store.load(chat_id)
            self.terminal.print(f"Title: {summary.title}. Usage: /title TEXT")
            return
        chat.store.rename(chat_id, text)
        self.terminal.print(f"Title set to {' '.join(text.split())!r}.")

    def _role(self, name: str) -> None:
        chat = self.chat_interface
        if not name:
            current = chat.session.role_name
            self.terminal.print(f"Role: {current}." if current else
                                "No role. /role NAME takes one (Tab completes; llmc --list-roles lists them).")
            return
        self.terminal.print(chat.use_role(None if name.lower() in OFF else name))

    def _autosave(self, setting: str) -> None:
        chat = self.chat_interface
        if setting not in ("", "on", "off"):
            self._error(f"usage: /autosave [on|off] (got '{setting}')")
            return
        if setting:
            chat.autosave = setting == "on"
            chat.set_keep_input_history(chat.autosave)
            chat.save_chat()
        saved = chat.store.path_of(chat.session.chat_id) if chat.session.chat_id else None
        if chat.autosave:
            where = f"to {saved}" if saved else f"in {chat.store.directory}"
            self.terminal.print(f"Autosave is on: this chat is saved {where} after each reply.")
            return
        kept = f" What was saved before stays in {saved}." if saved else ""
        self.terminal.print("Autosave is off: this chat is not saved and its prompts stay out of the "
                            f"input history (/autosave on saves it).{kept}")

    def _tools(self, text: str) -> None:
        toolbox = self.chat_interface.toolbox
        words = text.split()
        if not words:
            for line in tool_list_lines(toolbox.servers(), str(toolbox.configured.path)):
                self.terminal.print(line)
            return
        if len(words) != 2 or words[0] not in ("on", "off"):
            self._error(f"usage: /tools, /tools on NAME or /tools off NAME (got '{text}')")
            return
        switched = toolbox.set_enabled(words[1], words[0] == "on")
        self.terminal.print(f"The tools of {switched} are {words[0]} for this chat." if switched.startswith("server ")
                            else f"The tool {switched} is {words[0]} for this chat.")

    def _clear_history(self, _: str) -> None:
        self.chat_interface.clear_input_history()
        self.terminal.print("Chat file history cleared.")

    def _system_prompt(self, text: str) -> None:
        if not text:
            send = "Enter" if self.chat_interface.settings.enter_sends else "Alt-Enter"
            answer = self.chat_interface.ask(f"System prompt ({send} saves, Ctrl-C cancels):\n",
                                   default=self.chat_interface.session.system_prompt, multiline=True)
            if answer is None or not answer.strip():
                self.terminal.print("System prompt unchanged.")
                return
            text = answer.strip()
        self.chat_interface.session.set_system_prompt(text)
        self.terminal.print("System prompt updated.")

    def _copy_block(self, choice: str) -> None:
        reply = self.chat_interface.session.last_reply()
        if reply is None:
            self.terminal.print("No reply yet: nothing to copy.")
            return
        blocks = code_blocks(reply)
        if not blocks:
            self.terminal.print("The last reply has no code blocks.")
            return
        number = self._choose_block(blocks, choice)
        if number is None:
            return
        used = self.chat_interface.copy_to_clipboard(blocks[number - 1][1])
        self.terminal.print(f"Code block {number} copied to the clipboard ({used}).")

    def _choose_block(self, blocks: List[Tuple[str, str]], choice: str) -> Optional[int]:
        if not choice and len(blocks) == 1:
            return 1
        if not choice:
            for number, (language, code) in enumerate(blocks, 1):
                first = next((line.strip() for line in code.splitlines() if line.strip()), "")
                lines = len(code.splitlines())
                unit = "line" if lines == 1 else "lines"
                self.terminal.print(f"  {number}. [{language or 'text'}, {lines} {unit}] {first[:60]}")
            choice = (self.chat_interface.ask(f"Copy which code block? [1-{len(blocks)}] ") or "").strip()
            if not choice:
                self.terminal.print("Nothing copied.")
                return None
        if not choice.isdigit() or not 1 <= int(choice) <= len(blocks):
            self.terminal.print(f"No code block {choice}: choose 1 to {len(blocks)}.")
            return None
        return int(choice)

    def _markdown(self, name: str) -> None:
        session = self.chat_interface.session
        if not session.has_user_messages():
            self.terminal.print("Nothing to export: the chat is empty.")
            return
        chat = self.chat_interface
        path = session.export_markdown(
            chat.title_completer(), chat.model_label(), name or None,
            on_asking=lambda: self.terminal.message(f"Asking {chat.brief_model()} for a title…"))
        self.terminal.print(f"Chat exported to {path}.")

    def _config(self, _: str) -> None:
        settings = self.chat_interface.settings
        rows = [("Version", __version__), *self._model_rows(self.chat_interface.model),
                ("Sassy", "yes" if settings.sassy else "no"),
                ("Stream", "yes" if settings.stream else "no"),
                ("Temperature", _temperature_text(settings.temperature)),
                ("Max tokens", _max_tokens_text(settings.max_tokens)),
                ("Data directory", str(self.chat_interface.data_directory)),
                ("System prompt", self.chat_interface.session.system_prompt)]
        self.terminal.print("\n".join(f"{label + ':':<16}{value}" for label, value in rows))

    def _attach(self, path: str) -> None:
        chat = self.chat_interface
        if path:
            attachment = chat.attach(path)
            self.terminal.print(f"Attached {attachment.name} ({attachment.size_text}); it goes with your next message.")
            return
        if not chat.attachments:
            self.terminal.print("Nothing attached. Usage: /attach FILE")
            return
        self.terminal.print("Attached for the next message: "
                            + ", ".join(f"{a.name} ({a.size_text})" for a in chat.attachments))

    def _temperature(self, text: str) -> None:
        self._set_option("temperature", "/temperature", text, float, _temperature_text)

    def _max_tokens(self, text: str) -> None:
        self._set_option("max_tokens", "/max-tokens", text, int, _max_tokens_text)

    def _set_option(self, name: str, command: str, text: str, kind: type, shown: Any) -> None:
        """Show a request setting, or set it (`off` unsets it) for the rest of the chat."""
        settings = self.chat_interface.settings
        label = command.lstrip("/").replace("-", " ").capitalize()
        if not text:
            self.terminal.print(f"{label}: {shown(getattr(settings, name))}. Usage: {command} "
                                f"{'T' if kind is float else 'N'} or {command} off")
            return
        if text.lower() in OFF:
            value = None
        else:
            try:
                value = kind(text)
            except ValueError:
                self._error(f"{command}: not {'a whole number' if kind is int else 'a number'}: {text!r}")
                return
        self.chat_interface.set_option(name, value, command)
        self.terminal.print(f"{label} set to {shown(getattr(settings, name))}.")

    def _model_rows(self, model: str) -> List[Tuple[str, str]]:
        """The model and its provider for /config; a model that is no longer valid is said to be so."""
        try:
            resolved = self.providers.resolve(model)
        except InvalidModelError:
            return [("Model", f"{model} (not a known valid model: /mod to pick another)")]
        provider = resolved.config
        if provider.has_api_key():
            source = self.chat_interface.key_source(resolved.provider)
            key = mask_key(provider.api_key) + (f" (from {source})" if source else "")
        elif provider.is_local():
            key = "none needed (a server on this machine)"
        else:
            key = f"not set (set {provider.key_variable(resolved.provider)})"
        return [("Model", resolved.display),
                ("Provider", resolved.provider if provider.name.lower() == resolved.provider.lower()
                 else f"{resolved.provider} ({provider.name})"),
                ("Base URL", mask_url(provider.base_api_url)),
                ("API key", key)]

    def _model(self, model: str) -> None:
        self.chat_interface.refresh_providers()
        if not model:
            self.terminal.print(f"Current model: {self.chat_interface.model_label()}. Usage: /mod MODEL "
                                "(Tab completes, /list shows the models)")
            return
        self.terminal.print(f"Model set to {self.chat_interface.set_model(model)}.")

    def _default_model(self, _: str) -> None:
        chat = self.chat_interface
        self.terminal.print(f"Model set to {chat.set_model(chat.default_model)}.")

    def _set_default(self, model: str) -> None:
        chat = self.chat_interface
        self.terminal.print(f"Default model set to {chat.set_default_model(model or chat.model)}.")

    def handle_models_command(self, provider: str) -> None:
        """/list and /models: the known valid models of every provider or one (never the network)."""
        self.chat_interface.refresh_providers()
        name = self._provider_name(provider) if provider else None
        if provider and name is None:
            return
        lines = self.providers.valid_scoped_models(name)
        self.terminal.print("\n".join(lines) if lines else "No known valid models.")

    def _provider_name(self, provider: str) -> Optional[str]:
        name = self.providers.resolve_provider_name(provider)
        if name is None:
            self._error(self.providers.unknown_provider_message(provider))
        return name

    def _discover(self, arguments: str) -> None:
        words = arguments.split()
        force = FORCE_REFRESH in words
        words = [w for w in words if w != FORCE_REFRESH]
        if len(words) > 1 or any(w.startswith("-") for w in words):
            self._error(f"usage: /discover-models [PROVIDER] [{FORCE_REFRESH}]")
            return
        provider = self._provider_name(words[0]) if words else None
        if words and provider is None:
            return
        self._run_discovery(provider, force)

    def _run_discovery(self, provider: Optional[str], force: bool) -> None:
        if discover_with_progress(self.providers, self.terminal, self.chat_interface.data_directory,
                                  self.terminal.print, provider_filter=provider, force_refresh=force):
            self.chat_interface.adopt_found_local_servers()
        try:
            self.providers.validate_model(self.chat_interface.model)
        except InvalidModelError:
            self._error(f"the current model {self.chat_interface.model} is no longer a valid model; "
                        "/mod to pick another or /dm for the default")

    def _add_provider(self, arguments: str) -> None:
        words = arguments.split()
        key_env = None
        if len(words) in (3, 4) and words[-2] == "--key-env":
            key_env = words[-1]
            words = words[:-2]
        if len(words) not in (1, 2):
            self._error("usage: /add-provider NAME [URL] [--key-env VAR]  (e.g. /add-provider local "
                        "http://127.0.0.1:8080/v1; a built-in provider such as openrouter needs no URL)")
            return
        name, url = words
        self.chat_interface.add_provider(name, url, key_env=key_env)

    # Completion
    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        """Command names, then each command's argument: models, providers or file names."""
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        if " " not in text:
            yield from self._complete_command(text)
            return
        word, _, rest = text.partition(" ")
        command = find_command(word[1:])
        if command is None:
            return
        if command.name in ("mod", "set-default"):
            yield from _matching(rest.lstrip(), self.model_names())
        elif command.name in PROVIDER_ARGUMENT:
            *done, current = rest.split(" ")
            yield from _matching(current, self._argument_choices(command.name, [w for w in done if w]))
        elif command.name == "autosave":
            yield from _matching(rest.lstrip(), ["on", "off"])
        elif command.name == "chats":
            yield from _matching(rest.lstrip(), ["all"])
        elif command.name == "alternatives":
            count = len(last_turn_choices(self.chat_interface.session.messages))
            yield from _matching(rest.lstrip(), [str(n) for n in range(1, count + 1)] if count > 1 else [])
        elif command.name == "tools":
            *done, current = rest.split(" ")
            choices = self.chat_interface.toolbox.configured.names() if [w for w in done if w] else ["on", "off"]
            yield from _matching(current, choices)
        elif command.name == "role":
            yield from _matching(rest.lstrip(), [*role_names(self.chat_interface.data_directory), "off"])
        elif command.name == "help":
            yield from _matching(rest.lstrip(), [c.name for c in COMMANDS])
        elif command.name == "attach":  # any file, from the working directory like a shell
            current = rest.lstrip()
            yield from _matching(current, self.file_names(current, "", here=True))
        elif command.name in FILE_ARGUMENT:
            current = rest.lstrip()
            yield from _matching(current, self.file_names(current, FILE_ARGUMENT[command.name]))

    def _argument_choices(self, command_name: str, typed: List[str]) -> List[str]:
        """What may come next: one provider (if none yet), and --force-refresh once for discovery."""
        providers = self.providers.get_all_provider_names()
        if command_name != "discover-models":
            return [] if typed else providers
        choices = [] if any(self.providers.resolve_provider_name(w) for w in typed) else providers
        return choices + ([] if FORCE_REFRESH in typed else [FORCE_REFRESH])

    def _complete_command(self, text: str) -> Iterator[Completion]:
        for command in COMMANDS:
            if ("/" + command.name).startswith(text):
                yield Completion("/" + command.name, start_position=-len(text),
                                 display_meta=command.help)

    def model_names(self) -> List[str]:
        """Every short name and provider/long-id of the known valid models."""
        self.chat_interface.refresh_providers()
        names: Dict[str, None] = {}
        for provider, (long_name, short_name) in self.providers.merged_models():
            prefix, _ = split_first_slash(short_name)
            if not (prefix and self.providers.resolve_provider_name(prefix)):  # would read as PROVIDER/…
                names.setdefault(short_name, None)
            names.setdefault(f"{provider}/{long_name}", None)
        return list(names)

    def file_names(self, typed: str, suffix: str, here: bool = False) -> List[str]:
        """Saved files in the data dir (the working directory when `here`), or entries of the
        directory `typed` points into."""
        if os.sep in typed or typed.startswith("~"):
            head = typed.rsplit(os.sep, 1)[0] + os.sep if os.sep in typed else ""
            directory = Path(os.path.expanduser(head or "."))
        else:
            head, directory = "", Path(".") if here else Path(self.chat_interface.data_directory)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return []
        names = []
        for entry in entries:
            if entry.is_dir() and (head or here):
                names.append(head + entry.name + os.sep)
            elif entry.name.endswith(suffix) and not entry.name.startswith("."):
                names.append(head + entry.name)
        return names


def _temperature_text(value: Optional[float]) -> str:
    return "default (0)" if value is None else f"{value:g}"


def _max_tokens_text(value: Optional[int]) -> str:
    return "no cap" if value is None else f"{value:,}"


def _matching(word: str, candidates: Iterable[str]) -> Iterator[Completion]:
    """Candidates starting with `word` (any case) first, then those containing it."""
    lowered = word.lower()
    candidates = list(candidates)
    starts = [c for c in candidates if c.lower().startswith(lowered)]
    contains = [c for c in candidates if lowered in c.lower() and c not in starts]
    for candidate in starts + contains:
        yield Completion(candidate, start_position=-len(word))
