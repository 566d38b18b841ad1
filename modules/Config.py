"""Loads config.toml, the built-in providers, the providers YAML and the environment into a ConfigModel."""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from pydantic import ValidationError

from .base.Errors import ConfigError, file_write_error
from .base.KeysFile import KeysFile
from .transport.HttpSettings import HttpSettings
from .discovery.LocalServerScanner import LocalServerScanner
from .ModelDiscoveryService import ModelDiscoveryService
from .base.OutputChannel import OutputChannel
from .ProviderConfig import ProviderConfig, environment_key_variable, is_configured_key
from .discovery.ProviderEntryShape import ProviderEntryShape
from .ProviderManager import PERSISTED_FIELDS, ProviderManager, ResolvedModel
from .discovery.ProvidersYamlStore import YAML_FILE_NAME, ProvidersYamlStore
from .base.SafeFiles import (atomic_write_text, ensure_directory, file_stamp, is_readable_by_others, read_text_file,
                             refuse_read_only)
from .base.TomlFile import load_toml_file, toml_string
from .base.Secrets import MIN_SECRET_LENGTH
from .Types import (DEFAULT_DATA_DIRECTORY, PROVIDER_DATA, SASSY_SYSTEM_PROMPT, SettingValue, TomlScalar,
                           ConfigModel)

CONFIG_FILE_NAME = "config.toml"


