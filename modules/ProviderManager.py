"""The one interface to providers: lookup, cross-provider model resolution, discovery, persistence."""
from __future__ import annotations

import difflib
import functools
import math
import threading
import time
from dataclasses import dataclass, field
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, Union

from .discovery.DiscoverySummary import DiscoverySummary, usd
from .base.Errors import ApiError, ConfigError, DiscoveryCancelled, InvalidModelError, KeyRefusedError, LlmcError
from .transport.HttpSettings import HttpSettings
from .discovery.LocalServerScanner import LocalServerScanner, local_ports_of
from .transport.ProviderRefusals import ProviderRefusals
from .ModelDiscoveryService import ModelDiscoveryService, PingResult
from .base.Text import one_line
from .discovery.ModelCapabilities import ModelCapabilities, capabilities_by_id, estimated_tokens, refusal_lesson
from .discovery.ModelMetadata import non_chat_reason
from .discovery.ModelPrice import ModelPrice
from .discovery.ProvidersYamlStore import ProvidersYamlStore
from .discovery.SocketOwner import FOREIGN, UNKNOWN
from .base.OutputChannel import OutputChannel, ProgressCallback
from .ProviderConfig import ProviderConfig, default_short_name

if TYPE_CHECKING:
    from .OpenAIChatCompletionApi import OpenAIChatCompletionApi

CLOSEST_SHOWN = 5
CLOSENESS_CUTOFF = 0.6  # difflib's ratio: below it a name is not offered as a guess
COST_QUESTION_THRESHOLD = 0.05  # USD: pings that may cost more in one run are asked about first
IDENTITY_FIELDS = ("name", "base_api_url", "api_key_env", "found_by_scan")  # a YAML entry's fields besides models
PERSISTED_FIELDS = (*IDENTITY_FIELDS, "valid_models")


@dataclass(frozen=True)
class ResolvedModel:
    """A model string resolved against the providers: which provider, its config, and the model's names."""

    provider: str  # the provider's id, its key in the configuration
    config: ProviderConfig = field(compare=False, repr=False)
    long_id: str
    short_name: str

    @property
    def label(self) -> str:
        """`provider/long-id`: how a reply's model is saved and the chat names the current model."""
        return f"{self.provider}/{self.long_id}"

    @property
    def display(self) -> str:
        """`provider/long-id (short)`, as model lists show it."""
        return f"{self.label} ({self.short_name})"


def split_first_slash(text: str) -> Tuple[str, str]:
    """Split "provider/model" at the first slash; ("", text) when there is none."""
    if "/" not in text:
        return "", text
    prefix, rest = text.split("/", 1)
    return prefix, rest


