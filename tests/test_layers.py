"""The layer map of modules/__init__.py holds: every module is in one layer, imports point down."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Set

import llmc

MODULES = Path(llmc.__file__).parent
LAYERS = ["Chat UI and rendering", "The core of the plan", "Transport", "Foundation"]
DATA_MODELS_FOR_TRANSPORT = {"ProviderConfig", "HttpSettings"}
HTTP_LAYER = {"HttpClient", "OpenAIChatCompletionApi"}


def layer_of() -> Dict[str, int]:
    """Module name -> layer index, read from the package docstring."""
    doc = llmc.__doc__
    result: Dict[str, int] = {}
    for index, title in enumerate(LAYERS):
        start = doc.index(title)
        end = min([doc.index(t) for t in LAYERS[index + 1:]] + [doc.index("Two exceptions")])
        for name in re.findall(r"\b([A-Z][A-Za-z]+)\b", doc[doc.index("\n", start):end]):
            if (MODULES / f"{name}.py").exists():
                result.setdefault(name, index)
    return result


def imports_of(name: str) -> Set[str]:
    """The llmc modules `name` imports (relative imports, at any depth of the file)."""
    tree = ast.parse((MODULES / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return {n for n in found if (MODULES / f"{n}.py").exists()}


def test_every_module_is_on_the_map() -> None:
    modules = {p.stem for p in MODULES.glob("*.py") if not p.stem.startswith("__")}
    assert modules - set(layer_of()) == set(), "add each new module to its layer in modules/__init__.py"
    assert set(layer_of()) - modules == set(), "the map in modules/__init__.py names a module that is gone"


def test_imports_point_down_or_sideways() -> None:
    layers = layer_of()
    upward = []
    for name, layer in layers.items():
        for imported in imports_of(name):
            allowed = layers[imported] >= layer or (layers[name] == LAYERS.index("Transport")
                                                    and imported in DATA_MODELS_FOR_TRANSPORT)
            if not allowed:
                upward.append(f"{name} -> {imported}")
    assert upward == []


def test_the_chat_ui_never_imports_the_http_layer() -> None:
    layers = layer_of()
    ui = [name for name, layer in layers.items() if layer == 0]
    assert {name: imports_of(name) & HTTP_LAYER for name in ui if imports_of(name) & HTTP_LAYER} == {}
