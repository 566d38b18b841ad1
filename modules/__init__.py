"""llmc: a terminal chat client for OpenAI-compatible providers.

The plan's six modules live at the top of the package: Config (files + environment + flags, merged once),
Types (ConfigModel, the built-in providers), ProviderConfig, ProviderManager (the one interface to
providers), ModelDiscoveryService (GET /models and pings) and OpenAIChatCompletionApi (chat requests).
Every other module lives in the room of its job; a room is a layer, and imports point down this list,
never up (tests/test_layers.py checks it, with no exceptions, and that there are no import circles):

    cli/        the command line: flags, the run's wiring, exit statuses, `-p`
    chat/       the interactive chat: the REPL, slash commands, input history, clipboard
    setup/      setting llmc up: adding providers, storing keys, listing providers
    render/     what the user sees: streamed Markdown, plain replies, progress
    store/      chats and attachments kept on disk
    tools/      tools the model may call: the MCP servers of mcp.json (beside store/, one layer)
    (core)      the plan's six modules, with discovery/: model lists, prices, metadata, the local scan
                and the providers YAML
    transport/  talking HTTP to a provider: sessions, retries, deadlines, bodies, SSE
    base/       used by all: errors, exit statuses, the terminal, safe files, TOML files, the keys file,
            secrets, text

Nothing above the core talks HTTP: the chat asks ProviderManager. Lower layers never print: they are
handed an OutputChannel or a Terminal.
"""
__version__ = "0.1.0"
DEFAULT_DATA_DIRECTORY = "~/.llm_chat_cli"  # here, so --list-chats finds it without the heavy imports
