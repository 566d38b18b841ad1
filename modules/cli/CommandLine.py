"""The llmc command line: parse flags, wire Config → ProviderManager → chat, map errors to exit codes."""
from __future__ import annotations

import argparse
import errno
import gc
import os
import sys

from .. import __version__
from ..base.ExitStatus import ExitStatus
from .Completion import SHELLS, VALUE_KINDS

TYPE_CHECKING = False  # not typing's: --version and --help import no more than argparse (typing takes 2 ms)
if TYPE_CHECKING:  # the run's objects are imported when the run needs them (start-up stays light)
    from typing import Any, Callable, List, Optional

    from ..Config import Config
    from ..base.Terminal import Terminal
    from ..setup.RunContext import RunContext
    from ..store.ChatSession import ChatSession
    from ..store.Roles import Role
    from ..tools.ToolBox import ToolBox

HELP_EPILOG = "Type /help at the prompt for in-chat command help."
ALL_PROVIDERS = "__all__"
MAX_CONCURRENCY = 256  # the ConfigModel's bound for `concurrency`
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EBADF, errno.EDQUOT, errno.EFBIG}


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    help_width = _help_width()
    parser = argparse.ArgumentParser(
        prog="llmc", description="Chat with any OpenAI-compatible LLM provider from the terminal.",
        epilog=HELP_EPILOG, add_help=False,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=help_width))
    add = parser.add_argument
    # argparse's own --help swallows write errors (a full disk would exit 0 with no help shown)
    add("-h", "--help", action="store_true", help="show this help message and exit")
    add("prompt_words", nargs="*", metavar="PROMPT", help="a prompt, as with -p (words are joined by spaces)")
    add("-p", "--prompt", metavar="TEXT", help="send TEXT, stream the reply to stdout and exit "
        "('-' reads the prompt from standard input, as does a piped stdin alone; a prompt and a piped "
        "stdin are sent together: the prompt, a blank line, then the piped text)")
    add("--json", action="store_true", help="with a prompt: write the run to stdout as JSON Lines (text, "
        "reasoning, usage, error, done; docs/json-events.md) instead of the answer's text")
    add("-u", "--usage", action="store_true", help="with a prompt: the prompt and completion token counts "
        "(and the cost, where prices are known) on stderr after the answer")
    add("-a", "--attach", action="append", metavar="FILE", help="with a prompt: send FILE too (repeatable): "
        "a text file with its name, a PNG, JPEG, GIF or WebP image as an image")
    add("-S", "--shell", nargs="+", metavar="REQUEST", help="ask for one shell command that does REQUEST (words "
        "are joined), show it and run it in $SHELL only if you press e (or revise, describe, copy, abort); "
        "without a terminal, print it")
    add("-x", "--extract", action="store_true", help="with a prompt: print only the code of the reply's code "
        "blocks (e.g. llmc -x 'a jq filter that …' | pbcopy); exit 1 when it has none")
    add("--xl", action="store_true", help="as -x, but only the last code block")
    add("-s", "--system-prompt", metavar="TEXT", help="system prompt for this run (it beats a role's)")
    add("-r", "--role", metavar="NAME", help="the role NAME for this run: its system prompt, and its model, "
        "temperature and max_tokens unless flags give them (<data dir>/roles/NAME.md, or built in)")
    add("--list-roles", action="store_true", help="list the roles (built in and <data dir>/roles/*.md) and exit")
    add("--temperature", type=_number(float), metavar="T", help="sampling temperature, 0 to 2 (default 0; "
        "OpenAI's gpt-5 and o-series take only 1)")
    add("--max-tokens", type=_number(int), metavar="N", help="the most tokens a reply may take")
    add("-f", "--history-file", metavar="FILE",
        help="load a saved chat at start and show it (with -p: the prompt follows it up)")
    add("-C", "--continue", dest="continue_chat", action="store_true",
        help="resume the most recent saved chat, with its model unless -m is given (with -p: the prompt "
             "follows it up)")
    add("--chat", metavar="ID", help="resume the saved chat ID, or number N of --list-chats")
    add("--list-chats", action="store_true", help="list the saved chats, newest first, and exit")
    add("--search", metavar="TEXT", help="find the saved chats holding every word of TEXT, best and newest "
        "first, and exit (--chat N opens one)")
    add("--show", metavar="ID", help="print the saved chat ID (or number N of --list-chats) without resuming it")
    add("--delete", metavar="ID", help="delete the saved chat ID (or number N); asks first (--yes: without asking)")
    add("--title", metavar="TEXT", help="the title TEXT for the chat this run saves (a new one, or with a prompt "
        "the one --chat or -C goes on); with --chat ID|N or -C and no prompt: give that saved chat the title and exit")
    add("--no-save", action="store_true",
        help="leave no trace: save neither this chat nor its prompts in the input history")
    add("-m", "--model", metavar="MODEL", help="model: provider/model, a long id or a short name")
    add("-l", "--list-models", action="store_true", help="list the known valid models and exit (no network)")
    add("--provider", metavar="NAME", help="with --list-models: only this provider's models")
    add("--long", action="store_true", help="with --list-models: what each model takes too: tool calls, "
        "images, its context length (as discovery or a refusal learnt it; ? where unknown)")
    add("-v", "--version", action="store_true", help="print the version and exit")
    add("--completion", choices=SHELLS, metavar="SHELL", help="print the completion script for SHELL (bash, zsh "
        "or fish) and exit; docs/usage.md shows the line that installs it")
    add("--complete", choices=VALUE_KINDS, metavar="KIND", help="print the values a completion offers for KIND "
        "(models, providers, chats, roles), one a line, and exit (the completion scripts use it)")
    add("-c", "--clear", action="store_true", help="clear the screen first")
    add("-e", "--echo", action="store_true", help="echo mode: print the prompt instead of sending it")
    add("--sassy", action="store_true", help="use the sassy system prompt")
    add("-d", "--data-directory", metavar="DIR", help="data directory (default ~/.llm_chat_cli)")
    add("--create-config", action="store_true", help="create the data directory and a default config.toml")
    add("--set-default-model", metavar="MODEL", help="make MODEL the default model (written to config.toml) and exit")
    add("--discover-models", nargs="?", const=ALL_PROVIDERS, metavar="PROVIDER",
        help="query providers for models, ping-test them and save the results")
    add("--force-refresh", action="store_true",
        help="with --discover-models or -uvm: re-test models remembered as invalid too")
    add("-uvm", "--update-valid-models", action="store_true", help="discover models before starting")
    add("--add-provider", nargs="+", metavar=("NAME", "URL"),
        help="add an OpenAI-compatible provider at URL (e.g. http://127.0.0.1:8080/v1), discover its "
        "models and save it; a built-in provider such as openrouter needs no URL")
    add("--list-providers", action="store_true", help="list the providers: base URL, where the key comes "
        "from (never the key) and how many models are valid, and exit")
    add("--set-key", metavar="PROVIDER", help="store PROVIDER's API key in the data directory's keys.toml "
        "(typed without echo, or read from standard input) and exit")
    add("--unset-key", metavar="PROVIDER", help="remove PROVIDER's stored API key and exit")
    add("--key-env", metavar="VAR", help="with --add-provider: the environment variable holding its key "
        "(default NAME_API_KEY; a server on this machine needs none)")
    add("--yes", action="store_true", help="with discovery: send pings that may cost more than $0.05 "
        "without asking (by the prices /models gives)")
    add("-T", "--tools", action="append", metavar="NAME", help="offer the model the tools of MCP server NAME "
        "(of <data dir>/mcp.json) for this run (repeatable; 'all': every server, 'none': no tools; default: "
        "config.toml's tools)")
    add("--approve-tools", action="store_true", help="run every tool call the model asks for in this run "
        "without asking (says so once on stderr); otherwise each is asked about in a terminal, and refused "
        "without one, unless config.toml's allowed_tools lists it")
    add("--list-tools", action="store_true", help="start the MCP servers of mcp.json, list their tools and exit")
    add("--concurrency", type=_concurrency, metavar="N",
        help=f"model pings in flight per provider during discovery (1-{MAX_CONCURRENCY}, default 16)")
    return parser


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CONCURRENCY}: {text}")
    return value


