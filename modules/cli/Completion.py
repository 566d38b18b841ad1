"""Shell completion: `--completion SHELL` prints a script made from the parser's flags, and `--complete KIND`
prints the values it offers (models, providers, chats, roles), read straight from the files: no pydantic,
no rich, so a Tab answers at once."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import DEFAULT_DATA_DIRECTORY
from ..discovery.BuiltInProviders import PROVIDER_DATA

TYPE_CHECKING = False  # typing is not imported on the way to --version (see CommandLine)
if TYPE_CHECKING:
    from typing import Dict, Iterator, List, Optional

SHELLS = ("bash", "zsh", "fish")
VALUE_KINDS = ("models", "providers", "chats", "roles")
KIND_OF_DEST = {"model": "models", "set_default_model": "models", "provider": "providers",
                "discover_models": "providers", "add_provider": "providers", "set_key": "providers",
                "unset_key": "providers", "chat": "chats", "role": "roles"}
INSTALL_LINES = {"bash": "echo 'eval \"$(llmc --completion bash)\"' >> ~/.bashrc",
                 "zsh": "echo 'eval \"$(llmc --completion zsh)\"' >> ~/.zshrc   # after compinit",
                 "fish": "llmc --completion fish > ~/.config/fish/completions/llmc.fish"}


class FlagSpec:
    """One flag of the parser as a completion script needs it: its names, whether and what value it takes."""

    def __init__(self, action: argparse.Action) -> None:
        self.names: List[str] = list(action.option_strings)
        self.takes_value = action.nargs != 0
        self.optional_value = action.nargs == "?"
        metavar = action.metavar[0] if isinstance(action.metavar, tuple) else action.metavar
        self.kind = KIND_OF_DEST.get(action.dest) or {"ROLE": "roles", "FILE": "files", "DIR": "directories"}.get(
            metavar or "", "")
        self.choices: List[str] = [str(choice) for choice in action.choices or []]
        self.help = _first_clause(action.help or "")


def flag_specs(parser: argparse.ArgumentParser) -> List[FlagSpec]:
    """Every flag of `parser` (the positional prompt left out)."""
    return [FlagSpec(action) for action in parser._actions if action.option_strings]


def completion_script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for `shell`, with its install line in a comment at the top."""
    flags = flag_specs(parser)
    script = {"bash": _bash_script, "zsh": _zsh_script, "fish": _fish_script}[shell](flags)
    return f"# llmc completion for {shell}. Install: {INSTALL_LINES[shell]}\n{script}"


# ----- the values a completion offers -------------------------------------------------------------------


def complete_values(kind: str, data_directory: Optional[str]) -> List[str]:
    """The values of `kind` for the data directory, one a line as `value` or `value<TAB>description`."""
    directory = Path(data_directory or DEFAULT_DATA_DIRECTORY).expanduser()
    if kind == "chats":
        return _chat_values(directory)
    if kind == "roles":
        return _role_values(directory)
    providers = _known_providers(directory)
    if kind == "providers":
        return [f"{name}\t{entry.get('name') or name}" for name, entry in providers.items()]
    return list(dict.fromkeys(_model_values(providers)))


def _known_providers(directory: Path) -> Dict[str, dict]:
    """Built-in providers, the providers YAML's and config.toml's, merged shallowly: names and models."""
    providers: Dict[str, dict] = {name: dict(entry) for name, entry in PROVIDER_DATA.items()}
    for source in (_yaml_providers(directory), _toml_providers(directory)):
        for name, entry in source.items():
            if isinstance(name, str) and isinstance(entry, dict):
                merged = providers.setdefault(name, {})
                models = {**_mapping(merged.get("valid_models")), **_mapping(entry.get("valid_models"))}
                merged.update(entry, valid_models=models)
    return providers


def _model_values(providers: Dict[str, dict]) -> Iterator[str]:
    for name, entry in providers.items():
        invalid = set(entry.get("invalid_models") or []) if isinstance(entry.get("invalid_models"), list) else set()
        for long_name, short_name in _mapping(entry.get("valid_models")).items():
            if long_name not in invalid:
                yield f"{name}/{long_name}\t{short_name}"
                if isinstance(short_name, str) and short_name != long_name:
                    yield f"{name}/{short_name}\t{long_name}"


def _yaml_providers(directory: Path) -> dict:
    from ..base.Errors import LlmcError
    from ..base.SafeFiles import read_text_file
    from ..discovery.YamlReading import YAML_FILE_NAME, parse_yaml
    try:
        text = read_text_file(directory / YAML_FILE_NAME, "providers file")
        data = parse_yaml(text, directory / YAML_FILE_NAME) if text else None
    except (LlmcError, OSError):
        return {}  # a completion says nothing; the next real run names the problem
    return _mapping(data.get("providers")) if isinstance(data, dict) else {}


def _toml_providers(directory: Path) -> dict:
    from ..base.Errors import LlmcError
    from ..base.TomlFile import load_toml_file
    try:
        return _mapping(load_toml_file(directory / "config.toml").get("providers"))
    except (LlmcError, OSError):
        return {}


def _chat_values(directory: Path) -> List[str]:
    """`N<TAB>title` for each saved chat, newest first: what `--chat N` takes."""
    from ..base.Terminal import visible_text
    from ..store.ChatStore import ChatStore
    try:
        chats, _ = ChatStore(directory).summaries()
    except OSError:
        return []
    return [f"{number}\t{visible_text(chat.title)[:60]}" for number, chat in enumerate(chats, 1)]