class ProviderManager:
    """Holds every ProviderConfig by provider name and answers all questions about them."""

    def __init__(self, providers: Dict[str, ProviderConfig], store: Optional[ProvidersYamlStore] = None,
                 discovery_service: Optional[ModelDiscoveryService] = None,
                 concurrency: Optional[int] = None, persist_exclusions: Optional[Dict[str, Set[str]]] = None,
                 persist_base: Optional[Dict[str, Dict[str, Any]]] = None,
                 report: Optional[Callable[[str], None]] = None,
                 warn: Optional[Callable[[str], None]] = None, output: Optional[OutputChannel] = None,
                 http_settings: Optional[HttpSettings] = None,
                 local_scanner: Optional[LocalServerScanner] = None) -> None:
        """`output` (or `report` and `warn`) is where discovery tells its results and notices (by default
        nowhere);
        `http_settings` are the timeouts and retries of the chat APIs handed out; `local_scanner` (a
        LocalServerScanner) finds servers on this machine for an all-provider discovery."""
        self.providers = providers
        self.http_settings = http_settings or HttpSettings()
        self.discovery_service = discovery_service or ModelDiscoveryService()
        if concurrency is not None:
            self.discovery_service.use_concurrency(concurrency)
        self.store = store
        # Models and name/URL values that came from config.toml are never copied into the YAML.
        self.persist_exclusions = persist_exclusions or {}
        self.persist_base = persist_base
        base = output or OutputChannel()
        self.output = OutputChannel(report or base.result, warn or base.notice, base.progress)
        self.discovered_prices: Dict[str, Dict[str, ModelPrice]] = {}  # by provider, to persist
        self.learnt_capabilities: Dict[str, Set[str]] = {}  # by provider: models whose capabilities to persist
        self.local_scanner = local_scanner
        # added by the last discovery's look at local ports, run by this user, root or the system: offered as default
        self.found_local_providers: List[str] = []
        self.refusals: Dict[str, ProviderRefusals] = {}  # what each provider refused in a request, by name
        self._chat_apis: Dict[str, "OpenAIChatCompletionApi"] = {}  # one per model (`provider/long-id`)

    @property
    def concurrency(self) -> int:
        """Model pings in flight per provider during discovery: the discovery service's, held there alone."""
        return self.discovery_service.concurrency

    @concurrency.setter
    def concurrency(self, concurrency: int) -> None:
        self.discovery_service.use_concurrency(concurrency)

    @property
    def report(self) -> Callable[[str], None]:
        """Where discovery results go (the output channel's `result`)."""
        return self.output.result

    @property
    def warn(self) -> Callable[[str], None]:
        """Where failures, skips and notices go (the output channel's `notice`)."""
        return self.output.notice

    # Dict-like access
    def get(self, provider_name: str) -> Optional[ProviderConfig]:
        """The provider's config, None if unknown (as dict.get)."""
        return self.providers.get(provider_name)

    def __getitem__(self, provider_name: str) -> ProviderConfig:
        """The provider's config; KeyError if unknown."""
        return self.providers[provider_name]

    def __contains__(self, provider_name: object) -> bool:
        return provider_name in self.providers

    def __iter__(self) -> Iterator[str]:
        """Provider names, in configuration order."""
        return iter(self.providers)

    def __len__(self) -> int:
        return len(self.providers)

    def keys(self) -> List[str]:
        """Provider names."""
        return list(self.providers.keys())

    def values(self) -> List[ProviderConfig]:
        """Provider configs."""
        return list(self.providers.values())

    def items(self) -> List[Tuple[str, ProviderConfig]]:
        """(name, config) pairs."""
        return list(self.providers.items())

    # Provider management
    def get_provider_config(self, provider_name: str) -> Optional[ProviderConfig]:
        """The config of a provider, None if unknown."""
        return self.providers.get(provider_name)

    def get_all_provider_names(self) -> List[str]:
        """Every configured provider name."""
        return list(self.providers)

    def resolve_provider_name(self, name: str) -> Optional[str]:
        """The configured provider matching `name` in any case, or None."""
        lowered = name.lower()
        return next((p for p in self.providers if p.lower() == lowered), None)

    def add_provider(self, provider_name: str, config: ProviderConfig) -> None:
        """Add (or replace) a provider; its name, URL and key variable are saved with its models."""
        self.providers[provider_name] = config
        if self.persist_base is not None:
            base = self.persist_base.setdefault(provider_name, {})
            base.update({"name": config.name, "base_api_url": config.base_api_url})
            if config.api_key_env:
                base["api_key_env"] = config.api_key_env
            if config.found_by_scan:
                base["found_by_scan"] = True

    def take_providers_of(self, reloaded: "ProviderManager") -> None:
        """Go on with the providers of a manager loaded afresh from the files (another llmc changed them):
        what this run learnt stays (what providers refused, prices found), chat APIs are made anew."""
        self.providers = reloaded.providers
        self.persist_exclusions = reloaded.persist_exclusions
        self.persist_base = reloaded.persist_base
        self._chat_apis.clear()

    def forget_provider(self, provider_name: str) -> None:
        """Drop a provider added in this run (e.g. one whose discovery failed); nothing is written."""
        self.providers.pop(provider_name, None)
        if self.persist_base is not None:
            self.persist_base.pop(provider_name, None)

    def unknown_provider_message(self, name: str) -> str:
        """What to tell a user who named a provider that is not configured."""
        return f"Provider '{name}' not found. Known providers: {', '.join(self.providers)}"

    # Cross-provider model resolution
    def merged_models(self) -> List[Tuple[str, Tuple[str, str]]]:
        """(provider, (long name, short name)) for every valid model of every provider."""
        merged = []
        for provider_name, provider_config in self.providers.items():
            if not isinstance(provider_config.valid_models, dict):
                continue
            for long_name, short_name in provider_config.valid_models.items():
                merged.append((provider_name, (long_name, short_name)))
        return merged

    def valid_scoped_models(self, filter_by_provider: Optional[str] = None,
                            with_capabilities: bool = False) -> List[str]:
        """Display strings "provider/long (short)" of get_available_models, of all providers or one;
        `with_capabilities` adds a column of what each model takes (tools, images, context length)."""
        models = [(provider, long_name) for provider in self.providers if filter_by_provider in (None, provider)
                  for long_name in self.get_available_models(provider)]
        names = [f"{provider}/{long_name} ({self.providers[provider].valid_models[long_name]})"
                 for provider, long_name in models]
        if not with_capabilities:
            return names
        width = max(map(len, names), default=0)
        return [f"{name:<{width}}  {self.capabilities_of(provider, long_name).summary()}"
                for name, (provider, long_name) in zip(names, models)]

    def resolve(self, model_string: str, source: str = "") -> ResolvedModel:
        """The model a model string names; InvalidModelError listing the choices, saying where a bad string
        came `source` ("from LLMC_DEFAULT_MODEL")."""
        try:
            provider_name, long_name = self._resolve(model_string)
        except InvalidModelError as exc:
            where = f" (the model {model_string!r} came {source})" if source.startswith("from ") else ""
            raise InvalidModelError(f"{exc}{where}") from None
        config = self.providers[provider_name]
        return ResolvedModel(provider_name, config, long_name, config.valid_models.get(long_name) or long_name)

    def get_api_for_model_string(self, model_string: str, source: str = "") -> Tuple[ProviderConfig, str]:
        """(ProviderConfig, long id) of a model string (see resolve)."""
        model = self.resolve(model_string, source)
        return model.config, model.long_id

    def chat_model(self, model_string: str, source: str = "") -> ResolvedModel:
        """The model a model string names, when its provider can be sent requests (InvalidModelError, or
        ConfigError for a missing key)."""
        model = self.resolve(model_string, source)
        if not model.config.is_usable():
            raise ConfigError(f"No API key for provider {model.provider}: set {self.key_variable(model.provider)} "
                              f"or [providers.{model.provider}] api_key in config.toml (a server on this "
                              "machine needs none: add one with --add-provider NAME URL)")
        return model

    def why_cannot_chat(self, model_string: str) -> Optional[str]:
        """None if `model_string` can chat now, else a short reason ("it is not a known valid model now")."""
        try:
            self.chat_model(model_string)
        except InvalidModelError:
            return "it is not a known valid model now"
        except ConfigError:
            return "its provider has no API key now"
        return None

    def chat_api(self, model: Union[ResolvedModel, str], source: str = "") -> "OpenAIChatCompletionApi":
        """The chat API of a model, one for the run (InvalidModelError, or ConfigError if its provider has no
        key); its retry waits are told to the manager's notices unless a request names its own listener."""
        from .OpenAIChatCompletionApi import OpenAIChatCompletionApi  # noqa: PLC0415 - requests: only to chat
        resolved = self.chat_model(model.label if isinstance(model, ResolvedModel) else model, source)
        api = self._chat_apis.get(resolved.label)
        if api is None or api.provider_config is not resolved.config:
            refusals = self.refusals.setdefault(resolved.provider, ProviderRefusals())
            api = OpenAIChatCompletionApi(resolved.provider, resolved.config, resolved.long_id, self.http_settings,
                                          on_wait=self.warn, refusals=refusals)
            self._chat_apis[resolved.label] = api
        return api

    def _resolve(self, model_string: str) -> Tuple[str, str]:
        """(provider name, long id) of a model string; InvalidModelError listing the choices if invalid."""
        prefix, rest = split_first_slash(model_string.strip())
        provider_name = self.resolve_provider_name(prefix) if prefix else None
        if provider_name is not None:
            long_name = _long_name_in(self.providers[provider_name].valid_models, rest)
            if long_name is not None:
                return provider_name, long_name
            # an id such as "deepseek/deepseek-r1:free" may be another provider's, prefix and all
            elsewhere = [f"{p}/{long} ({short})" for p, (long, short) in self.merged_models()
                         if model_string.strip() in (long, short)]
            raise InvalidModelError(self._invalid_model_message(
                rest, f"Invalid model for provider {provider_name}: {rest}.", provider_name, elsewhere))
        wanted = model_string.strip()
        for name, (long_name, short_name) in self.merged_models():
            if wanted in (long_name, short_name):
                return name, long_name
        head = f"Invalid model: {wanted}."
        if prefix and provider_name is None:
            head += f" ('{prefix}' is not a provider either; known: {', '.join(self.providers)}.)"
        raise InvalidModelError(self._invalid_model_message(wanted, head))

    def _invalid_model_message(self, wanted: str, head: str, provider: Optional[str] = None,
                               suggested: Iterable[str] = ()) -> str:
        choices = self.valid_scoped_models(provider)
        names: Dict[str, str] = {}
        for provider_name, (long_name, short_name) in self.merged_models():
            if provider is None or provider_name == provider:
                names.setdefault(long_name, f"{provider_name}/{long_name} ({short_name})")
                names.setdefault(short_name, f"{provider_name}/{long_name} ({short_name})")
        close = dict.fromkeys([*suggested, *(names[n] for n in closest_names(wanted, list(names)))])
        text = head
        if close:
            text += f" Did you mean: {', '.join(close)}?"
        listing = "llmc --list-models" + (f" --provider {provider}" if provider else "")
        if choices:
            text += f" {listing} lists all {len(choices)} known (/list in the chat)."
        else:
            text += " No valid models are known yet: llmc --discover-models finds them."
        return text

    def validate_model(self, model_string: str) -> str:
        """The long id a model string resolves to; InvalidModelError if invalid."""
        return self.resolve(model_string).long_id

    def get_available_models(self, filter_by_provider: Optional[str] = None) -> List[str]:
        """Long ids of the known valid models, of all providers or one."""
        models: List[str] = []
        for provider_name, provider_config in self.providers.items():
            if filter_by_provider and provider_name != filter_by_provider:
                continue
            models.extend(provider_config.get_valid_models())
        return models

    def find_model(self, name: str) -> List[Tuple[ProviderConfig, str]]:
        """(ProviderConfig, long id) of each provider whose valid models match `name`."""
        found = []
        for provider_name in self.providers:
            long_name = self.providers[provider_name].find_model(name)
            if long_name is not None:
                found.append((self.providers[provider_name], long_name))
        return found

    @classmethod
    def get_short_name(cls, long_name: str) -> str:
        """The short name for a newly discovered model: for now its long id."""
        return default_short_name(long_name)

    def model_price(self, provider_name: str, long_name: str) -> Optional[ModelPrice]:
        """What the provider's /models said the model costs (USD per million tokens), None if unknown."""
        config = self.providers.get(provider_name)
        return config.price_of(long_name) if config else None

    # Discovery
    def discover_and_validate_models(self, force_refresh: bool = False, persist_on_success: bool = True,
                                     provider_filter: Optional[str] = None,
                                     on_progress: Optional[ProgressCallback] = None,
                                     cancel: Optional[threading.Event] = None,
                                     approve_cost: Optional[Callable[[str], bool]] = None,
                                     output: Optional[OutputChannel] = None) -> bool:
        """Fetch every targeted provider's models, ping them, update the lists; persist on full success.

        This run tells `output` (default: the manager's own channel) its results, notices (rate-limit
        waits too) and progress; `on_progress` replaces the channel's progress.
        `approve_cost(question)` is asked before pings that may cost more than COST_QUESTION_THRESHOLD
        (by the prices /models gave); without it, or on a no, those providers fail unpinged.
        """
        out = output or self.output
        if on_progress is not None:
            out = OutputChannel(out.result, out.notice, on_progress)
        if provider_filter is None:
            self._add_local_servers(out)
        targets = self._discovery_targets(provider_filter, out)
        if not targets:
            return False
        summaries = self._discover_all(targets, force_refresh, out, cancel or threading.Event(), approve_cost)
        success = all(summary.error is None for summary in summaries)
        persisted = success and persist_on_success and bool(summaries)
        persist_error = self._persist_quietly(summaries) if persisted else None  # saved before anything is said
        try:
            self._report_summaries(summaries, out)
        except OSError:  # stdout is full or gone: the results are on disk, and the user is told so
            if persisted and persist_error is None:
                out.notice(f"Provider configurations persisted to {self._store_path()}")
            raise
        if persist_error is not None:
            raise persist_error
        if not success:
            failed = ", ".join(s.provider for s in summaries if s.error is not None)
            out.notice(f"Discovery failed for {failed}; nothing was saved.")
            succeeded = [s.provider for s in summaries if s.error is None]
            if succeeded:
                out.notice(f"To save the others, discover them one at a time with --discover-models NAME "
                          f"(in the chat /discover-models NAME): {', '.join(succeeded)}")
        elif persisted:
            out.notice(f"Provider configurations persisted to {self._store_path()}")
        return success

    def _persist_quietly(self, summaries: List[DiscoverySummary]) -> Optional[LlmcError]:
        """Save the discovered providers; the error instead of raising it, to be told after the results."""
        try:
            self.persist_provider_configs([s.provider for s in summaries])
        except LlmcError as exc:
            return exc
        return None

    def _add_local_servers(self, out: OutputChannel) -> None:
        """Add each model server found on this machine's default ports that no provider points at yet, unless
        another ordinary user runs it; one whose owner cannot be known is added but not offered as the default."""
        self.found_local_providers = []
        if self.local_scanner is None:
            return
        for server in self.local_scanner.scan(local_ports_of(c.base_api_url for c in self.providers.values())):
            trust = server.owner.trust if server.owner else UNKNOWN
            if server.owner is not None and trust == FOREIGN:
                out.notice(f"Not adding the server on port {server.port}: it is run by user {server.owner.user} "
                           "(not you, root or a system account), so llmc sent it nothing; if you trust it: "
                           f"llmc --add-provider NAME {server.base_url}")
            elif server.needs_key:
                out.notice(f"A server at {server.base_url} asks for a key: add it with llmc --add-provider NAME "
                          f"{server.base_url} --key-env VAR")
            elif not server.model_count:
                out.notice(f"Found a local {server.label} server at {server.base_url} with no models; "
                          "load or pull one, then discover again")
            else:
                name = self._free_provider_name(server.kind, server.port)
                self.add_provider(name, ProviderConfig(name=server.label, base_api_url=server.base_url,
                                                       found_by_scan=True))
                found = f"Found a local {server.label} server at {server.base_url}: added as provider {name}"
                if trust == UNKNOWN:
                    out.notice(f"{found}; who runs it cannot be checked, so it becomes the default only if you "
                               f"say so (llmc --set-default-model {name}/MODEL)")
                else:
                    self.found_local_providers.append(name)
                    out.notice(found)

    def _free_provider_name(self, kind: str, port: int) -> str:
        """`kind`, or `kind-PORT` when a provider has that name already."""
        return kind if self.resolve_provider_name(kind) is None else f"{kind}-{port}"

    @staticmethod
    def _report_summaries(summaries: List[DiscoverySummary], out: OutputChannel) -> None:
        """Each provider's summary: results as results, failures and undecided models as notices."""
        for summary in summaries:
            (out.notice if summary.error else out.result)(summary.line())
            undecided = summary.undecided_line()
            if undecided:
                out.notice(undecided)

    def _store_path(self) -> str:
        return str(getattr(self.store, "path", "YAML"))

    def _discovery_targets(self, provider_filter: Optional[str], out: OutputChannel) -> Optional[List[str]]:
        if provider_filter:
            name = self.resolve_provider_name(provider_filter)
            if name is None:
                out.notice(self.unknown_provider_message(provider_filter))
                return None
            candidates = [name]
        else:
            candidates = list(self.providers)
        targets = [name for name in candidates if self.is_usable(name)]
        keyless = [name for name in candidates if name not in targets]
        if provider_filter and keyless:
            out.notice(f"Skipping {keyless[0]}: no API key configured (set {self.key_variable(keyless[0])} "
                       f"or run llmc --set-key {keyless[0]})")
        elif keyless:  # the presets nobody has a key for: one line, not one each
            out.notice(f"Passed over {len(keyless)} provider{'s' if len(keyless) > 1 else ''} without an API key "
                       f"({', '.join(keyless)}); llmc --list-providers shows each one's key variable")
        if not targets:
            out.notice("Nothing to discover: no provider asked for has an API key.")
        return targets

    def has_usable_key(self, provider_name: str) -> bool:
        """True when the provider's key is set and not a placeholder."""
        return self.providers[provider_name].has_api_key()

    def is_usable(self, provider_name: str) -> bool:
        """True when requests to the provider may go out: it has a key, or is local and needs none."""
        return self.providers[provider_name].is_usable()

    def key_variable(self, provider_name: str) -> str:
        """The environment variable the provider's key comes from."""
        return self.providers[provider_name].key_variable(provider_name)

    def _discover_all(self, targets: List[str], force_refresh: bool, out: OutputChannel, cancel: threading.Event,
                      approve_cost: Optional[Callable[[str], bool]] = None) -> List[DiscoverySummary]:
        if not targets:
            return []
        pool = ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="discovery")
        try:
            summaries = _in_parallel(pool, [functools.partial(self._list_provider, name, force_refresh, out)
                                            for name in targets], cancel)
            self._check_ping_costs(summaries, approve_cost, out)
            summaries = _in_parallel(pool, [functools.partial(self._ping_provider, summary, out, cancel)
                                            for summary in summaries], cancel)
        except BaseException:
            cancel.set()
            self.discovery_service.cancel()
            raise
        finally:
            pool.shutdown(wait=not cancel.is_set(), cancel_futures=True)
        for summary in summaries:  # applied only once every provider is done, so a cancel changes nothing
            if summary.error is None:
                self.providers[summary.provider].merge_valid_models(summary.valid)
                self.providers[summary.provider].mark_invalid(summary.invalid)
                prices = {m: summary.prices[m] for m in summary.valid if m in summary.prices}
                self.providers[summary.provider].set_prices(prices)
                self.discovered_prices.setdefault(summary.provider, {}).update(prices)
                self._learn(summary.provider, {m: summary.capabilities[m] for m in summary.valid
                                               if m in summary.capabilities})
        return summaries

    def _list_provider(self, name: str, force_refresh: bool, out: OutputChannel) -> DiscoverySummary:
        """The provider's model list, and which models it leaves to ping (or the failure)."""
        config = self.providers[name]
        summary = DiscoverySummary(provider=name)
        started = time.monotonic()
        try:
            models = self.discovery_service.discover_models(config, force_refresh, provider_name=name,
                                                            warn=out.notice)
        except (ApiError, MemoryError) as exc:  # the provider's failure is a "failed:" line; a bug is not hidden as one
            summary.error = failure_text(name, exc)
            return summary
        summary.listed = list(dict.fromkeys(m["id"] for m in models))
        summary.found = len(summary.listed)
        summary.prices = _listed_prices(models)
        summary.capabilities = {**capabilities_by_id(models),
                                **self.discovery_service.native_capabilities(config, models, name)}
        summary.unknown_cost = {m["id"] for m in models if ModelPrice.is_unreadable_listing(m)}
        remembered = set(config.invalid_models) if not force_refresh else set()
        no_chat = {m["id"] for m in models if non_chat_reason(m)}
        summary.judged_by_metadata = len(no_chat)
        summary.known_invalid = remembered | no_chat
        summary.to_ping = [m for m in summary.listed if m not in summary.known_invalid]
        summary.seconds = time.monotonic() - started
        return summary

    def _check_ping_costs(self, summaries: List[DiscoverySummary],
                          approve_cost: Optional[Callable[[str], bool]], out: OutputChannel) -> None:
        """Say what the pings may cost where /models gave prices; above the threshold, send them only if approved."""
        priced = [(s, line) for s in summaries if s.error is None and (line := s.ping_cost_line())]
        for _, line in priced:
            out.notice(line)
        costly = [s for s, _ in priced if s.worst_ping_cost() > 0 or s.unknown_cost_pings()]
        total = sum(s.worst_ping_cost() for s in costly)
        unknown = sum(len(s.unknown_cost_pings()) for s in costly)
        if total <= COST_QUESTION_THRESHOLD and not unknown:  # a cost llmc cannot read is never taken as free
            return
        pings = sum(len(s.to_ping) for s in costly)
        unknown_part = f", and {unknown} of them an unknown amount (a listed price llmc cannot read)" if unknown else ""
        question = (f"The {pings} pings of {', '.join(s.provider for s in costly)} may cost up to "
                    f"{usd(total)} in all{unknown_part}. Send them?")
        if approve_cost is not None and approve_cost(question):
            return
        for summary in costly:
            unknown_here = len(summary.unknown_cost_pings())
            why = (f" and {unknown_here} of them an unknown amount" if unknown_here
                   else f", more than {usd(COST_QUESTION_THRESHOLD)} in all")
            summary.error = (f"{summary.provider}: not pinged: {len(summary.to_ping)} pings may cost up to "
                             f"{usd(summary.worst_ping_cost())}{why}; answer yes in a terminal or give --yes to "
                             "send them")

    def _ping_provider(self, summary: DiscoverySummary, out: OutputChannel,
                       cancel: threading.Event) -> DiscoverySummary:
        """Ping the models the listing left to ping, and sort them into valid, invalid and undecided."""
        if summary.error is not None:
            return summary
        name, to_ping = summary.provider, summary.to_ping
        started = time.monotonic()
        allowed = self.discovery_service.settings.discovery_timeout
        try:
            results = self._ping_all(name, self.providers[name], to_ping, out, cancel,
                                     started + allowed - summary.seconds)  # its listing took part of the time
        except KeyRefusedError as exc:
            summary.error = self._key_refused_message(name, exc)
            return summary
        except MemoryError as exc:
            summary.error = failure_text(name, exc)
            return summary
        if cancel.is_set():
            raise DiscoveryCancelled()
        summary.seconds += time.monotonic() - started
        if len(results) < len(to_ping):  # out of time: the models not pinged are left undecided
            summary.error = _out_of_time_message(name, allowed, to_ping, results)
            return summary
        summary.valid = [m for m in to_ping if results[m] is PingResult.VALID]
        summary.invalid = [m for m in summary.listed
                           if m in summary.known_invalid or results.get(m) is PingResult.INVALID]
        summary.undecided = [m for m in to_ping if results[m] is PingResult.UNDECIDED]
        return summary

    def _ping_all(self, name: str, config: ProviderConfig, models: List[str], out: OutputChannel,
                  cancel: threading.Event, ends: float) -> Dict[str, PingResult]:
        """The verdict of each model pinged before the monotonic time `ends` (pings in flight then are
        cut off and left out)."""
        from .transport.RequestDeadline import RequestDeadline  # noqa: PLC0415 - requests: only when pings go out
        results: Dict[str, PingResult] = {}
        lock = threading.Lock()
        on_progress = out.progress
        if on_progress:
            on_progress(name, 0, len(models))

        stop = threading.Event()  # once set (the key refused, or out of time), no more pings are sent
        out_of_time = threading.Event()

        def ping(model: str) -> None:
            if cancel.is_set() or stop.is_set():
                return
            try:
                with RequestDeadline(max(0.0, ends - time.monotonic())):  # cuts off a ping in flight at the end
                    result = self.discovery_service.ping_model(config, model, provider_name=name, stop=stop,
                                                               notice=out.notice)
            except KeyRefusedError:
                stop.set()
                raise
            with lock:
                if out_of_time.is_set() or time.monotonic() >= ends:  # a ping cut off at the end decides nothing
                    return
                results[model] = result
                done = len(results)
            if on_progress:
                on_progress(name, done, len(models))

        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"ping-{name}")
        futures = [pool.submit(ping, model) for model in models]
        try:
            if not _wait_interruptibly(futures, cancel, ends):
                with lock:
                    out_of_time.set()
                stop.set()
        finally:
            pool.shutdown(wait=not (cancel.is_set() or out_of_time.is_set()), cancel_futures=True)
        for future in futures:
            error = None if future.cancelled() or not future.done() else future.exception()
            if error is not None and not (cancel.is_set() or out_of_time.is_set()):
                raise error
        with lock:
            return dict(results)

    def _key_refused_message(self, name: str, exc: KeyRefusedError) -> str:
        """Why a provider whose key was refused during the pings failed, naming the key variable."""
        variable = self.providers[name].key_variable(name)
        detail = str(exc).removeprefix(f"{name}: ")
        hint = "" if variable in detail else f" (check {variable})"
        return f"{name}: the provider refused the API key while its models were pinged: {detail}{hint}"

    # Capabilities
    def capabilities_of(self, provider_name: str, long_name: str) -> ModelCapabilities:
        """What is known of what a model can take (tools, images, context length); unknown if nothing."""
        config = self.providers.get(provider_name)
        return config.capabilities_of(long_name) if config else ModelCapabilities()

    def learn_capabilities(self, provider_name: str, long_name: str, learnt: ModelCapabilities) -> None:
        """Remember what a reply taught of a model (a refusal of tools or images), saved at once where a
        providers YAML is kept; ConfigError if it cannot be saved (it is still known for this run)."""
        self._learn(provider_name, {long_name: learnt})
        if self.store is not None:
            self.persist_provider_configs([provider_name])

    def learn_from_refusal(self, provider_name: str, long_name: str, error: ApiError, sent_tools: bool,
                           sent_image: bool) -> Optional[str]:
        """The one line saying what a refused request taught of the model (a 400 naming the tools or the
        image sent), now remembered and saved; None when it teaches nothing."""
        lesson = refusal_lesson(error.status, str(error), sent_tools, sent_image)
        if lesson.is_unknown:
            return None
        kept = "remembered for this model"
        try:
            self.learn_capabilities(provider_name, long_name, lesson)
        except LlmcError as exc:
            kept = f"remembered for this run only ({exc})"
        what = "tool calls" if lesson.tools is False else "images"
        return (f"{provider_name}/{long_name} takes no {what}: the provider refused them "
                f"({one_line(str(error).removeprefix(provider_name + ': '), 160)}); {kept}")

    def refusal_before_sending(self, provider_name: str, long_name: str, tools: bool, image: bool) -> Optional[str]:
        """What to say before a request with tools or an image goes to a model known to take none (tools:
        it is asked without them; an image: it is not sent), else None."""
        known = self.capabilities_of(provider_name, long_name)
        said = "(as its provider said; see llmc --list-models --long)"
        if tools and known.tools is False:
            return f"{provider_name}/{long_name} takes no tool calls {said}: asked without tools"
        if image and known.images is False:
            return (f"{provider_name}/{long_name} takes no images {said}: not sent; pick a model that does "
                    "with -m or /model")
        return None

    def context_warning(self, provider_name: str, long_name: str, messages: List[Dict[str, Any]],
                        tools: Iterable[Dict[str, Any]] = ()) -> Optional[str]:
        """A line saying the conversation will not fit the model's known context length, else None."""
        length = self.capabilities_of(provider_name, long_name).context_length
        if length is None:
            return None
        tokens = estimated_tokens(messages, tools)
        if tokens <= length:
            return None
        return (f"This conversation is about {tokens:,} tokens, more than the {length:,} of "
                f"{provider_name}/{long_name}'s context: the provider may refuse it or drop its start "
                "(/clear starts afresh)")

    def _learn(self, provider_name: str, capabilities: Dict[str, ModelCapabilities]) -> None:
        self.providers[provider_name].set_capabilities(capabilities)
        self.learnt_capabilities.setdefault(provider_name, set()).update(capabilities)

    # Persistence
    def persist_provider_configs(self, provider_names: Optional[Iterable[str]] = None) -> None:
        """Write the providers' models to the providers YAML (never keys or runtime fields)."""
        if self.store is None:
            raise RuntimeError("no providers YAML store configured")
        names = list(provider_names) if provider_names is not None else list(self.providers)
        updates = {}
        for name in names:
            config = self.providers[name]
            excluded = self.persist_exclusions.get(name, set())
            base = (self.persist_base.get(name, {}) if self.persist_base is not None
                    else {k: getattr(config, k) for k in IDENTITY_FIELDS if getattr(config, k)})
            base_short_names = base.get("valid_models") or {}
            updates[name] = {
                **{k: v for k, v in base.items() if k in IDENTITY_FIELDS},
                "valid_models": {k: base_short_names.get(k, v) for k, v in config.valid_models.items()
                                 if k not in excluded},
                "invalid_models": list(config.invalid_models),
                "model_prices": {k: price.as_yaml() for k, price in self.discovered_prices.get(name, {}).items()
                                 if k in config.valid_models and k not in excluded},
                "model_capabilities": {k: config.capabilities_of(k).as_yaml()
                                       for k in sorted(self.learnt_capabilities.get(name, ()))
                                       if k in config.valid_models and not config.capabilities_of(k).is_unknown},
            }
        self.store.save(updates)


