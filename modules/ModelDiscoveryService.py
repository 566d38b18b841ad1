"""Provider API operations for discovery: list models (`GET /models`) and ping-test them."""
from __future__ import annotations

import dataclasses
import re
import threading
import time
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, Union

from .discovery.DiscoveryThrottle import DiscoveryThrottle
from .discovery.ModelCapabilities import ModelCapabilities, capabilities_by_id
from .base.Errors import ApiError, KeyRefusedError
from .ProviderConfig import MODELS_CACHE_SECONDS, ProviderConfig
from .transport.HttpSettings import HttpSettings

if TYPE_CHECKING:  # requests is imported with the client, on the first request (start-up stays light)
    from .transport.HttpClient import HttpClient

PING_MESSAGES = [{"role": "user", "content": "Hi"}]  # the shortest prompt every chat template takes
PING_TOKEN_BUDGET = 16  # GPT-5's minimum; a reply cut at it, or empty (a reasoning model), still proves chat
PING_MAX_ADJUSTED_BUDGET = 256  # a provider that asks for more room than this is left undecided
PING_ROUNDS = 3  # rounds of the HTTP client's own 429/503 retries before a ping is left undecided
MODELS_READ_TIMEOUT = 10.0  # the original client's timeout for listing models
_REFUSAL_IS_UNDECIDED = {402, 408, 409, 425, 429}  # payment, timeouts, conflicts, rate limits
_KEY_REFUSED = {401, 403}
_TOKEN_ERROR = re.compile(r"max_(?:completion_|output_)?tokens|max[ _-]?tokens|token (?:limit|budget)", re.I)
_MINIMUM = re.compile(r"(?:at least|minimum(?: value)?(?: is| of)?|>=|greater than(?: or equal to)?|"
                      r"no less than)\s*:?\s*(\d{1,6})", re.I)
MAX_MODEL_ID_CHARS = 512  # real ids are far shorter; a longer one is an attack on the providers YAML
NATIVE_PROBE_SECONDS = 5.0  # a local server's own model endpoints answer at once or not at all
MAX_OLLAMA_SHOWS = 64  # Ollama tells one model per /api/show: a bound on the requests
OLLAMA_PORT = 11434


class PingResult(str, Enum):
    """What one chat ping proved about a model."""

    VALID = "valid"          # a well-formed chat reply
    INVALID = "invalid"      # the provider refused the model for chat (4xx)
    UNDECIDED = "undecided"  # no answer: timeout, network fault, 5xx, rate limit

    def __bool__(self) -> bool:
        """True only for VALID, so `if ping_model(...)` reads as the plan's yes/no."""
        return self is PingResult.VALID


