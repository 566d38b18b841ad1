"""llmc entry point: parse flags, wire Config → ProviderManager → chat, map errors to exit codes."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from modules import __version__

HELP_EPILOG = "Type /help at the prompt for in-chat command help."
ALL_PROVIDERS = "__all__"


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="llmc", description="Chat with any OpenAI-compatible LLM provider from the terminal.",
        epilog=HELP_EPILOG)
    add = parser.add_argument
    add("-p", "--prompt", metavar="TEXT", help="send TEXT, stream the reply to stdout and exit "
        "('-' reads the prompt from standard input, as does a piped stdin)")
    add("-s", "--system-prompt", metavar="TEXT", help="system prompt for this run")
    add("-f", "--history-file", metavar="FILE", help="load a saved chat at start and show it")
    add("-m", "--model", metavar="MODEL", help="model: provider/model, a long id or a short name")
    add("-l", "--list-models", action="store_true", help="list the known valid models and exit (no network)")
    add("--provider", metavar="NAME", help="with --list-models: only this provider's models")
    add("-v", "--version", action="store_true", help="print the version and exit")
    add("-c", "--clear", action="store_true", help="clear the screen first")
    add("-e", "--echo", action="store_true", help="echo mode: print the prompt instead of sending it")
    add("--sassy", action="store_true", help="use the sassy system prompt")
    add("-d", "--data-directory", metavar="DIR", help="data directory (default ~/.llm_chat_cli)")
    add("--create-config", action="store_true", help="create the data directory and a default config.toml")
    add("--discover-models", nargs="?", const=ALL_PROVIDERS, metavar="PROVIDER",
        help="query providers for models, ping-test them and save the results")
    add("--force-refresh", action="store_true", help="with --discover-models: re-test every model")
    add("-uvm", "--update-valid-models", action="store_true", help="discover models before starting")
    add("--concurrency", type=_positive_int, metavar="N", help="model pings in flight per provider")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def run(argv: Optional[List[str]] = None) -> None:
    """Console-script entry: exit with main()'s status."""
    sys.exit(main(argv))


def main(argv: Optional[List[str]] = None) -> int:
    """Run llmc and return the exit status; every failure becomes one line on stderr."""
    args = build_parser().parse_args(argv)
    if args.version:
        print(f"llmc {__version__}")
        return 0
    from modules.Errors import LlmcError
    try:
        return _dispatch(args)
    except LlmcError as exc:
        print(f"llmc: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


def _dispatch(args: argparse.Namespace) -> int:
    from modules.Config import Config
    from modules.Terminal import Terminal
    terminal = Terminal()
    if args.create_config:
        path = Config.write_default_config(args.data_directory)
        terminal.print(f"Created {path}")
        return 0
    config = Config(data_directory=args.data_directory, model=args.model, system_prompt=args.system_prompt,
                    sassy=args.sassy, warn=terminal.message)
    if args.concurrency:
        config.config.concurrency = args.concurrency
        config.config.providers.concurrency = args.concurrency
    if args.list_models:
        return _list_models(config, args.provider, terminal)
    if args.discover_models or args.update_valid_models:
        status = _discover(config, args, terminal)
        if args.discover_models:
            return status
    from modules.PromptRunner import PromptRunner, read_prompt
    prompt = read_prompt(args.prompt, sys.stdin)
    if prompt is not None:
        return PromptRunner(config.config, terminal, config.http_settings(config.config)).run(prompt, args.echo)
    from modules.ChatInterface import ChatInterface
    return ChatInterface(config, terminal, history_file=args.history_file, clear=args.clear,
                         echo=args.echo).run()


def _list_models(config, provider: Optional[str], terminal) -> int:
    from modules.Errors import LlmcError
    providers = config.config.providers
    name = None
    if provider:
        name = providers.resolve_provider_name(provider)
        if name is None:
            raise LlmcError(f"unknown provider '{provider}'. Known providers: "
                              f"{', '.join(providers.get_all_provider_names())}")
    for line in providers.valid_scoped_models(name):
        terminal.print(line)
    return 0


def _discover(config, args: argparse.Namespace, terminal) -> int:
    from modules.ProgressDisplay import ProgressDisplay
    from modules.SafeFiles import ensure_directory
    ensure_directory(config.data_directory)
    providers = config.config.providers
    progress = ProgressDisplay(terminal.stderr, live=terminal.stderr_is_terminal)
    provider = None if args.discover_models in (None, ALL_PROVIDERS) else args.discover_models
    try:
        ok = providers.discover_and_validate_models(force_refresh=args.force_refresh,
                                                    provider_filter=provider, on_progress=progress)
    finally:
        progress.close()
    return 0 if ok else 1


if __name__ == "__main__":
    run()
