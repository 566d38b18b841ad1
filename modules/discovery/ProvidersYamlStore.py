"""The providers YAML file: checked loading, and locked, atomic, comment-keeping updates."""
from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from ..base.Errors import ConfigError, file_write_error
from .ProviderEntryShape import ProviderEntryShape
from .YamlReading import YAML_FILE_NAME, parse_yaml  # noqa: F401 - YAML_FILE_NAME is read from here too
from ..base.SafeFiles import (MAX_TEXT_FILE_BYTES, atomic_write_text, file_lock, read_text_file,
                        remove_stale_temp_files)

def quoted_where_needed(value: Any) -> Any:
    """`value`, marked to be double-quoted if PyYAML would read it back unquoted as no string.

    ruamel writes YAML 1.2 but llmc reads YAML 1.1, where `12:30`, `off`, `0x10` and `~` are no text.
    """
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString  # noqa: PLC0415 - writing only
    if not isinstance(value, str) or isinstance(value, ScalarString):
        return value  # not text, or quoted in the file already
    if _pyyaml_plain_tag(value) == "tag:yaml.org,2002:str":
        return value
    return DoubleQuotedScalarString(value)


@functools.lru_cache(maxsize=4096)
def _pyyaml_plain_tag(text: str) -> str:
    import yaml  # noqa: PLC0415 - pyyaml: writing only
    return yaml.resolver.Resolver().resolve(yaml.nodes.ScalarNode, text, (True, False))


class ProvidersYamlStore:
    """Reads and updates `<data dir>/openaicompat-providers.yaml`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load_providers(self, warn: Optional[Callable[[str], None]] = None) -> Dict[str, Dict[str, Any]]:
        """The `providers` mapping of the file ({} if the file is absent or empty), each entry checked
        (ConfigError naming provider and field); unknown fields are told to `warn` and dropped."""
        text = read_text_file(self.path, "providers YAML file")
        if text is None:
            return {}
        data = parse_yaml(text, self.path)
        providers = self._providers_of(data)
        if warn and isinstance(data, dict):
            for key in data:
                if key != "providers":
                    warn(f"Warning: {self.path}: unknown top-level key '{key}' ignored")
        ProviderEntryShape(self.path, warn).check(providers)
        return providers

    def _providers_of(self, data: Any) -> Dict[str, Dict[str, Any]]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: expected a mapping with a 'providers' key at the top")
        providers = data.get("providers")
        if providers is None:
            return {}
        if not isinstance(providers, dict):
            raise ConfigError(f"{self.path}: 'providers' must be a mapping of provider names")
        return providers

    def save(self, updates: Dict[str, Dict[str, Any]]) -> None:
        """Merge `updates` (provider -> fields) into the latest file, under a lock, atomically.

        `valid_models` and `invalid_models` are merged with what the file holds now, so a
        concurrent discovery's results are kept; `name` and `base_api_url` are set only where
        the file has none; `api_key_env` where given; `api_key` is never written.
        """
        try:
            self._save_locked(updates)
        except OSError as exc:
            raise file_write_error(f"cannot write {self.path}: {exc.strerror or exc}; the file is unchanged",
                                   exc) from None

    def _save_locked(self, updates: Dict[str, Dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path):
            yaml, document = self._load_round_trip()
            providers = document.setdefault("providers", {})
            if providers is None:
                providers = document["providers"] = {}
            for provider_name, fields in updates.items():
                entry = providers.get(provider_name)
                if entry is None:
                    entry = providers[quoted_where_needed(provider_name)] = {}
                _merge_provider(entry, fields)
            buffer = io.StringIO()
            yaml.dump(document, buffer)
            self._check_reads_back(buffer.getvalue(), updates)
            remove_stale_temp_files(self.path, min_age=0)  # every writer holds the lock: these are orphans
            atomic_write_text(self.path, buffer.getvalue())

    def _check_reads_back(self, text: str, updates: Dict[str, Dict[str, Any]]) -> None:
        """Refuse to write what llmc's own loader would reject or read differently (same loader, same limit)."""
        try:
            size = len(text.encode("utf-8"))
            if size > MAX_TEXT_FILE_BYTES:
                raise ConfigError(f"it would be {size:,} bytes, over the {MAX_TEXT_FILE_BYTES:,}-byte limit")
            providers = self._providers_of(parse_yaml(text, self.path))
            ProviderEntryShape(self.path).check(providers)
            for name, fields in updates.items():
                entry = providers.get(name) or {}
                if not set(fields.get("valid_models") or {}) <= set(entry.get("valid_models") or {}) or \
                        not set(fields.get("invalid_models") or []) <= set(entry.get("invalid_models") or []):
                    raise ConfigError(f"provider '{name}': its models would not read back as saved")
        except (ConfigError, UnicodeEncodeError) as exc:
            reason = "it would hold text that is not UTF-8" if isinstance(exc, UnicodeEncodeError) else \
                str(exc).removeprefix(f"{self.path}: ")
            raise ConfigError(f"{self.path}: not saved: {reason}; the file is unchanged") from None

    def _check_shape(self, providers: Dict[Any, Any]) -> None:
        """Refuse to merge into entries someone edited into a shape llmc cannot load since we loaded them."""
        try:
            ProviderEntryShape(self.path).check(providers)
        except ConfigError as exc:
            raise ConfigError(f"{exc}; not overwritten") from None

    def _load_round_trip(self) -> tuple[Any, Any]:
        from ruamel.yaml import YAML  # noqa: PLC0415 - ruamel.yaml: only writing the file needs it
        from ruamel.yaml.error import YAMLError  # noqa: PLC0415 - ruamel.yaml
        yaml = YAML()
        yaml.preserve_quotes = True  # a quoted `off:` must stay quoted for PyYAML to read it as text
        yaml.indent(mapping=2, sequence=4, offset=2)
        yaml.width = 4096
        text = read_text_file(self.path, "providers YAML file")
        if text is None or not text.strip():
            return yaml, {}
        self._check_shape(self._providers_of(parse_yaml(text, self.path)))  # what the loader refuses stays as it is
        try:
            document = yaml.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else "?"
            raise ConfigError(f"{self.path}: line {line}: {getattr(exc, 'problem', exc)}; "
                              "not overwritten") from None
        if document is None:
            return yaml, {}
        self._providers_of(document)
        return yaml, document


