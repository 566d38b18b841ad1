"""ToolBox against real MCP servers: mcp-server-time from PyPI over stdio, the SDK's own server over stdio
and over Streamable HTTP on loopback. The proof of a call is what the server answered or received."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from llmc.base.Errors import LlmcError
from llmc.base.OutputChannel import OutputChannel
from llmc.base.Secrets import MASK
from llmc.tools.McpConfig import load_mcp_servers
from llmc.tools.ToolBox import MAX_RESULT_CHARS, ToolBox, chosen_servers
from tests.conftest import MCP_TOKEN
from tests.mcp_servers import stdio_server, time_server, write_mcp_file

TIMEOUT = 60.0  # a loaded machine starts a Python server slowly


class Notices(list):
    def __call__(self, text: str) -> None:
        self.append(text)


def make_box(data_dir: Path, servers: Dict, on: List[str], notices: Notices, timeout: float = TIMEOUT,
             environ: Dict[str, str] = None) -> ToolBox:
    write_mcp_file(data_dir, servers)
    configured = load_mcp_servers(data_dir, notices)
    return ToolBox(configured, chosen_servers(on, configured, "-T"), OutputChannel(notice=notices), timeout,
                   environ=environ if environ is not None else {"MCP_TOKEN": MCP_TOKEN})


def http_server(loopback_mcp, header: str = "Bearer ${MCP_TOKEN}") -> Dict:
    return {"url": loopback_mcp.url, "headers": {"Authorization": header}}


@pytest.fixture
def notices() -> Notices:
    return Notices()


@pytest.fixture
def box(data_dir: Path, loopback_mcp, notices: Notices) -> Iterator[ToolBox]:
    toolbox = make_box(data_dir, {"time": time_server(), "docs": http_server(loopback_mcp)}, ["all"], notices)
    yield toolbox
    toolbox.close()


def test_tools_of_a_stdio_server_from_pypi_and_a_streamable_http_server(box: ToolBox, notices: Notices):
    specs = {spec.name: spec for spec in box.specs()}
    assert {"time_get_current_time", "time_convert_time", "docs_echo", "docs_add", "docs_slow"} <= set(specs)
    convert = specs["time_convert_time"]
    assert (convert.server, convert.tool, convert.display) == ("time", "convert_time", "time.convert_time")
    assert convert.as_openai()["type"] == "function"
    function = convert.as_openai()["function"]
    assert function["name"] == "time_convert_time" and function["description"]
    assert set(function["parameters"]["required"]) == {"source_timezone", "time", "target_timezone"}
    assert specs["docs_add"].parameters["properties"]["a"]["type"] == "integer"
    assert notices == []


def test_calls_reach_both_servers_and_their_answers_come_back(box: ToolBox, loopback_mcp):
    box.specs()
    outcome = box.call("time_convert_time", {"source_timezone": "UTC", "time": "12:00",
                                             "target_timezone": "Asia/Tokyo"})
    assert not outcome.is_error
    answer = json.loads(outcome.text)
    assert answer["target"]["datetime"].endswith("T21:00:00+09:00") and answer["time_difference"] == "+9.0h"
    assert box.call("docs_add", {"a": 2, "b": 40}) == type(outcome)("42", False)
    assert box.call("docs_echo", {"text": "über"}).text == "echo: über"
    # the header's ${MCP_TOKEN} was filled in: the server received the token and answered
    assert loopback_mcp.app.headers[-1]["authorization"] == f"Bearer {MCP_TOKEN}"


def test_a_tool_error_and_bad_arguments_are_error_outcomes_for_the_model(box: ToolBox):
    box.specs()
    outcome = box.call("docs_add", {"a": "x"})
    assert outcome.is_error and "add" in outcome.text
    assert box.call("no_such_tool", {}).is_error


def test_a_server_that_fails_to_start_is_one_line_and_the_others_go_on(data_dir, loopback_mcp, notices):
    servers = {"gone": {"command": "llmc-no-such-command"},
               "crash": {"command": sys.executable, "args": ["-c", "import sys; sys.exit('cannot start: bad cfg')"]},
               "docs": http_server(loopback_mcp)}
    toolbox = make_box(data_dir, servers, ["all"], notices)
    try:
        names = [spec.name for spec in toolbox.specs()]
        assert names and all(name.startswith("docs_") for name in names)
        assert len(notices) == 2, notices
        gone = next(line for line in notices if "gone" in line)
        assert "no such command: llmc-no-such-command" in gone and "\n" not in gone
        assert "cannot start: bad cfg" in next(line for line in notices if "crash" in line)
        toolbox.specs()  # said once, not at every use
        assert len(notices) == 2
        states = {state.name: state for state in toolbox.servers()}
        assert states["gone"].error and not states["gone"].started and states["docs"].started
    finally:
        toolbox.close()


def test_a_server_that_dies_mid_chat_is_one_line_and_its_tools_go(data_dir, notices):
    toolbox = make_box(data_dir, {"local": stdio_server()}, ["local"], notices)
    try:
        assert toolbox.call("local_echo", {"text": "x"}).is_error  # not listed yet: nothing offered
        assert [spec.name for spec in toolbox.specs()][:2] == ["local_echo", "local_add"]
        assert toolbox.call("local_echo", {"text": "hi"}).text == "echo: hi"
        died = toolbox.call("local_die", {})
        assert died.is_error and "local" in died.text
        assert len(notices) == 1 and "MCP server local stopped" in notices[0]
        again = toolbox.call("local_echo", {"text": "hi"})
        assert again.is_error and "not running" in again.text
        assert toolbox.specs() == [] and len(notices) == 1
    finally:
        toolbox.close()


def test_a_call_past_its_deadline_is_stopped_and_the_server_goes_on(data_dir, loopback_mcp, notices):
    toolbox = make_box(data_dir, {"docs": http_server(loopback_mcp)}, ["docs"], notices, timeout=2)
    try:
        toolbox.specs()
        started = time.monotonic()
        outcome = toolbox.call("docs_slow", {"seconds": 30})
        assert time.monotonic() - started < 10
        assert outcome.is_error and "did not answer within 2 s" in outcome.text
        assert notices == ["The tool docs.slow did not answer within 2 s; stopped."]
        assert toolbox.call("docs_echo", {"text": "after"}).text == "echo: after"
    finally:
        toolbox.close()


def test_ctrl_c_during_a_call_stops_it_and_the_server_goes_on(data_dir, loopback_mcp, notices):
    toolbox = make_box(data_dir, {"docs": http_server(loopback_mcp)}, ["docs"], notices)
    try:
        toolbox.specs()
        timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            toolbox.call("docs_slow", {"seconds": 30})
        assert time.monotonic() - started < 10
        assert toolbox.call("docs_echo", {"text": "still here"}).text == "echo: still here"
    finally:
        toolbox.close()


def test_names_are_valid_for_openai_and_clashes_are_resolved_not_dropped(data_dir, loopback_mcp, notices):
    servers = {"a.b": http_server(loopback_mcp), "a_b": http_server(loopback_mcp)}
    toolbox = make_box(data_dir, servers, ["all"], notices)
    try:
        specs = toolbox.specs()
        names = [spec.name for spec in specs]
        assert len(names) == len(set(names)) == 10
        assert {"a_b_echo", "a_b_echo_2", "a_b_get_weather_now", "a_b_get_weather_now_2"} <= set(names)
        import re
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name) for name in names)
        weather = next(spec for spec in specs if spec.name == "a_b_get_weather_now")
        assert weather.tool == "get.weather now"  # called by its own name
        assert toolbox.call(weather.name, {}).text == "sunny"
    finally:
        toolbox.close()


def test_switching_servers_and_single_tools(box: ToolBox):
    assert box.set_enabled("docs", False) == "server docs"
    assert {spec.server for spec in box.specs()} == {"time"}
    assert box.set_enabled("docs.echo", True) == "docs.echo"
    assert [spec.name for spec in box.specs() if spec.server == "docs"] == ["docs_echo"]
    assert box.call("docs_add", {"a": 1, "b": 2}).is_error  # switched off: not on offer
    assert box.set_enabled("time_get_current_time", False) == "time.get_current_time"
    assert "time_get_current_time" not in [spec.name for spec in box.specs()]
    states = {state.name: state for state in box.servers()}
    assert not states["docs"].on and dict((spec.name, on) for spec, on in states["docs"].tools)["docs_echo"]
    with pytest.raises(LlmcError, match="no MCP server or tool 'nothing'"):
        box.set_enabled("nothing", True)
    with pytest.raises(LlmcError, match="docs.nothing"):
        box.set_enabled("docs.nothing", True)


def test_header_and_env_variables_are_filled_in_and_never_shown(data_dir, loopback_mcp, notices):
    secret = "sk-mcp-secret-0123456789"
    echo_env = {"command": sys.executable,
                "args": ["-c", "import os, sys; sys.exit('token is ' + os.environ['TOKEN'])"],
                "env": {"TOKEN": "${ENV_SECRET}"}}
    servers = {"docs": http_server(loopback_mcp), "leaky": echo_env,
               "argy": {"command": "llmc-no-such", "args": ["--token", MCP_TOKEN]},  # a secret written in args
               "unset": {"url": loopback_mcp.url, "headers": {"Authorization": "Bearer ${NOT_SET_HERE}"}}}
    toolbox = make_box(data_dir, servers, ["all"], notices, environ={"MCP_TOKEN": MCP_TOKEN, "ENV_SECRET": secret})
    try:
        toolbox.specs()
        unset = next(line for line in notices if "unset" in line)
        assert "mcpServers.unset.headers.Authorization" in unset and "NOT_SET_HERE" in unset
        leaky = next(line for line in notices if "leaky" in line)
        assert "token is" in leaky and secret[:8] not in leaky and MASK in leaky
        outcome = toolbox.call("docs_echo", {"text": f"the token is {MCP_TOKEN}"})
        assert outcome.text == f"echo: the token is {MASK}"
        shown = " ".join(state.where for state in toolbox.servers())
        assert MCP_TOKEN not in shown and secret not in shown and "stdio: llmc-no-such" in shown
        assert not any(MCP_TOKEN in line or secret in line for line in notices)
    finally:
        toolbox.close()


def test_a_long_answer_is_cut_for_the_model(box: ToolBox):
    box.specs()
    outcome = box.call("docs_echo", {"text": "x" * (MAX_RESULT_CHARS + 500)})
    assert len(outcome.text) < MAX_RESULT_CHARS + 100 and outcome.text.endswith("more characters]")


def test_no_server_starts_before_its_tools_are_wanted(data_dir, loopback_mcp, notices):
    toolbox = make_box(data_dir, {"time": time_server(), "docs": http_server(loopback_mcp)}, ["docs"], notices)
    try:
        assert toolbox._loop is None
        toolbox.specs()
        states = {state.name: state for state in toolbox.servers()}
        assert states["docs"].started and not states["time"].started and states["time"].tools == ()
    finally:
        toolbox.close()


def test_a_server_that_never_answers_is_given_up_at_its_deadline(data_dir, loopback_mcp, notices):
    mute = {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"]}
    toolbox = make_box(data_dir, {"mute": mute, "docs": http_server(loopback_mcp)}, ["all"], notices, timeout=3)
    try:
        started = time.monotonic()
        names = [spec.name for spec in toolbox.specs()]
        assert time.monotonic() - started < 15
        assert names and all(name.startswith("docs_") for name in names)
        assert notices == ["MCP server mute did not start: it did not answer within 3 s; going on without its tools."]
    finally:
        toolbox.close()


def test_ctrl_c_while_servers_start_stops_them_and_the_next_use_starts_them_again(data_dir, notices):
    toolbox = make_box(data_dir, {"local": stdio_server()}, ["local"], notices)
    try:
        timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            toolbox.specs()
            time.sleep(5)  # had the start been quicker than the timer
        assert "local_echo" in [spec.name for spec in toolbox.specs()]
        assert notices == []
    finally:
        toolbox.close()


def test_chosen_servers_reads_all_none_and_names(data_dir):
    write_mcp_file(data_dir, {"time": time_server(), "docs": {"url": "http://127.0.0.1:9/mcp"}})
    configured = load_mcp_servers(data_dir, print)
    assert chosen_servers(["all"], configured, "-T") == ["time", "docs"]
    assert chosen_servers(["docs", "time", "docs"], configured, "-T") == ["docs", "time"]
    assert chosen_servers(["none"], configured, "-T") == []
    with pytest.raises(LlmcError, match=r"^-T: no MCP server 'tim' in .*mcp.json \(there are: time, docs; or all / none\)$"):
        chosen_servers(["tim"], configured, "-T")
    (data_dir / "mcp.json").unlink()
    with pytest.raises(LlmcError, match="no MCP servers are configured"):
        chosen_servers(["time"], load_mcp_servers(data_dir, print), "-T")
