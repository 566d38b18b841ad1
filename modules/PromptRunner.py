"""One-shot mode (`-p`): send one prompt, stream the answer to stdout, exit with a status."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from .Errors import INCOMPLETE_MARKER, ConfigError, IncompleteReplyError
from .ProviderConfig import ProviderConfig
from .Terminal import Terminal, is_terminal, visible_text


def resolve_model_string(providers: Any, model_string: str, source: str = "") -> Tuple[str, str]:
    """(provider name, long id); ConfigError listing the choices, and where a bad string came from."""
    try:
        return providers.resolve_model(model_string)
    except ValueError as exc:
        where = f" (the model {model_string!r} came {source})" if source.startswith("from ") else ""
        raise ConfigError(f"{exc}{where}") from None


def resolve_chat_model(config_model: Any, model_string: str, source: str = "") -> Tuple[str, ProviderConfig, str]:
    """(provider name, its config, long id) for a model string whose provider has a usable key.

    `source` says where the string came from ("from LLMC_DEFAULT_MODEL"), for the error message."""
    providers = config_model.providers
    provider_name, long_name = resolve_model_string(providers, model_string, source)
    provider_config = providers[provider_name]
    if not providers.is_usable(provider_name):
        raise ConfigError(f"No API key for provider {provider_name}: set {providers.key_variable(provider_name)} "
                          f"or [providers.{provider_name}] api_key in config.toml")
    return provider_name, provider_config, long_name


def make_reply_writer(terminal: Terminal) -> Any:
    """A live markdown renderer on a colour terminal, else a plain writer."""
    if terminal.color:
        from .MarkdownStreamRenderer import MarkdownStreamRenderer
        return MarkdownStreamRenderer(terminal.console())
    from .PlainReplyWriter import PlainReplyWriter
    return PlainReplyWriter(terminal.stdout, terminal.stderr)


def stream_reply(api: Any, messages: List[dict], writer: Any, terminal: Terminal, stream: bool = True) -> str:
    """Show a reply (streamed, or whole when `stream` is off) in `writer`; return the answer.

    Partial replies end marked and are re-raised."""
    writer.on_waiting(f"waiting for {api.model}…")
    saved_notices = api.on_wait
    api.on_wait = lambda notice: writer.on_warning(visible_text(notice))  # above the live region
    try:
        with terminal.keys_not_echoed():
            for kind, text in api.stream_chat(messages) if stream else api.complete_events(messages):
                text = visible_text(text)  # a reply never drives the terminal
                if kind == "content":
                    writer.on_content(text)
                elif kind == "reasoning":
                    writer.on_reasoning(text)
                else:
                    writer.on_warning(f"Warning: {text}")
    except IncompleteReplyError as exc:
        writer.abort(INCOMPLETE_MARKER if writer.text else None)  # nothing arrived: nothing to mark
        raise exc
    except BaseException:
        writer.abort()
        raise
    finally:
        api.on_wait = saved_notices
    if not writer.text.strip():
        writer.on_warning("Warning: the model returned no answer text")
    writer.finish()
    return writer.text


class PromptRunner:
    """Runs `llmc -p`: resolves the model, sends the prompt, writes the answer."""

    def __init__(self, config_model: Any, terminal: Terminal, http_settings: Any, model_source: str = "") -> None:
        self.config_model = config_model
        self.terminal = terminal
        self.http_settings = http_settings
        self.model_source = model_source

    def run(self, prompt: str, echo: bool = False, history: Optional[List[dict]] = None) -> int:
        """Send `prompt` after `history` (a loaded chat, if any), or print it in echo mode; the exit status."""
        if not prompt.strip():
            raise ConfigError("empty prompt: nothing to send")
        if echo:
            self.terminal.print(prompt)
            return 0
        provider_name, provider_config, model = resolve_chat_model(self.config_model, self.config_model.model,
                                                                   self.model_source)
        from .OpenAIChatCompletionApi import OpenAIChatCompletionApi
        api = OpenAIChatCompletionApi(provider_name, provider_config, model, self.http_settings,
                                      on_wait=self.terminal.message,
                                      temperature=self.config_model.temperature,
                                      max_tokens=self.config_model.max_tokens)
        messages = list(history or [{"role": "system", "content": self.config_model.system_prompt}])
        messages.append({"role": "user", "content": prompt})
        stream_reply(api, messages, make_reply_writer(self.terminal), self.terminal, self.config_model.stream)
        return 0


def read_prompt(argument: Optional[str], stdin: Any) -> Optional[str]:
    """The prompt text: the -p argument, stdin for `-p -` or when stdin is piped, else None.

    A prompt and a piped stdin together make one message: the prompt, a blank line, the piped text."""
    if argument == "-" or (argument is None and not is_terminal(stdin)):
        return _read_stdin(stdin)
    if argument is not None and not is_terminal(stdin):
        piped = _read_stdin(stdin)
        return f"{argument}\n\n{piped}" if piped.strip() else argument
    return argument


def _read_stdin(stdin: Any) -> str:
    try:
        return stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the prompt from standard input: {exc}") from None