def merge_dicts(base: Dict[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    """Merge `override` into `base` recursively (later wins), skipping None values."""
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_dicts(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def default_data_directory() -> Path:
    """`~/.llm_chat_cli`."""
    return Path(DEFAULT_DATA_DIRECTORY).expanduser()


def write_toml_setting(path: Path, key: str, value: TomlScalar) -> None:
    """Set the top-level `key` of a TOML file, keeping its comments and other settings.

    Atomic, the file's mode kept (0600 for a new one); ConfigError, the file untouched, if it
    cannot be read or parsed, WriteError if it is read-only."""
    text = read_text_file(path, "config file")
    refuse_read_only(path)
    import tomlkit  # noqa: PLC0415 - tomlkit: only writing a setting needs it
    try:
        document = tomlkit.parse(text or "")
        document[key] = value
        new_text = tomlkit.dumps(document)
    except (tomlkit.exceptions.TOMLKitError, ValueError) as exc:  # ParseError is a ValueError too
        raise ConfigError(f"{path}: {exc}; not changed") from None
    try:
        atomic_write_text(path, new_text, mode=0o600)
    except OSError as exc:
        raise file_write_error(f"cannot write {path}: {exc.strerror or exc}", exc) from None


class Config:
    """The merged configuration of one run; `config.config` is the ConfigModel."""

    def __init__(self, data_directory: Optional[os.PathLike | str] = None, model: Optional[str] = None,
                 system_prompt: Optional[str] = None, sassy: bool = False,
                 update_valid_models: bool = False,
                 environ: Optional[Mapping[str, str]] = None,
                 warn: Optional[Callable[[str], None]] = None,
                 report: Optional[Callable[[str], None]] = None, concurrency: Optional[int] = None,
                 output: Optional[OutputChannel] = None) -> None:
        """`model`, `system_prompt`, `sassy` and `concurrency` are the command line's overrides; `output`
        (or `warn` for notices, `report` for discovery results) is where it tells the user things, by
        default nowhere. `update_valid_models` discovers every provider's models once loaded (the outcome,
        True or False, is `valid_models_updated`); the command line runs its own, with progress."""
        self.environ = os.environ if environ is None else environ
        output = output or OutputChannel()
        report = report or output.result
        self._notice = warn or output.notice
        self.warn = _once_each(self._notice)  # a problem of a file is told once, however often it is read
        self.data_directory = Path(data_directory).expanduser() if data_directory else default_data_directory()
        self.config_path = self.data_directory / CONFIG_FILE_NAME
        self.store = ProvidersYamlStore(self.data_directory / YAML_FILE_NAME)
        self.keys_file = KeysFile(self.data_directory)
        self.key_sources: Dict[str, str] = {}  # provider -> where its key came from, e.g. "config.toml"
        self.model_source = ""  # where the model came from, e.g. "from LLMC_DEFAULT_MODEL"; set below
        self._load_arguments = (model, system_prompt, sassy, report, concurrency)
        self._yaml_stamp = file_stamp(self.store.path)
        self.config = self.load_config(*self._load_arguments)
        self.valid_models_updated: Optional[bool] = None
        if update_valid_models:
            self.valid_models_updated = self.config.providers.discover_and_validate_models()

    def reload_providers_if_changed(self) -> bool:
        """Take in the providers YAML again if another llmc changed it since; True if it did.

        ConfigError (and the providers kept as they were) if the changed file cannot be used."""
        stamp = file_stamp(self.store.path)
        if stamp == self._yaml_stamp:
            return False
        self._yaml_stamp = stamp  # a file that cannot be used is reported once, not at every keystroke
        self.config.providers.take_providers_of(self.load_config(*self._load_arguments).providers)
        return True

    def apply_setting(self, name: str, value: SettingValue, source: str) -> None:
        """Set one setting for this run (a flag, a chat command); ConfigError naming `source` if out of bounds."""
        try:
            setattr(self.config, name, value)
        except ValidationError as exc:
            raise ConfigError(f"{source} {value}: {exc.errors()[0].get('msg')}") from None

    def set_default_model(self, model_string: str) -> str:
        """Write `model_string` as config.toml's `model`; its `provider/long-id` (InvalidModelError if unknown)."""
        model = self.config.providers.resolve(model_string)
        label = model.label
        ensure_directory(self.data_directory)
        write_toml_setting(self.config_path, "model", label)
        self._say_why_it_cannot_chat(model)
        override = self.environ.get("LLMC_DEFAULT_MODEL")
        if override:
            self.warn(f"Note: LLMC_DEFAULT_MODEL={override} still overrides it while it is set")
        return label

    def _say_why_it_cannot_chat(self, model: ResolvedModel) -> None:
        """A note, at once, when the new default model cannot chat now (ProviderManager.why_cannot_chat's rule)."""
        why = self.config.providers.why_cannot_chat(model.label)
        if why is None:
            return
        hint = "" if model.config.is_usable() else f" (set {model.config.key_variable(model.provider)})"
        self.warn(f"Note: {model.label} cannot chat now: {why}{hint}; it is the default all the same")

    def load_config(self, model: Optional[str], system_prompt: Optional[str], sassy: bool,
                    report: Optional[Callable[[str], None]], concurrency: Optional[int] = None) -> ConfigModel:
        """Run the loading sequence and build the ConfigModel (command-line overrides applied first)."""
        if self.data_directory.exists() and not self.data_directory.is_dir():
            raise ConfigError(f"data directory {self.data_directory} is not a directory")
        file_data = load_toml_file(self.config_path)
        if not isinstance(file_data.get("providers", {}), dict):
            raise ConfigError(f"{self.config_path}: 'providers' must be a table of [providers.NAME]")
        providers_overrides = file_data.pop("providers", {})  # set aside: applied after the YAML
        ProviderEntryShape(self.config_path, self.warn).check(providers_overrides)
        self._warn_if_exposed(self.config_path, providers_overrides)
        providers = self._built_in_and_yaml_providers()
        # What is persisted is what the files held before config.toml: its overrides stay its own.
        persist_base = {name: {k: copy.deepcopy(entry[k]) for k in PERSISTED_FIELDS if k in entry}
                        for name, entry in providers.items()}
        _apply_overrides(providers, providers_overrides)
        exclusions = {name: set(entry.get("valid_models") or {})
                      - set(persist_base.get(name, {}).get("valid_models") or {})
                      for name, entry in providers_overrides.items()}
        _check_distinct_names(providers, self.config_path)
        self.key_sources = {name: "config.toml" if is_configured_key(providers_overrides.get(name, {}).get("api_key"))
                            else "providers YAML" for name, entry in providers.items()
                            if is_configured_key(entry.get("api_key"))}
        self._apply_environment_keys(providers)
        self._apply_stored_keys(providers)
        settings = self._settings(file_data, model, system_prompt, sassy)
        if concurrency is not None:
            settings["concurrency"] = concurrency
        config_model = self._config_model(settings)
        http_settings = self.http_settings(config_model)
        config_model.providers = ProviderManager(
            self._provider_configs(providers), store=self.store,
            discovery_service=ModelDiscoveryService(http_settings, on_wait=self.warn,
                                                    concurrency=config_model.concurrency),
            persist_exclusions=exclusions, persist_base=persist_base,
            report=report, warn=self._notice, http_settings=http_settings,
            local_scanner=LocalServerScanner.from_environment())
        return config_model

    def _built_in_and_yaml_providers(self) -> Dict[str, Dict[str, Any]]:
        """PROVIDER_DATA with the providers YAML merged over it."""
        providers = copy.deepcopy(PROVIDER_DATA)
        yaml_providers = self.store.load_providers(warn=self.warn)  # each entry checked by the store
        self._warn_if_exposed(self.store.path, yaml_providers)
        merge_dicts(providers, yaml_providers)
        for entry in providers.values():  # a model the YAML remembers as invalid beats a built-in one
            _drop_models(entry, "valid_models", entry.get("invalid_models"))
        return providers

    def _config_model(self, settings: Dict[str, Any]) -> ConfigModel:
        """The ConfigModel of `settings` (its providers are set by the caller)."""
        try:
            return ConfigModel(**settings, data_directory=str(self.data_directory))
        except ValidationError as exc:
            raise ConfigError(f"{self.config_path}: {_first_error(exc)}") from None

    def _settings(self, file_data: Dict[str, Any], model: Optional[str], system_prompt: Optional[str],
                  sassy: bool) -> Dict[str, Any]:
        known = ConfigModel.file_settings()
        for key in list(file_data):
            if key not in known:
                self.warn(f"Warning: {self.config_path}: unknown setting '{key}' ignored")
                del file_data[key]
        settings = dict(file_data)
        settings["model"], self.model_source = self._chosen_model(model, file_data.get("model"))
        if system_prompt is None and not sassy and not file_data.get("sassy"):
            system_prompt = self.environ.get("LLMC_SYSTEM_PROMPT")
        if sassy:
            settings["sassy"] = True
        if system_prompt is not None:
            settings["system_prompt"] = system_prompt
        elif settings.get("sassy") is True:
            settings["system_prompt"] = SASSY_SYSTEM_PROMPT
        return settings

    def _chosen_model(self, flag_model: Optional[str], file_model: Any) -> tuple[Any, str]:
        """The model of this run and where it came from: -m, LLMC_DEFAULT_MODEL, config.toml or built in."""
        if isinstance(file_model, str) and not file_model.strip():
            raise ConfigError(f"{self.config_path}: field 'model' must not be empty (leave it out for the default)")
        candidates = ((flag_model, "from -m/--model"),
                      (self.environ.get("LLMC_DEFAULT_MODEL"), "from LLMC_DEFAULT_MODEL"),
                      (file_model, f"from {self.config_path}"))
        return next(((value, source) for value, source in candidates if value),
                    (ConfigModel.model_fields["model"].default, "the built-in default"))

    def _warn_if_exposed(self, path: Path, providers: Dict[str, Any]) -> None:
        """A warning when a file holding a key can be read by other users."""
        if not is_readable_by_others(path):
            return
        if any(_looks_like_secret(entry.get("api_key")) for entry in providers.values()):
            self.warn(f"Warning: {path} holds API keys and is readable by others; run: chmod 600 {path}")

    def _apply_environment_keys(self, providers: Dict[str, Dict[str, Any]]) -> None:
        """A provider's key variable fills the key the files leave empty (it wins over the keys file)."""
        for name, entry in providers.items():
            variable = environment_key_variable(name, entry.get("api_key_env") or "",
                                                entry.get("found_by_scan") is True)
            value = self.environ.get(variable) if variable else None
            if value and not is_configured_key(entry.get("api_key")):
                entry["api_key"] = value
                self.key_sources[name] = f"environment ({variable})"  # told by /config, not at every start

    def _apply_stored_keys(self, providers: Dict[str, Dict[str, Any]]) -> None:
        """keys.toml's key (llmc --set-key) for each provider that has none yet."""
        for name, key in self.keys_file.read(self.warn).items():
            entry = providers.get(name)
            if entry is not None and is_configured_key(key) and not is_configured_key(entry.get("api_key")):
                entry["api_key"] = key
                self.key_sources[name] = f"keys file ({self.keys_file.path})"

    def _provider_configs(self, providers: Dict[str, Dict[str, Any]]) -> Dict[str, ProviderConfig]:
        configs = {}
        for name, entry in providers.items():
            if not entry.get("base_api_url"):
                # ProviderConfig's default URL is a placeholder: never send a key there.
                self.warn(f"Warning: provider '{name}' has no base_api_url (in {self.store.path} or "
                          f"{self.config_path}); it is ignored until one is set")
                continue
            try:
                fields = {k: v for k, v in entry.items() if v is not None}
                fields.setdefault("name", name)  # not ProviderConfig's placeholder "Test Provider"
                configs[name] = ProviderConfig(**fields)
            except ValidationError as exc:
                raise ConfigError(f"provider '{name}': {_first_error(exc)}") from None
        return configs

    @staticmethod
    def http_settings(config_model: ConfigModel) -> HttpSettings:
        """Timeouts and retry policy from the settings."""
        return HttpSettings(connect_timeout=config_model.connect_timeout,
                            read_timeout=config_model.read_timeout,
                            max_retries=config_model.max_retries,
                            pool_size=config_model.concurrency,
                            models_timeout=config_model.models_timeout,
                            ping_timeout=config_model.ping_timeout,
                            reply_timeout=config_model.reply_timeout,
                            stall_timeout=config_model.stall_timeout,
                            discovery_timeout=config_model.discovery_timeout)

    @staticmethod
    def write_default_config(data_directory: Optional[os.PathLike | str] = None) -> Path:
        """Write a commented default config.toml (around the settings of one that exists); its path."""
        return Config.create_config(data_directory)[0]

    @staticmethod
    def create_config(data_directory: Optional[os.PathLike | str] = None) -> Tuple[Path, List[str]]:
        """Write the commented default config.toml; where one exists (--add-provider may have written a
        line), the template goes around the settings it holds, never losing one. The path and the
        names of the settings kept; ConfigError, the file unchanged, if it cannot be read or parsed."""
        directory = Path(data_directory).expanduser() if data_directory else default_data_directory()
        ensure_directory(directory)
        path = directory / CONFIG_FILE_NAME
        held = read_text_file(path, "config file")
        text, kept = (default_config_text(), []) if held is None else template_around(held, path)
        if held is not None:
            refuse_read_only(path)
        try:
            atomic_write_text(path, text, mode=0o600)
        except OSError as exc:
            raise file_write_error(f"cannot write {path}: {exc.strerror or exc}", exc) from None
        return path, kept


def default_config_text() -> str:
    """config.toml with every setting at its default and its description as a comment."""
    lines = ["# llmc configuration. Command-line flags and environment variables override it.", ""]
    for name, info in ConfigModel.file_settings().items():
        lines.append(f"# {info.description}")
        if info.default is None:  # TOML has no null: an unset setting is shown commented out
            lines.append(f"# {name} = {_toml_value(info.examples[0])}")
        else:
            lines.append(f"{name} = {_toml_value(info.default)}")
        lines.append("")
    lines += [
        "# Provider overrides, merged over the built-in providers and the providers YAML.",
        "# Prefer the <NAME>_API_KEY environment variables to keys in this file.",
        "# [providers.openai]",
        '# api_key = "sk-..."',
        "# [providers.local]",
        '# name = "llama.cpp"',
        '# base_api_url = "http://127.0.0.1:8080/v1"',
        '# api_key = "none"',
        '# valid_models = { "qwen2.5-7b-instruct" = "qwen7b" }',
        "",
    ]
    return "\n".join(lines)


def template_around(held: str, path: Path) -> Tuple[str, List[str]]:
    """The default config.toml's text with the settings of `held` (a config.toml's text) in place of its
    defaults, and their names; ConfigError naming `path` if `held` does not parse or a setting would
    not read back as it was."""
    import tomlkit  # noqa: PLC0415 - tomlkit: only writing config.toml needs it
    try:
        settings = tomlkit.parse(held)
        document = tomlkit.parse(default_config_text())
        for key in settings:
            document[key] = settings[key]  # a default's value is replaced where it stands, with its comment
        text = tomlkit.dumps(document)
        written = tomlkit.parse(text).unwrap()
        kept_right = {key: written.get(key) for key in settings} == settings.unwrap()
    except (tomlkit.exceptions.TOMLKitError, ValueError) as exc:  # ParseError is a ValueError too
        raise ConfigError(f"{path}: {exc}; not changed") from None
    if not kept_right:
        raise ConfigError(f"{path}: its settings would not read back as they are in the template; not changed")
    return text, list(settings)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return toml_string(value)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    return f"field '{where}': {error.get('msg')}" if where else str(error.get("msg"))


def _drop_models(entry: Dict[str, Any], field_name: str, models: Any) -> None:
    """Remove `models` from the entry's valid_models (a dict) or invalid_models (a list)."""
    current, drop = entry.get(field_name), set(models or ())
    if not drop or not current:
        return
    if isinstance(current, dict):
        entry[field_name] = {k: v for k, v in current.items() if k not in drop}
    else:
        entry[field_name] = [m for m in current if m not in drop]


def _once_each(warn: Callable[[str], None]) -> Callable[[str], None]:
    """`warn`, saying each distinct message once (a reload of the files repeats them)."""
    said: set = set()

    def warn_once(message: str) -> None:
        if message not in said:
            said.add(message)
            warn(message)
    return warn_once


def _apply_overrides(providers: Dict[str, Dict[str, Any]], overrides: Dict[str, Dict[str, Any]]) -> None:
    """Merge config.toml's providers over the others; a model it lists explicitly leaves the other list."""
    merge_dicts(providers, overrides)
    for name, override in overrides.items():
        _drop_models(providers[name], "invalid_models", override.get("valid_models"))
        _drop_models(providers[name], "valid_models", override.get("invalid_models"))


def _check_distinct_names(providers: Dict[str, Any], config_path: Path) -> None:
    """Provider prefixes match in any case, so two names differing only in case cannot both be used."""
    seen: Dict[str, str] = {}
    for name in providers:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise ConfigError(f"providers '{other}' and '{name}' differ only in case (see {config_path} and "
                              "the providers YAML); rename one")


def _looks_like_secret(key: Optional[str]) -> bool:
    """True for a real-looking API key: not empty, not a `…not-configured` placeholder, not short."""
    return key is not None and is_configured_key(key) and len(key.strip()) >= MIN_SECRET_LENGTH