def _listed_prices(models: List[Dict[str, Any]]) -> Dict[str, ModelPrice]:
    """The prices a /models listing gives, by model id."""
    prices: Dict[str, ModelPrice] = {}
    for entry in models:
        price = ModelPrice.from_listing(entry)
        if price is not None:
            prices.setdefault(entry["id"], price)
    return prices


def failure_text(provider_name: str, exc: BaseException) -> str:
    """What went wrong with one provider, never empty (a MemoryError has no text of its own)."""
    if isinstance(exc, MemoryError):
        return f"{provider_name}: out of memory while reading its replies"
    return str(exc) or f"{provider_name}: {type(exc).__name__}"


def _long_name_in(valid_models: Dict[str, str], name: str) -> Optional[str]:
    if name in valid_models:
        return name
    return next((long for long, short in valid_models.items() if short == name), None)


def _in_parallel(pool: ThreadPoolExecutor, calls: List[Callable[[], DiscoverySummary]],
                 cancel: threading.Event) -> List[DiscoverySummary]:
    """Run `calls` on `pool` and return their results in order; DiscoveryCancelled if cancelled."""
    futures = [pool.submit(call) for call in calls]
    _wait_interruptibly(futures, cancel)
    if cancel.is_set():
        raise DiscoveryCancelled()
    return [f.result() for f in futures]


