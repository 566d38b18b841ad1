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

Imports sit at the top of modules, except at these lazy boundaries, which keep start-up fast (ruff's PLC0415
allows a function-level import only where it is marked `# noqa: PLC0415 - <reason>`, and in cli/CommandLine
and cli/Completion; tests/e2e/test_startup_imports.py checks what --version, --list-chats, --list-models and
the chat's start load):

    cli/CommandLine  --version and --help import argparse alone; each command imports its modules as it runs
                     (cli/Completion too: --complete reads only the file its kind needs)
    pydantic         Config and the plan's models: never for --version, --help or --list-chats
    rich             (with markdown-it and pygments) only where something is drawn on a colour terminal; for
                     -p, only in the process that draws the reply (render/RenderProcess)
    prompt_toolkit   only the chat
    requests         (urllib3) only when a request is sent: HttpClient, OpenAIChatCompletionApi, the scan
    tomlkit, ruamel  only when config.toml or the providers YAML is written
    yaml             (PyYAML) only when a YAML file is read: discovery/YamlReading, a role's front matter
    store/ChatStore  only when a run keeps or reads chats: setup/RunContext.chat_store
    sqlite3          (store/ChatIndex) only when the chats index is used: a listing, a search, a save
    mcp              (the MCP SDK, anyio, httpx) only when a tool server is first used: tools/ToolBox
"""
__version__ = "0.1.0"
DEFAULT_DATA_DIRECTORY = "~/.llm_chat_cli"  # here, so --list-chats finds it without the heavy imports
