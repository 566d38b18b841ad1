"""Roles: a named system prompt with optional settings, from `<data dir>/roles/NAME.md` or built in.

A role file is the system prompt as its body, after optional YAML front matter between `---` lines that may
set `model`, `temperature` and `max_tokens`. A file overrides the built-in role of the same name."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional

from ..base.Errors import ConfigError
from ..base.SafeFiles import MAX_TEXT_FILE_BYTES, read_text_file

if TYPE_CHECKING:
    from ..Types import SettingValue

ROLES_DIRECTORY = "roles"
ROLE_SUFFIX = ".md"
OFF = "off"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
BUILT_IN: Dict[str, str] = {
    "shell": "You are a shell expert. Answer with the command that does what is asked, for the user's shell "
             "and system, in one code block, then at most one short sentence if a flag needs explaining. "
             "No preamble, no alternatives unless asked.",
    "reviewer": "You are a careful code reviewer. Point out bugs, unclear names, missing error handling and "
                "needless complexity in the code you are given, most important first, each with the line it "
                "concerns and a concrete fix. Say so plainly when the code is fine.",
    "explain": "You explain things to a curious beginner: plain words, a short example, no jargon left "
               "undefined. Keep it brief unless asked for more.",
    "translate": "You translate the user's text into English (or into the language they name), keeping its "
                 "meaning, tone and formatting. Reply with the translation only.",
}


class Role(NamedTuple):
    """A role: its name, system prompt, the settings it brings and where it came from."""

    name: str
    prompt: str
    model: Optional[str] = None
    temperature: Optional[float] = None
    max_tokens: Optional[int] = None
    source: str = "built in"

    def settings(self) -> Dict[str, Any]:
        """The request settings the role sets (temperature, max_tokens)."""
        return {name: value for name, value in (("temperature", self.temperature),
                                                 ("max_tokens", self.max_tokens)) if value is not None}

    @property
    def described(self) -> str:
        """`the role NAME (where it came from)`: where a setting it brings came from, in messages."""
        return f"the role {self.name} ({self.source})"

    def apply_settings(self, apply: Callable[[str, "SettingValue", str], None]) -> None:
        """Hand each request setting the role sets to `apply(name, value, source)` (Config.apply_setting, or
        the chat's set_option)."""
        for name, value in self.settings().items():
            apply(name, value, self.described)


def roles_directory(data_directory: Path) -> Path:
    """Where the user's role files live."""
    return Path(data_directory) / ROLES_DIRECTORY


def role_names(data_directory: Path) -> List[str]:
    """Every role's name: the built-in ones and the files', sorted."""
    names = set(BUILT_IN)
    try:
        names |= {entry.name[: -len(ROLE_SUFFIX)] for entry in os.scandir(roles_directory(data_directory))
                  if entry.name.endswith(ROLE_SUFFIX) and _NAME.match(entry.name[: -len(ROLE_SUFFIX)])}
    except OSError:
        pass
    return sorted(names)


def load_role(data_directory: Path, name: str) -> Role:
    """The role `name`: its file, else the built-in one; ConfigError naming the file and field if it is bad."""
    if not _NAME.match(name):
        raise ConfigError(f"role {name!r}: a role name is letters, digits, '.', '_' and '-'")
    path = roles_directory(data_directory) / f"{name}{ROLE_SUFFIX}"
    text = read_text_file(path, "role file", max_bytes=MAX_TEXT_FILE_BYTES)
    if text is not None:
        return parse_role(name, text, path)
    if name in BUILT_IN:
        return Role(name, BUILT_IN[name])
    raise ConfigError(f"no role {name!r}: no {path} and no built-in role of that name "
                      f"(llmc --list-roles lists them)")


def parse_role(name: str, text: str, path: Path) -> Role:
    """A role file's front matter and body; ConfigError naming the file and the field that is wrong."""
    settings: Dict[str, Any] = {}
    found = _FRONT_MATTER.match(text)
    if found:
        import yaml  # noqa: PLC0415 - pyyaml: only a role file with front matter needs it
        try:
            loaded = yaml.safe_load(found.group(1))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: the front matter is not YAML ({_first_line(exc)})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the front matter must be `field: value` lines")
        settings = loaded or {}
        text = text[found.end():]
    prompt = text.strip()
    if not prompt:
        raise ConfigError(f"{path}: the role has no system prompt (write it after the front matter)")
    return Role(name, prompt, source=str(path), **_checked_settings(settings, path))


def _checked_settings(settings: Dict[str, Any], path: Path) -> Dict[str, Any]:
    checked: Dict[str, Any] = {}
    for field, value in settings.items():
        if field == "model":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{path}: field 'model': must be a model name (provider/long-id or short name)")
            checked["model"] = value.strip()
        elif field == "temperature":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not 0 <= value <= 2:
                raise ConfigError(f"{path}: field 'temperature': must be a number from 0 to 2 (got {value!r})")
            checked["temperature"] = float(value)
        elif field == "max_tokens":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{path}: field 'max_tokens': must be a whole number of at least 1 (got {value!r})")
            checked["max_tokens"] = value
        else:
            raise ConfigError(f"{path}: field {str(field)!r}: not a role field (model, temperature, max_tokens)")
    return checked


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def role_lines(data_directory: Path, warn: Callable[[str], None]) -> List[str]:
    """--list-roles' lines: name, where it comes from, the settings it brings and its prompt's first words;
    a bad role file is one warning."""
    lines = []
    for name in role_names(data_directory):
        try:
            role = load_role(data_directory, name)
        except ConfigError as exc:
            warn(f"Warning: {exc}")
            continue
        brings = ", ".join(f"{field} {value}" for field, value in
                           (("model", role.model), *role.settings().items()) if value is not None)
        words = " ".join(role.prompt.split())
        words = words if len(words) <= 60 else words[:59] + "…"
        lines.append(f"{name:<12} {role.source}{f' ({brings})' if brings else ''}: {words}")
    return lines
