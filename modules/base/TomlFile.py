"""Reading a TOML file llmc keeps (config.toml, keys.toml): one rule for its errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from .Errors import ConfigError
from .SafeFiles import read_text_file


def load_toml_file(path: Path, what: str = "config file") -> Dict[str, Any]:
    """Parse a TOML file ({} if absent); ConfigError naming the file, line and problem."""
    text = read_text_file(path, what)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a {what}") from None


def toml_string(text: str) -> str:
    """`text` as a TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
