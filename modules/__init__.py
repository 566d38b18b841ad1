"""llmc: a terminal chat client for OpenAI-compatible providers.

`modules/` is flat, one class per module; this page says which room each module belongs to.
Imports point down this list, or sideways within a layer, never up (tests/test_layers.py checks it):

Chat UI and rendering (the top: what the user sees and types)
    CommandLine (flags, wiring, exit statuses) · ChatInterface (the REPL) · ChatControls (what the
    slash commands may do to the chat) · CommandHandler (the slash commands) · ChatSession (a chat's
    messages, saved and loaded) · ChatStore (chats autosaved as they go) · InputHistory ·
    MessageRecall · Clipboard · Attachment · PromptRunner (`-p`) · ReplyStreaming (a reply shown as it arrives) · MarkdownStreamRenderer ·
    MarkdownBlockSplitter · MarkdownTableElement · PlainReplyWriter · ProgressDisplay · ProviderAdder (`--add-provider`)

The core of the plan (providers, models, settings)
    Config (files + environment + flags, built once) · Types (ConfigModel, built-in providers) ·
    ProviderManager (the one interface to providers; hands out the chat API) · ProviderConfig ·
    ProviderEntryShape (what a provider entry of a file may hold) · ProvidersYamlStore · ModelDiscoveryService · DiscoverySummary · DiscoveryThrottle ·
    ModelMetadata · ModelPrice · LocalServerScanner · HttpSettings

Transport (talking to a provider)
    OpenAIChatCompletionApi (chat requests, reply events) · HttpClient (sessions, retries, errors) ·
    BodyReader · RequestDeadline · SseParser · SurrogateJoiner · TokenUsage

Foundation (used by every layer, importing none of the others)
    Errors · ExitStatus · OutputChannel (the channel lower layers tell the user through) · Terminal
    (the one output object, httpie-Environment style) · SafeFiles · Secrets

Two exceptions: transport may use the plan's plain data models ProviderConfig and HttpSettings, and
the chat UI never imports the HTTP layer (HttpClient, OpenAIChatCompletionApi): it asks
ProviderManager. Lower layers never print: they are handed an OutputChannel or a Terminal.
"""
__version__ = "0.1.0"
DEFAULT_DATA_DIRECTORY = "~/.llm_chat_cli"  # here, so --list-chats finds it without the heavy imports
