"""The lines /tools and --list-tools show: each MCP server, whether it is on, and its tools."""
from __future__ import annotations

from typing import List, Sequence

from ..base.Text import one_line
from .ToolBox import ServerState

DESCRIPTION_WIDTH = 70


def tool_list_lines(states: Sequence[ServerState], path: str) -> List[str]:
    """One line per server (on/off, how it is reached, its state) and one per known tool under it."""
    if not states:
        return [f"No MCP servers are configured (in {path})."]
    lines: List[str] = []
    for state in states:
        lines.append(f"{state.name}  [{'on' if state.on else 'off'}]  {state.where}  {_condition(state)}".rstrip())
        width = max((len(spec.display) for spec, _ in state.tools), default=0)
        for spec, on in state.tools:
            sent_as = "" if spec.name == f"{spec.server}_{spec.tool}" else f" (sent as {spec.name})"
            lines.append(f"  [{'on' if on else 'off':>3}] {spec.display:<{width}}  "
                         f"{one_line(spec.description, DESCRIPTION_WIDTH)}{sent_as}".rstrip())
    return lines


def _condition(state: ServerState) -> str:
    if state.error:
        return state.error
    if not state.started:
        return "(not started)"
    return f"({len(state.tools)} tool{'' if len(state.tools) == 1 else 's'})"
