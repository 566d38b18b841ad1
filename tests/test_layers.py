"""The package's rooms are layers: a module's room is its subpackage, and imports point down the layers.

Layers, top to bottom (a module may import its own layer or any below it, never above):
cli -> chat -> setup -> render -> store, tools -> core (the plan's six modules at the top of the package, and
discovery/) -> transport -> base. Nothing above the core talks HTTP: it asks ProviderManager.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import llmc

MODULES = Path(llmc.__file__).parent
CORE = ""  # the plan's modules, at the top of the package
LAYERS: List[Set[str]] = [{"cli"}, {"chat"}, {"setup"}, {"render"}, {"store", "tools"}, {CORE, "discovery"}, {"transport"},
                          {"base"}]
ABOVE_THE_CORE = {"cli", "chat", "setup", "render", "store", "tools"}
PLAN_MODULES = {"Config", "Types", "ProviderConfig", "ProviderManager", "ModelDiscoveryService",
                "OpenAIChatCompletionApi"}


def module_names() -> Dict[str, Path]:
    """Dotted name inside llmc (e.g. 'chat.ChatInterface') -> file, for every module but package markers."""
    return {".".join(p.relative_to(MODULES).with_suffix("").parts): p
            for p in MODULES.rglob("*.py") if not p.name.startswith("__")}


def room_of(module: str) -> str:
    return module.rpartition(".")[0]


def layer_of(module: str) -> int:
    return next(index for index, rooms in enumerate(LAYERS) if room_of(module) in rooms)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_of(module: str, path: Path) -> Set[str]:
    """The llmc modules `module` imports when it runs (at any depth; `if TYPE_CHECKING:` blocks are skipped)."""
    known = module_names()
    package = room_of(module).split(".") if room_of(module) else []
    found: Set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                prefix = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("llmc"):
                prefix = node.module[len("llmc."):] if node.module != "llmc" else ""
            else:
                prefix = None
            if prefix is not None:
                for alias in node.names:
                    candidate = f"{prefix}.{alias.name}".lstrip(".")
                    found.add(candidate if candidate in known else prefix)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name in known}


def import_graph() -> Dict[str, Set[str]]:
    return {name: imports_of(name, path) for name, path in module_names().items()}


def test_every_module_lives_in_a_room_of_the_map() -> None:
    rooms = {room_of(name) for name in module_names()}
    assert rooms - set().union(*LAYERS) == set(), "put the new room into LAYERS (and the package docstring)"
    assert {name for name in module_names() if room_of(name) == CORE} == PLAN_MODULES, \
        "only the plan's six modules live at the top of the package"


def test_imports_point_down_or_sideways() -> None:
    upward = [f"{name} -> {imported}" for name, imported_set in import_graph().items()
              for imported in imported_set if layer_of(imported) < layer_of(name)]
    assert upward == []


def test_nothing_above_the_core_talks_http() -> None:
    http = [f"{name} -> {imported}" for name, imported_set in import_graph().items() if room_of(name) in ABOVE_THE_CORE
            for imported in imported_set if room_of(imported) == "transport" or imported == "OpenAIChatCompletionApi"]
    assert http == []


def test_no_import_circles() -> None:
    graph = import_graph()
    circles: List[str] = []

    def walk(name: str, path: List[str]) -> None:
        for imported in sorted(graph[name]):
            if imported in path:
                circles.append(" -> ".join(path[path.index(imported):] + [imported]))
            elif imported not in done:
                walk(imported, path + [imported])
        done.add(name)

    done: Set[str] = set()
    for start in sorted(graph):
        if start not in done:
            walk(start, [start])
    assert circles == []


def test_the_package_docstring_names_every_room() -> None:
    for room in set().union(*LAYERS) - {CORE}:
        assert f"{room}/" in llmc.__doc__, f"say what {room}/ holds in modules/__init__.py"