def _wait_interruptibly(futures: List[Future], cancel: threading.Event, ends: float = math.inf) -> bool:
    """Wait for futures in short slices so Ctrl-C reaches the main thread promptly; False if the monotonic
    time `ends` came first."""
    pending = set(futures)
    try:
        while pending and not cancel.is_set():
            if time.monotonic() >= ends:
                return False
            done, pending = wait(pending, timeout=min(0.1, max(0.0, ends - time.monotonic())),
                                 return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done if not f.cancelled()):
                return True
    except BaseException:
        cancel.set()
        raise
    return True


def _out_of_time_message(name: str, allowed: float, to_ping: List[str], results: Dict[str, PingResult]) -> str:
    """Why a provider whose pings ran out of time failed: how far it got, and what to raise."""
    counts = {verdict: sum(1 for r in results.values() if r is verdict) for verdict in PingResult}
    return (f"{name}: stopped at discovery_timeout ({allowed:g} s): {len(results)} of {len(to_ping)} models pinged "
            f"({counts[PingResult.VALID]} valid, {counts[PingResult.INVALID]} invalid), "
            f"{len(to_ping) - len(results) + counts[PingResult.UNDECIDED]} undecided and left as they were; "
            "raise discovery_timeout in config.toml to give it longer")


def closest_names(wanted: str, names: List[str]) -> List[str]:
    """The few `names` most like `wanted`, most alike first: difflib's similarity to the whole name, or to
    the start of it or of its last /-part (`gpt-4o` is like `gpt-4o-2024-08-06`, `kimi` like
    `moonshotai/Kimi-K2-Instruct`), case ignored; none below the cutoff."""
    lowered = wanted.lower()

    def likeness(name: str) -> float:
        candidate = name.lower()
        whole = difflib.SequenceMatcher(None, lowered, candidate).ratio()
        if len(lowered) < 3:
            return whole
        starts = {candidate[: len(lowered)], candidate.rsplit("/", 1)[-1][: len(lowered)]}
        return max(whole, *(0.95 * difflib.SequenceMatcher(None, lowered, start).ratio() for start in starts))
    scored = sorted(((likeness(name), name) for name in names), key=lambda pair: -pair[0])
    return [name for score, name in scored if score >= CLOSENESS_CUTOFF][:CLOSEST_SHOWN]