def _help_width() -> int:
    """The width argparse would give the help (COLUMNS, else the terminal's, else 80; less 2), found without
    the shutil import argparse makes for it on every flag added."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


def _number(kind: type) -> Callable[[str], Any]:
    """An argparse type: `kind` of the text (bounds are the ConfigModel's, checked when applied)."""
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
    return parse


def run(argv: Optional[List[str]] = None) -> None:
    """Console-script entry: exit with main()'s status."""
    gc.disable()  # until the run's work begins: see _start_work
    status = main(argv)
    gc.disable()  # the process ends: a last collection of what the run made would only delay the exit (~30 ms)
    if status == ExitStatus.INTERRUPTED:
        # Interrupted: worker threads may sit in a request for up to the read timeout, and the
        # interpreter would join them at exit. Everything worth keeping is already on disk.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    sys.exit(status)


class _JsonRun:
    """The --json writer of this run and its last error line: a failure anywhere still ends stdout with
    `error` and `done` (reset at each main(), which tests run many times in one process)."""

    events: Optional[Any] = None
    last_error = ""


def main(argv: Optional[List[str]] = None) -> int:
    """Run llmc and return the exit status; every failure becomes one line on stderr (and, with --json,
    an `error` then a `done` object on stdout)."""
    _JsonRun.events, _JsonRun.last_error = None, ""
    status = _main(argv)
    events = _JsonRun.events
    if events is not None and not events.done_sent:
        try:
            events.fail(_JsonRun.last_error.removeprefix("llmc: error: ").strip(), status)
        except (OSError, ValueError):  # stdout is gone: the status says what happened
            pass
    return status


def _main(argv: Optional[List[str]] = None) -> int:
    """main() without the --json ending."""
    if sys.stdout is None or sys.stderr is None:  # started with `>&-`: nowhere to put the answer
        _print_error("llmc: error: standard output or standard error is closed")
        return ExitStatus.OUTPUT_ERROR  # as for a full disk
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.help:
            print(parser.format_help(), end="", flush=True)
            return ExitStatus.OK
        if args.version:
            print(f"llmc {__version__}")
            return ExitStatus.OK
        if args.complete or args.completion:
            return _complete(args, parser)
        return _dispatch(args)
    except KeyboardInterrupt:
        _print_error("\nInterrupted.")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return ExitStatus.BROKEN_PIPE
    except OSError as exc:
        from ..base.SafeFiles import UNUSABLE_PATH_ERRNOS, unusable_path_text
        if exc.errno in UNUSABLE_PATH_ERRNOS:  # a path given on the command line or in a file: bad input
            _print_error(f"llmc: error: {unusable_path_text(exc, exc.filename)}")
            return 2
        if exc.errno not in OUTPUT_ERRNOS:
            return _internal_error(exc)
        _silence_stdout()
        _print_error(f"llmc: error: cannot write the output: {exc.strerror}")
        return ExitStatus.OUTPUT_ERROR
    except MemoryError:
        _print_error("llmc: error: out of memory (a reply or an input too large to hold?)")
        return ExitStatus.FAILED
    except Exception as exc:  # noqa: BLE001 - the one place every failure becomes a line
        from ..base.Errors import LlmcError
        if isinstance(exc, LlmcError):
            _print_error(f"llmc: error: {_without_secrets(str(exc))}")
            return exc.exit_code
        return _internal_error(exc)


def _complete(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """`--completion SHELL` (the script) or `--complete KIND` (its values), with none of the heavy imports."""
    from .Completion import complete_values, completion_script
    if args.completion:
        print(completion_script(args.completion, parser), end="", flush=True)
    else:
        print("".join(line + "\n" for line in complete_values(args.complete, args.data_directory)), end="", flush=True)
    return ExitStatus.OK


def _internal_error(exc: BaseException) -> int:
    _print_error(f"llmc: internal error: {type(exc).__name__}: {_without_secrets(str(exc))}")
    return ExitStatus.INTERNAL_ERROR


def _print_error(text: str) -> None:
    from ..base.Terminal import visible_text
    _JsonRun.last_error = visible_text(text)
    try:
        print(visible_text(text), file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """After a reader such as `head` went away, point stdout at /dev/null so exit stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _without_secrets(text: str) -> str:
    """Strip every API key this run may know of (from the environment or loaded files)."""
    from ..base.Secrets import without_known_keys
    return without_known_keys(text)


def _dispatch(args: argparse.Namespace) -> int:
    from ..base.Terminal import Terminal
    if args.json:  # from here on, a failure is told on stdout too
        from ..render.JsonEventWriter import JsonEventWriter
        _JsonRun.events = JsonEventWriter(sys.stdout, sys.stderr)
    _check_flag_combinations(args)
    terminal = Terminal()
    terminal.assume_yes = args.yes
    if _draws_one_reply(args, terminal):
        from ..render.RenderProcess import RenderProcess
        terminal.render_process = RenderProcess.start(terminal)  # started now: it loads rich while we load settings
    try:
        return _run_command(args, terminal)
    finally:
        if terminal.render_process is not None:
            terminal.render_process.close()


def _draws_one_reply(args: argparse.Namespace, terminal: "Terminal") -> bool:
    """True for a run that sends one prompt and draws its reply as Markdown on this terminal (-p, a positional
    prompt or a piped stdin; not --json, -x, --xl or -e, and no command)."""
    from ..base.Terminal import is_terminal
    prompt = args.prompt is not None or (not is_terminal(sys.stdin) and not _commands_chosen(args))
    return prompt and terminal.color and not (args.json or args.extract or args.xl or args.echo)


def _run_command(args: argparse.Namespace, terminal: "Terminal") -> int:
    """The command `args` ask for, its output on `terminal`."""
    if args.list_roles:
        return _list_roles(args.data_directory, terminal)
    if args.list_chats or args.search or args.show or args.delete or _renames_a_chat(args):
        return _saved_chats(args, terminal)  # before Config is imported: these need no settings
    from ..Config import Config
    from ..base.OutputChannel import OutputChannel
    if args.create_config:
        path, kept = Config.create_config(args.data_directory)
        held = f"Wrote the commented template into {path}, around the settings it held ({', '.join(kept)})"
        terminal.print(held if kept else f"Created {path}")
        return ExitStatus.OK
    from ..setup.RunContext import RunContext
    config = Config(data_directory=args.data_directory, model=args.model, system_prompt=args.system_prompt,
                    sassy=args.sassy, output=OutputChannel.of_terminal(terminal), concurrency=args.concurrency)
    context = RunContext(terminal, config)
    _remember_keys(context)
    plain_system_prompt = config.config.system_prompt  # what /role off goes back to
    role = _take_role(config, args)
    _apply_settings(config, args)
    if args.list_providers:
        from ..setup.ProviderListing import provider_table
        for line in provider_table(config):
            terminal.print(line)
        return ExitStatus.OK
    if args.set_key or args.unset_key:
        from ..setup.KeyCommands import KeyCommands
        keys = KeyCommands(config, terminal.print, terminal.message)
        if args.set_key:
            keys.set_key(args.set_key, sys.stdin)
        else:
            keys.unset_key(args.unset_key)
        return ExitStatus.OK
    if args.set_default_model:
        terminal.print(f"Default model set to {config.set_default_model(args.set_default_model)} "
                       f"in {config.config_path}.")
        return ExitStatus.OK
    if args.list_models:
        return _list_models(context, args.provider, args.long)
    if args.discover_models:
        return _discover(context, args, terminal.print)
    if args.add_provider:
        return _add_provider(context, args)
    # -uvm's summaries go to stderr: stdout may be a -p answer that a script reads
    if args.update_valid_models and _discover(context, args, terminal.message) == ExitStatus.INTERRUPTED:
        return ExitStatus.INTERRUPTED
    if args.shell:
        from .ShellCommand import ShellCommand
        shell = ShellCommand(config.config, terminal, config.model_source, sys.stdin)
        _start_work()
        return shell.run(" ".join(args.shell))
    toolbox = _toolbox(config, args, terminal)
    try:
        if args.list_tools:
            return _list_tools(toolbox, terminal)
        return _converse(context, args, toolbox, role, plain_system_prompt)
    finally:
        toolbox.close()


def _converse(context: "RunContext", args: argparse.Namespace, toolbox: "ToolBox",
              role: Optional["Role"] = None, plain_system_prompt: Optional[str] = None) -> int:
    """The chat, or the one prompt of -p: the run's conversation, with the tools of `toolbox` on offer;
    `plain_system_prompt`: the system prompt without the role (/role off goes back to it)."""
    from ..store.ChatSession import ChatSession
    from .PromptRunner import PromptRunner, read_prompt
    terminal, store = context.terminal, context.chat_store
    new_system_prompt = args.system_prompt is not None or args.sassy or role is not None
    resumed = _resumed_chat(context, args, new_system_prompt)
    autosave = None if args.no_save or args.echo else store  # echo mode asks no model: nothing to keep
    prompt = read_prompt(args.prompt, sys.stdin, terminal.message)
    if args.attach and prompt is None:
        from ..base.Errors import ConfigError
        raise ConfigError("-a/--attach works only with a prompt (-p or a positional prompt); "
                          "in the chat, use /attach FILE")
    if prompt is not None:
        from ..store.Attachment import Attachment
        attachments = [Attachment.read(path) for path in args.attach or []]  # all checked before sending
        if args.history_file:
            resumed = _saved_chat(context, args.history_file, new_system_prompt)
        session = resumed or ChatSession(context.settings.system_prompt, context.data_directory)
        if role is not None:
            session.mark_role(role.name, role.prompt)
        session.title = args.title
        runner = PromptRunner(context, toolbox=toolbox, approve_tools=args.approve_tools,
                              json_events=_JsonRun.events)
        _start_work()
        return runner.run(prompt, args.echo, session, autosave, show_usage=args.usage, attachments=attachments,
                          extract="last" if args.xl else "all" if args.extract else None)
    from ..chat.ChatInterface import ChatInterface
    chat = ChatInterface(context, history_file=args.history_file, clear=args.clear,
                         echo=args.echo, save=not args.no_save, resumed=resumed,
                         toolbox=toolbox, approve_tools=args.approve_tools, role=role,
                         plain_system_prompt=plain_system_prompt)
    chat.session.title = args.title
    _start_work()
    return chat.run()


def _take_role(config, args: argparse.Namespace):
    """-r NAME: the role's prompt (unless -s or --sassy), model (unless -m) and settings (flags still beat
    them) for this run; the Role, or None without -r."""
    if args.role is None:
        return None
    from ..store.Roles import load_role
    role = load_role(config.data_directory, args.role)
    settings = config.config
    if args.system_prompt is None and not args.sassy:
        settings.system_prompt = role.prompt
    if role.model and args.model is None:
        settings.model, config.model_source = role.model, role.described
    role.apply_settings(config.apply_setting)
    return role


def _list_roles(data_directory: Optional[str], terminal) -> int:
    """`--list-roles`: each role's name, where it comes from and its prompt's first words."""
    from pathlib import Path
    from .. import DEFAULT_DATA_DIRECTORY
    from ..store.Roles import role_lines
    for line in role_lines(Path(data_directory or DEFAULT_DATA_DIRECTORY).expanduser(), terminal.message):
        terminal.print(line)
    return ExitStatus.OK


def _toolbox(config, args: argparse.Namespace, terminal):
    """The MCP servers of mcp.json as this run's ToolBox, with -T's servers (else config.toml's) on.

    Nothing starts here: a server starts when its tools are first needed."""
    from ..base.OutputChannel import OutputChannel
    from ..tools.McpConfig import load_mcp_servers
    from ..tools.ToolBox import ToolBox, chosen_servers
    servers = load_mcp_servers(config.data_directory, config.warn)
    if args.tools is not None:
        names = chosen_servers(args.tools, servers, "-T/--tools")
    else:
        names = chosen_servers(config.config.tools, servers, f"{config.config_path}: field 'tools'")
    return ToolBox(servers, names, OutputChannel.of_terminal(terminal), config.config.tool_timeout)


def _list_tools(toolbox, terminal) -> int:
    """`--list-tools`: start every configured server, list its tools; status 1 if one did not start."""
    from ..tools.ToolListing import tool_list_lines
    states = toolbox.servers(start_all=True)
    for line in tool_list_lines(states, str(toolbox.configured.path)):
        terminal.print(line)
    return ExitStatus.FAILED if any(state.error for state in states) else ExitStatus.OK


def _saved_chat(context: "RunContext", name: str, new_system_prompt: bool) -> "ChatSession":
    """The chat `-f NAME` names, for a one-shot prompt that follows it up (saved as a new chat).

    A system prompt given on the command line (-s, --sassy) replaces the saved one."""
    from ..store.ChatSession import ChatSession, read_session_file
    session = ChatSession(context.settings.system_prompt, context.data_directory)
    messages = read_session_file(session.resolve_start_file(name))
    if new_system_prompt:
        messages[0] = {"role": "system", "content": context.settings.system_prompt}
    session.messages = messages
    return session


def _resumed_chat(context: "RunContext", args: argparse.Namespace,
                  new_system_prompt: bool) -> Optional["ChatSession"]:
    """The saved chat -C or --chat names, as a ChatSession that goes on saving into it; else None.

    A system prompt given on the command line (-s, --sassy) replaces the saved one."""
    if not (args.continue_chat or args.chat):
        return None
    from ..store.ChatSession import ChatSession
    store, terminal = context.chat_store, context.terminal
    chat_id = store.find(args.chat) if args.chat else store.latest(terminal.message)
    if chat_id is None:
        terminal.message(f"No saved chat in {store.directory} to continue; starting a new one.")
        return None
    summary, messages = store.load(chat_id)
    if args.model is None:
        _continue_with_model_of(context, summary.model, chat_id)
    session = ChatSession(context.settings.system_prompt, context.data_directory)
    session.resume(chat_id, messages)
    if new_system_prompt:
        session.set_system_prompt(context.settings.system_prompt)
    elif session.role_name:
        _take_saved_role(context, args, session.role_name)
    return session


def _take_saved_role(context: "RunContext", args: argparse.Namespace, name: str) -> None:
    """A resumed chat's role brings back its settings (flags still beat them); a role gone is a warning."""
    from ..base.Errors import ConfigError
    from ..store.Roles import load_role
    try:
        role = load_role(context.data_directory, name)
    except ConfigError as exc:
        context.terminal.message(f"Warning: {exc}; the chat goes on without its settings")
        return
    role.apply_settings(context.config.apply_setting)
    _apply_settings(context.config, args)


def _continue_with_model_of(context: "RunContext", model: str, chat_id: str) -> None:
    """A resumed chat goes on with the model of its last reply (as simonw/llm's -c does; -m picks another),
    unless that model cannot chat now: then with the configured one, and a note says why."""
    from ..store.ChatStore import model_to_resume
    resumed_model, note = model_to_resume(context.providers, model, context.settings.model, chat_id)
    if resumed_model is not None:
        context.settings.model, context.config.model_source = resumed_model, f"from the saved chat {chat_id}"
    if note:
        context.terminal.message(note)


def _saved_chats(args: argparse.Namespace, terminal) -> int:
    """--list-chats, --search, --show, --delete and --title (see SavedChats)."""
    from . import SavedChats
    store = SavedChats.chat_store(args.data_directory)
    if args.search:
        return SavedChats.search_chats(store, args.search, terminal)
    if args.show:
        return SavedChats.show_chat(store, args.show, terminal)
    if args.delete:
        return SavedChats.delete_chat(store, args.delete, terminal)
    if _renames_a_chat(args):
        reference = args.chat or store.latest(terminal.message)
        if reference is None:
            from ..base.Errors import ConfigError
            raise ConfigError(f"no saved chat in {store.directory} to give a title")
        return SavedChats.title_chat(store, reference, args.title, terminal)
    return SavedChats.list_chats(store, terminal)


def _commands_chosen(args: argparse.Namespace) -> List[str]:
    """The flags given that run a command and exit (no chat, no prompt)."""
    exits_at_once = [("--create-config", args.create_config), ("-l/--list-models", args.list_models),
                     ("--set-default-model", args.set_default_model is not None),
                     ("--discover-models", args.discover_models), ("--add-provider", args.add_provider),
                     ("--list-chats", args.list_chats), ("--list-tools", args.list_tools),
                     ("--list-roles", args.list_roles), ("--search", args.search is not None),
                     ("--show", args.show is not None),
                     ("--delete", args.delete is not None), ("--title", _renames_a_chat(args)),
                     ("--list-providers", args.list_providers), ("-S/--shell", args.shell is not None),
                     ("--set-key", args.set_key is not None),
                     ("--unset-key", args.unset_key is not None)]
    return [flag for flag, given in exits_at_once if given]


def _check_flag_combinations(args: argparse.Namespace) -> None:
    """Refuse empty values and flags that would be silently ignored in this combination."""
    from ..base.Errors import ConfigError
    from ..base.Terminal import is_terminal
    if args.prompt_words:
        if args.prompt is not None:
            raise ConfigError(f"-p/--prompt and a positional prompt ({' '.join(args.prompt_words)!r}) cannot "
                              "be used together: give one")
        args.prompt = " ".join(args.prompt_words)
    for flag, value in (("-d/--data-directory", args.data_directory), ("-m/--model", args.model),
                        ("--discover-models", args.discover_models), ("--provider", args.provider),
                        ("-f/--history-file", args.history_file), ("--chat", args.chat),
                        ("--set-default-model", args.set_default_model), ("--set-key", args.set_key),
                        ("--search", args.search), ("--show", args.show), ("--delete", args.delete),
                        ("--title", args.title), ("-r/--role", args.role),
                        ("--unset-key", args.unset_key)):
        if value is not None and not value.strip():
            raise ConfigError(f"{flag} needs a value, not an empty one")
    from ..base.SafeFiles import check_usable_path
    for flag, value in (("-d/--data-directory", args.data_directory), ("-f/--history-file", args.history_file)):
        if value is not None:
            check_usable_path(value, flag)
    starts = [("-p/--prompt", args.prompt is not None), ("-uvm/--update-valid-models", args.update_valid_models),
              ("-C/--continue", args.continue_chat), ("--chat", args.chat is not None),
              ("--no-save", args.no_save), ("--title", args.title is not None and not _renames_a_chat(args))]
    chosen = _commands_chosen(args)
    if chosen:
        names_a_chat = ("--chat", "-C/--continue") if _renames_a_chat(args) else ()  # --title names its chat so
        chosen += [flag for flag, given in starts if given and flag not in names_a_chat]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} cannot be used together: pick one")
    if args.tools is not None and chosen and chosen != ["--list-tools"]:
        raise ConfigError(f"-T/--tools works only with a chat or a prompt (or --list-tools), not with {chosen[0]}")
    if args.approve_tools and chosen:
        raise ConfigError(f"--approve-tools works only with a chat or a prompt, not with {chosen[0]}")
    for name in args.tools or []:
        if not name.strip():
            raise ConfigError("-T/--tools needs a server name, not an empty one")
    if args.add_provider and len(args.add_provider) > 2:
        raise ConfigError(f"--add-provider takes a NAME and an optional URL, not {len(args.add_provider)} values "
                          f"({' '.join(args.add_provider)})")
    if args.key_env is not None and not args.add_provider:
        raise ConfigError("--key-env works only with --add-provider")
    if args.json and (args.extract or args.xl):
        raise ConfigError("--json and -x/--extract cannot be used together: the events hold the whole answer")
    if args.json and (chosen or args.prompt is None and is_terminal(sys.stdin)):
        raise ConfigError("--json works only with a prompt (-p, a positional prompt or a piped stdin)"
                          + (f", not with {chosen[0]}" if chosen else ""))
    if args.usage and args.prompt is None and is_terminal(sys.stdin):
        raise ConfigError("-u/--usage works only with a prompt (-p, a positional prompt or a piped stdin); "
                          "the chat shows usage after each reply")
    resumes = [flag for flag, given in (("-C/--continue", args.continue_chat), ("--chat", args.chat),
                                        ("-f/--history-file", args.history_file)) if given]
    if len(resumes) > 1:
        raise ConfigError(f"{' and '.join(resumes)} cannot be used together: pick one chat to start from")
    if args.long and not args.list_models:
        raise ConfigError("--long works only with --list-models")
    if args.provider and not args.list_models:
        raise ConfigError("--provider works only with --list-models (use --discover-models PROVIDER to discover)")
    for flag, given in (("--force-refresh", args.force_refresh), ("--concurrency", args.concurrency)):
        if given and not (args.discover_models or args.update_valid_models):
            raise ConfigError(f"{flag} works only with --discover-models or --update-valid-models")
    if (args.extract or args.xl) and args.prompt is None and is_terminal(sys.stdin):
        raise ConfigError(f"{'--xl' if args.xl else '-x/--extract'} works only with a prompt (-p, a positional "
                          "prompt or a piped stdin); in the chat, /copy N copies code block N")
    if args.title is not None and not _renames_a_chat(args) and (args.no_save or args.echo):
        raise ConfigError("--title names the chat this run saves: not with --no-save or -e, which save none")
    if args.yes and not (args.discover_models or args.update_valid_models or args.add_provider or args.delete):
        raise ConfigError("--yes works only with --discover-models, --update-valid-models, --add-provider "
                          "or --delete")


def _renames_a_chat(args: argparse.Namespace) -> bool:
    """--title with --chat or -C and no prompt: give that saved chat a title and exit (else --title names
    the chat the run saves)."""
    return args.title is not None and bool(args.chat or args.continue_chat) and args.prompt is None


def _list_models(context: "RunContext", provider: Optional[str], long: bool = False) -> int:
    from ..base.Errors import LlmcError
    providers = context.providers
    name = None
    if provider:
        name = providers.resolve_provider_name(provider)
        if name is None:
            raise LlmcError(providers.unknown_provider_message(provider))
    for line in providers.valid_scoped_models(name, with_capabilities=long):
        context.terminal.print(line)
    return ExitStatus.OK


def _add_provider(context: "RunContext", args: argparse.Namespace) -> int:
    from ..setup.ProviderAdder import ProviderAdder
    name, url = (*args.add_provider, None)[:2]
    _start_work()
    outcome = ProviderAdder(context, context.terminal.print).add(name, url, args.key_env)
    if outcome is None:
        return ExitStatus.INTERRUPTED
    return ExitStatus.OK if outcome else ExitStatus.FAILED


def _remember_keys(context: "RunContext") -> None:
    """Tell Secrets the keys this run loaded, so no error message shows one."""
    from ..base.Secrets import remember_keys
    providers = context.providers
    remember_keys(providers[name].api_key for name in providers if providers.has_usable_key(name))


def _apply_settings(config: "Config", args: argparse.Namespace) -> None:
    """The run's --temperature and --max-tokens (ConfigError if out of bounds)."""
    for name, flag in (("temperature", "--temperature"), ("max_tokens", "--max-tokens")):
        if getattr(args, name) is not None:
            config.apply_setting(name, getattr(args, name), flag)


def _start_work() -> None:
    """The cyclic garbage collector back on once the run is set up, with what set-up made frozen out of its view:
    imports and settings make many objects that all live, so collecting while they are made only costs time (a
    tenth of the chat's start). Called before whatever may run long; nothing when the collector is on."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _discover(context: "RunContext", args: argparse.Namespace, print_line: Callable[[str], None]) -> int:
    """--discover-models and -uvm: discovery with the CLI's own progress; summaries to `print_line`."""
    _start_work()
    from ..render.ProgressDisplay import discover_with_progress
    providers = context.providers
    provider = None if args.discover_models in (None, ALL_PROVIDERS) else args.discover_models
    if provider and providers.resolve_provider_name(provider) is None:
        from ..base.Errors import LlmcError
        raise LlmcError(providers.unknown_provider_message(provider))
    ok = discover_with_progress(providers, context.terminal, context.data_directory, print_line,
                                provider_filter=provider, force_refresh=args.force_refresh)
    if ok is None:
        return ExitStatus.INTERRUPTED
    if ok and providers.found_local_providers:
        from ..setup.ProviderAdder import ProviderAdder
        ProviderAdder(context, print_line).offer_as_default(providers.found_local_providers)
    return ExitStatus.OK if ok else ExitStatus.FAILED


if __name__ == "__main__":
    run()