def _merge_provider(entry: Any, fields: Dict[str, Any]) -> None:
    for key in ("name", "base_api_url"):
        if key in fields and not entry.get(key):
            entry[key] = quoted_where_needed(fields[key])
    if fields.get("api_key_env"):  # the variable's name only: a key is never written
        entry["api_key_env"] = quoted_where_needed(fields["api_key_env"])
    if fields.get("found_by_scan") is True:
        entry["found_by_scan"] = True
    ours_valid: Dict[str, str] = fields.get("valid_models") or {}
    ours_invalid = list(fields.get("invalid_models") or [])
    valid = entry.get("valid_models")
    if not isinstance(valid, dict):
        valid = entry["valid_models"] = {}
    for long_name in ours_invalid:
        valid.pop(long_name, None)
    for long_name, short_name in ours_valid.items():
        if long_name not in valid:
            valid[quoted_where_needed(long_name)] = quoted_where_needed(short_name)
    invalid = entry.get("invalid_models")
    known_invalid = list(invalid) if isinstance(invalid, list) else []
    merged_invalid = [m for m in dict.fromkeys([*known_invalid, *ours_invalid]) if m not in ours_valid]
    entry["invalid_models"] = [quoted_where_needed(m) for m in merged_invalid]
    _merge_per_model(entry, "model_prices", fields.get("model_prices") or {}, ours_invalid)
    _merge_per_model(entry, "model_capabilities", fields.get("model_capabilities") or {}, ours_invalid)


def _merge_per_model(entry: Any, key: str, ours: Dict[str, Dict[str, Any]], refused: Any) -> None:
    """Set what was learnt of each model under `key` (prices, capabilities), one line per model;
    drop those of models now invalid."""
    from ruamel.yaml.comments import CommentedMap  # noqa: PLC0415 - ruamel.yaml: writing only
    known = entry.get(key)
    if not isinstance(known, dict):
        if not ours:
            return
        known = entry[key] = CommentedMap()
    for long_name in refused:
        known.pop(long_name, None)
    for long_name, fields in ours.items():
        line = CommentedMap(fields)
        line.fa.set_flow_style()
        known[quoted_where_needed(long_name)] = line