class ModelDiscoveryService:
    """Talks to a provider about its models; never about chats."""

    def __init__(self, settings: Union[HttpSettings, Callable[[], HttpSettings], None] = None,
                 on_wait: Optional[Callable[[str], None]] = None, concurrency: int = 16) -> None:
        """`settings`: HttpSettings, or a function returning them (called on the first request)."""
        self.on_wait = on_wait
        self.concurrency = max(1, concurrency)
        self.cache_duration = MODELS_CACHE_SECONDS  # how long a model list stays fresh (each config's own)
        self._settings: Union[HttpSettings, Callable[[], HttpSettings], None] = settings
        # by connection_key: what a request goes to and with, never the id() of a config object
        self._clients: Dict[Tuple[str, str, str], HttpClient] = {}
        self._throttles: Dict[Tuple[str, str, str], DiscoveryThrottle] = {}
        self._clients_lock = threading.RLock()

    @property
    def settings(self) -> HttpSettings:
        """The HTTP settings (timeouts, retries, pool size), built on first use."""
        if callable(self._settings):
            self._settings = self._settings()
        if self._settings is None:
            self._settings = HttpSettings()
        return self._settings

    def use_concurrency(self, concurrency: int) -> None:
        """Requests in flight per provider; the connection pool is sized to match so sockets are reused."""
        concurrency = max(1, concurrency)
        with self._clients_lock:
            if concurrency == self.concurrency and self.settings.pool_size >= concurrency:
                return
            self.concurrency = concurrency
            if self.settings.pool_size < concurrency:
                self._settings = dataclasses.replace(self.settings, pool_size=concurrency)
            self._close_clients()

    def client_for(self, provider_config: ProviderConfig, provider_name: str) -> "HttpClient":
        """One pooled HttpClient per connection (provider, base URL, key), reused across requests and workers."""
        from .transport.HttpClient import HttpClient  # noqa: PLC0415 - requests: only a request needs it
        key = connection_key(provider_config, provider_name)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                throttle = self.throttle_for(provider_config, provider_name)
                client = HttpClient(provider_name, provider_config.base_api_url, provider_config.key_to_send(),
                                    self.settings, on_wait=throttle.notice, sleep=throttle.back_off,
                                    key_variable=provider_config.key_variable(provider_name))
                self._clients[key] = client
            return client

    def throttle_for(self, provider_config: ProviderConfig, provider_name: str) -> DiscoveryThrottle:
        """The pacing shared by every request to one provider's connection (see DiscoveryThrottle)."""
        key = connection_key(provider_config, provider_name)
        with self._clients_lock:
            throttle = self._throttles.get(key)
            if throttle is None:
                throttle = DiscoveryThrottle(self.concurrency, on_notice=self._notify)
                self._throttles[key] = throttle
            return throttle

    def _notify(self, message: str) -> None:
        if self.on_wait is not None:
            self.on_wait(message)

    def discover_models(self, provider_config: ProviderConfig, force_refresh: bool = False,
                        provider_name: Optional[str] = None,
                        warn: Optional[Callable[[str], None]] = None) -> List[Dict[str, Any]]:
        """The provider's model list, from the cache while fresh (its `cache_duration`); ApiError if it cannot be had.

        `provider_name` is the provider's key (it names the key variable; default: its display name).
        Entries without an `id` are left out, and `warn` (default: the service's `on_wait`) is told how
        many once; rate-limit waits of this request are told to it too.
        """
        provider_name = provider_name or provider_config.name
        warn = warn or self._notify
        if (not force_refresh and provider_config._cached_models and provider_config._cache_timestamp
                and time.time() - provider_config._cache_timestamp < provider_config.cache_duration):
            return provider_config._cached_models
        client = self.client_for(provider_config, provider_name)
        try:
            throttle = self.throttle_for(provider_config, provider_name)
            with throttle.slot():
                body = client.get_json("/models", read_timeout=min(self.settings.read_timeout, MODELS_READ_TIMEOUT),
                                       on_wait=throttle.notices_to(warn))
        except ApiError as exc:
            raise _with_v1_hint(exc, provider_config.base_api_url) from None
        models = _models_with_ids(provider_name, body, client.safe_line, warn)
        provider_config._cached_models = models
        provider_config._cache_timestamp = time.time()
        return models

    def validate_model(self, provider_config: ProviderConfig, model: str, provider_name: Optional[str] = None) -> bool:
        """True when `model` answers a tiny chat (the plan's yes/no; discovery uses ping_model's three answers):
        a refusal, a refused key or no answer at all is False."""
        try:
            return self.ping_model(provider_config, model, provider_name) is PingResult.VALID
        except ApiError:
            return False

    def validate_api_key(self, provider_config: ProviderConfig) -> bool:
        """True when the provider has a key configured: not empty, blank or a `…not-configured` placeholder
        (whether the provider takes it shows at the first request)."""
        return provider_config.has_api_key()

    def ping_model(self, provider_config: ProviderConfig, model: str, provider_name: Optional[str] = None,
                   stop: Optional[threading.Event] = None,
                   notice: Optional[Callable[[str], None]] = None) -> PingResult:
        """Send a tiny chat the way a real chat of `model` is sent, and classify the answer.

        `provider_name` is the provider's key (it names the key variable; default: its display name).
        KeyRefusedError when the provider refuses the key (401/403): that says nothing of the model.
        A ping whose turn comes after `stop` is set is not sent (undecided). Rate-limit waits are told
        to `notice` (default: the service's `on_wait`).
        """
        from .OpenAIChatCompletionApi import build_request_body  # noqa: PLC0415 - requests
        provider_name = provider_name or provider_config.name
        client = self.client_for(provider_config, provider_name)
        throttle = self.throttle_for(provider_config, provider_name)
        body = build_request_body(model, PING_MESSAGES, stream=False, max_tokens=PING_TOKEN_BUDGET)
        for round_number in range(1, PING_ROUNDS + 1):
            waits = throttle.waits
            try:
                with throttle.slot():
                    if stop is not None and stop.is_set():
                        return PingResult.UNDECIDED
                    reply = self._post_ping(client, body, throttle.notices_to(notice or self._notify))
                break
            except ApiError as exc:
                if exc.status in _KEY_REFUSED:
                    raise KeyRefusedError(str(exc), status=exc.status) from None
                # Still rate limited after the client's retries: go round again, paced by the shared
                # pause, unless the provider asked for a wait too long to honour (no pause was taken).
                if exc.retryable and throttle.waits > waits and round_number < PING_ROUNDS:
                    continue
                throttle.succeeded()
                return _verdict_of_refusal(exc)
        throttle.succeeded()
        return PingResult.VALID if _is_chat_reply(reply) else PingResult.UNDECIDED

    @staticmethod
    def _post_ping(client: Any, body: dict, on_wait: Callable[[str], None]) -> Any:
        """POST the ping; once more, adjusted, if the provider refuses its token limit (field or size)."""
        try:
            return client.post_json("/chat/completions", body, limit="ping_timeout", on_wait=on_wait)
        except ApiError as exc:
            retry_body = adjusted_token_limit(body, exc)
            if retry_body is None:
                raise
            return client.post_json("/chat/completions", retry_body, limit="ping_timeout", on_wait=on_wait)

    def native_capabilities(self, provider_config: ProviderConfig, models: List[Dict[str, Any]],
                            provider_name: Optional[str] = None) -> Dict[str, ModelCapabilities]:
        """What a local server's own endpoints say its models can take, by id: llama.cpp's /props,
        LM Studio's /api/v0/models, Ollama's /api/show. {} for any other provider, or when they do not answer."""
        if not provider_config.is_local():
            return {}
        from .transport.HttpClient import HttpClient  # noqa: PLC0415 - requests
        root = provider_config.base_api_url.rstrip("/").removesuffix("/v1")
        settings = dataclasses.replace(self.settings, max_retries=0, models_timeout=NATIVE_PROBE_SECONDS,
                                       reply_timeout=NATIVE_PROBE_SECONDS)
        client = HttpClient(provider_name or provider_config.name, root, provider_config.key_to_send(), settings,
                            key_variable=provider_config.key_variable(provider_name or provider_config.name))
        owners = {m.get("owned_by") for m in models}
        ids = [m["id"] for m in models]
        try:
            if "llamacpp" in owners:
                props = ModelCapabilities.from_llamacpp_props(client.get_json("/props"))
                return {} if props.is_unknown else {model: props for model in ids}
            if "organization_owner" in owners:
                listing = client.get_json("/api/v0/models")
                entries = listing.get("data") if isinstance(listing, dict) else None
                return capabilities_by_id(e for e in entries or [] if isinstance(e, dict)
                                          and isinstance(e.get("id"), str) and e["id"] in ids)
            if "library" in owners or provider_config.base_api_url.rstrip("/").endswith(f":{OLLAMA_PORT}/v1"):
                shown = {m: ModelCapabilities.from_ollama_show(client.post_json("/api/show", {"model": m}))
                         for m in ids[:MAX_OLLAMA_SHOWS]}
                return {m: known for m, known in shown.items() if not known.is_unknown}
        except ApiError:
            return {}  # not the server its listing suggested, or too old to say: nothing is known
        finally:
            client.close()
        return {}

    def cancel(self) -> None:
        """Wake workers waiting for a rate-limit pause so a cancelled discovery ends promptly."""
        with self._clients_lock:
            for throttle in self._throttles.values():
                throttle.close()
            self._close_clients()

    def close(self) -> None:
        """Release pooled connections."""
        with self._clients_lock:
            self._close_clients()

    def _close_clients(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._throttles.clear()


def _models_with_ids(provider_name: str, body: Any, safe_line: Callable[[str], str],
                     warn: Callable[[str], None]) -> List[Dict[str, Any]]:
    """The entries of a /models reply that carry an id llmc can save; ApiError when there are none."""
    models = body if isinstance(body, list) else body.get("data") if isinstance(body, dict) else None
    if not isinstance(models, list):  # {"data": [...]} as OpenAI sends it, or a bare list as Together does
        reason = "the /models reply has no 'data' list"
        if isinstance(body, dict) and body.get("error"):
            from .transport.HttpClient import provider_error_text  # noqa: PLC0415 - requests
            reason += f"; the provider says: {provider_error_text(body['error'])}"
        raise ApiError(safe_line(f"{provider_name}: {reason}"))
    if not models:
        raise ApiError(f"{provider_name}: the /models reply lists no models")
    with_ids = [m for m in models if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
    if not with_ids:
        raise ApiError(f"{provider_name}: the /models reply has no entry with an 'id'")
    usable = [m for m in with_ids if is_sane_model_id(m["id"])]
    if not usable:
        raise ApiError(f"{provider_name}: the /models reply has no model id llmc can use ({len(with_ids)} with "
                       "spaces at either end, control characters, lone surrogates or absurd length)")
    _warn_skipped(provider_name, len(models) - len(with_ids), len(with_ids) - len(usable), warn)
    return usable


def is_token_limit_error(error: ApiError) -> bool:
    """A 400 about the token-limit field or its size: the request's fault, not the model's."""
    return error.status == 400 and bool(_TOKEN_ERROR.search(str(error)))


def adjusted_token_limit(body: dict, error: ApiError) -> Optional[dict]:
    """The ping body fixed for a 400 about its token limit: the other field, or the minimum asked for.

    None when the error is not about the token limit, or asks for more than a ping may spend.
    """
    from .OpenAIChatCompletionApi import swap_token_limit  # noqa: PLC0415 - requests
    swapped = swap_token_limit(body, error)
    if swapped is not None or not is_token_limit_error(error):
        return swapped
    field = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    minimum = _MINIMUM.search(str(error))
    if minimum is None:  # the field itself refused without naming another: try the other one
        other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
        return {**{k: v for k, v in body.items() if k != field}, other: body[field]}
    wanted = int(minimum.group(1))
    if not body[field] < wanted <= PING_MAX_ADJUSTED_BUDGET:
        return None
    return {**body, field: wanted}


def _verdict_of_refusal(error: ApiError) -> PingResult:
    """A 4xx refusal of the model is invalid; a token-limit quarrel, payment, rate limits and 5xx decide nothing."""
    refused = error.status is not None and 400 <= error.status < 500 and error.status not in _REFUSAL_IS_UNDECIDED
    return PingResult.INVALID if refused and not is_token_limit_error(error) else PingResult.UNDECIDED


def _with_v1_hint(error: ApiError, base_url: str) -> ApiError:
    """A 404 on /models of a URL without /v1 says to try it with /v1 (most local servers want it)."""
    if error.status != 404 or base_url.rstrip("/").endswith("/v1"):
        return error
    return ApiError(f"{error} (no /v1 at the end of the URL: try {base_url.rstrip('/')}/v1)",
                    status=error.status, retryable=error.retryable)


def connection_key(provider_config: ProviderConfig, provider_name: str) -> Tuple[str, str, str]:
    """What identifies a provider connection: its name, base URL and the key sent."""
    return provider_name, provider_config.base_api_url, provider_config.key_to_send()


def is_sane_model_id(model_id: str) -> bool:
    """True for an id llmc can save, read back and be given with -m or as the default (the one rule of which
    ids are kept): no spaces at either end (-m drops them), printable (no control characters, line or
    paragraph separators, lone surrogates) and at most MAX_MODEL_ID_CHARS long."""
    return (0 < len(model_id) <= MAX_MODEL_ID_CHARS and model_id.isprintable()
            and model_id == model_id.strip())


def _warn_skipped(provider_name: str, without_id: int, unusable: int, warn: Callable[[str], None]) -> None:
    """One line saying how many /models entries were left out, and why."""
    reasons = []
    if without_id:
        reasons.append((without_id, "without an 'id'"))
    if unusable:
        reasons.append((unusable, "with an id llmc cannot use (spaces at either end, control characters, "
                                  f"line separators, lone surrogates or over {MAX_MODEL_ID_CHARS} characters)"))
    if not reasons:
        return
    total = without_id + unusable
    entries = f"{total} /models entr{'y' if total == 1 else 'ies'}"
    if len(reasons) == 1:
        warn(f"{provider_name}: skipped {entries} {reasons[0][1]}")
    else:
        warn(f"{provider_name}: skipped {entries}: " + ", ".join(f"{n} {why}" for n, why in reasons))


def _is_chat_reply(reply: Any) -> bool:
    """A chat completion with at least one choice carrying an assistant message."""
    try:
        message = reply["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return False
    return isinstance(message, dict)