def _role_values(directory: Path) -> List[str]:
    """The names of the roles in `<data dir>/roles/` (each file's name without its extension)."""
    try:
        entries = sorted(os.scandir(directory / "roles"), key=lambda entry: entry.name)
    except OSError:
        return []
    return list(dict.fromkeys(Path(entry.name).stem for entry in entries
                              if entry.is_file() and not entry.name.startswith(".")))


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _first_clause(text: str) -> str:
    """A help text's first clause, short enough for a completion menu."""
    clause = text.split(";")[0].split(" (")[0].strip()
    return clause if len(clause) <= 70 else clause[:67].rstrip() + "..."


# ----- the scripts ---------------------------------------------------------------------------------------


def _flag_groups(flags: List[FlagSpec]) -> Dict[str, List[str]]:
    """Flag names by what follows them: a kind of value, a file, a directory, any word, or nothing."""
    groups: Dict[str, List[str]] = {}
    for flag in flags:
        if flag.takes_value:
            key = "choices:" + " ".join(flag.choices) if flag.choices else flag.kind or "word"
            groups.setdefault(key, []).extend(flag.names)
    return groups


def _bash_script(flags: List[FlagSpec]) -> str:
    cases = []
    for key, names in _flag_groups(flags).items():
        if key.startswith("choices:"):
            action = f'COMPREPLY=($(compgen -W "{key[8:]}" -- "$cur"))'
        elif key == "files":
            action = 'COMPREPLY=($(compgen -f -- "$cur"))'
        elif key == "directories":
            action = 'COMPREPLY=($(compgen -d -- "$cur"))'
        elif key in VALUE_KINDS:
            action = f"_llmc_values {key}"
        else:
            action = ":"  # a number or text to type
        cases.append(f"        {'|'.join(names)}) {action}; return;;")
    all_flags = " ".join(name for flag in flags for name in flag.names)
    return f"""_llmc_values() {{
    local IFS=$'\\n' values
    values=$(command llmc "${{_llmc_data[@]}}" --complete "$1" 2>/dev/null | cut -f1)
    COMPREPLY=($(compgen -W "$values" -- "$cur"))
}}
_llmc() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}" i
    local -a _llmc_data=()
    for ((i = 1; i < COMP_CWORD - 1; i++)); do
        case "${{COMP_WORDS[i]}}" in -d|--data-directory) _llmc_data=(-d "${{COMP_WORDS[i+1]}}");; esac
    done
    case "$prev" in
{chr(10).join(cases)}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "{all_flags}" -- "$cur"))
    fi
}}
complete -F _llmc llmc
"""


def _zsh_quote(text: str) -> str:
    return text.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def _zsh_script(flags: List[FlagSpec]) -> str:
    specs = []
    for flag in flags:
        value = ""
        if flag.takes_value:
            if flag.choices:
                action = f"({' '.join(flag.choices)})"
            else:
                action = {"files": "_files", "directories": "_files -/"}.get(flag.kind, "")
                action = action or (f"_llmc_{flag.kind}" if flag.kind in VALUE_KINDS else " ")
            value = f"{'::' if flag.optional_value else ':'}{flag.kind or 'value'}:{action}"
        for name in flag.names:
            specs.append(f"    '{name}[{_zsh_quote(flag.help)}]{value}' \\")
    kinds = "\n".join(f"_llmc_{kind}() {{ _llmc_values {kind} }}" for kind in VALUE_KINDS)
    return f"""_llmc_values() {{
    local -a lines values descriptions data
    local i
    for ((i = 2; i < CURRENT - 1; i++)); do
        [[ ${{words[i]}} == (-d|--data-directory) ]] && data=(-d ${{words[i+1]}})
    done
    lines=(${{(f)"$(command llmc $data --complete $1 2>/dev/null)"}})
    values=(${{lines%%$'\\t'*}})
    descriptions=(${{lines//$'\\t'/  }})
    compadd -l -d descriptions -a values
}}
{kinds}
_llmc() {{
    _arguments -s \\
{chr(10).join(specs)}
    '*:prompt: '
}}
compdef _llmc llmc
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_script(flags: List[FlagSpec]) -> str:
    lines = []
    for flag in flags:
        parts = ["complete -c llmc"]
        for name in flag.names:
            if name.startswith("--"):
                parts.append(f"-l {name[2:]}")
            elif len(name) == 2:
                parts.append(f"-s {name[1:]}")
            else:
                parts.append(f"-o {name[1:]}")  # an old-style long flag such as -uvm
        if flag.takes_value:
            parts.append("-r -F" if flag.kind in ("files", "directories") else "-x")  # -x: a value, no file
            if flag.choices:
                parts.append(f"-a {_fish_quote(' '.join(flag.choices))}")
            elif flag.kind in VALUE_KINDS:
                parts.append(f"-a '(__llmc_values {flag.kind})'")
        parts.append(f"-d {_fish_quote(flag.help)}")
        lines.append(" ".join(parts))
    return """function __llmc_values
    set -l tokens (commandline -opc)
    set -l data
    for i in (seq (count $tokens))
        if contains -- $tokens[$i] -d --data-directory; and test $i -lt (count $tokens)
            set data -d $tokens[(math $i + 1)]
        end
    end
    command llmc $data --complete $argv[1] 2>/dev/null
end
complete -c llmc -f
""" + "\n".join(lines) + "\n"

