"""Reading the providers YAML's text safely: no duplicate keys, no alias bombs; light enough for completion."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, Hashable

from ..base.Errors import ConfigError, one_line

YAML_FILE_NAME = "openaicompat-providers.yaml"
MAX_ALIAS_EXPANSION = 100_000  # values aliases may add beyond those written out: enough for any real file


def parse_yaml(text: str, path: Path) -> Any:
    """Parse YAML text; ConfigError naming file, line and problem if it is not valid YAML.

    A key repeated in one mapping is refused, not silently replaced by its last value, and so are
    aliases that would expand the document far beyond what is written (billion laughs).
    """
    import yaml  # noqa: PLC0415 - pyyaml: only when a YAML file is read (a run without one saves 10 ms)
    try:
        return _load_checked(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ConfigError(f"{path}: line {line}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"{path}: not valid YAML: {one_line(str(problem), 200)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a providers file") from None


def _load_checked(text: str) -> Any:
    loader = _unique_key_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "&" in text:  # no anchor, no alias: the walk is skipped for the common file
            _refuse_alias_bombs(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


@functools.cache
def _unique_key_loader() -> type:
    """PyYAML's safe loader (libyaml's when present) that refuses duplicate mapping keys."""
    import yaml  # noqa: PLC0415 - pyyaml: see parse_yaml
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: Any, deep: bool = False) -> Dict[Any, Any]:
            first_lines: Dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with << may be overridden
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, Hashable):
                    continue  # the base loader refuses it
                if key in first_lines:
                    shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else key
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{shown}' (first on line {first_lines[key]})",
                        key_node.start_mark)
                first_lines[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _refuse_alias_bombs(root: Any) -> None:
    """ConstructorError when aliases would expand the document far beyond what is written (billion laughs),
    or an alias sits inside the node it names; counted on the composed nodes, each node once."""
    import yaml  # noqa: PLC0415 - pyyaml: see parse_yaml
    expanded: Dict[int, int] = {}
    open_nodes: set = set()

    def size(node: Any) -> int:
        if id(node) in expanded:
            return expanded[id(node)]
        if id(node) in open_nodes:
            raise yaml.constructor.ConstructorError(None, None, "an alias refers to a node it is inside",
                                                    node.start_mark)
        open_nodes.add(id(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else []
        expanded[id(node)] = 1 + sum(size(child) for child in children)
        open_nodes.discard(id(node))
        return expanded[id(node)]

    if size(root) - len(expanded) > MAX_ALIAS_EXPANSION:
        raise yaml.constructor.ConstructorError(
            None, None, f"aliases would expand to more than {MAX_ALIAS_EXPANSION:,} values; refused "
            "(an alias bomb?)", root.start_mark)
