"""Start-up stays light: what `--version`, `--list-models`, `--list-chats` and the chat's start import (structural,
not timed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Set

ROOT = Path(__file__).resolve().parents[2]
HEAVY_FOR_LISTING = {"requests", "urllib3", "rich", "prompt_toolkit", "ruamel", "ruamel.yaml", "pygments"}
PROBE = """
import json, sys
from llmc.cli import CommandLine as main
status = main.main(sys.argv[1:])
sys.stdout.flush()
print("\\nMODULES=" + json.dumps(sorted(sys.modules)))
sys.exit(status)
"""


def imported_modules(args: List[str], tmp_path: Path) -> Set[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                            stdin=subprocess.DEVNULL, timeout=60, cwd=str(ROOT))
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("MODULES="))
    return set(json.loads(line[len("MODULES="):]))


def top_level(modules: Set[str]) -> Set[str]:
    return modules | {name.split(".")[0] for name in modules}


def test_version_imports_nothing_heavy(tmp_path):
    modules = top_level(imported_modules(["--version"], tmp_path))
    assert not modules & (HEAVY_FOR_LISTING | {"pydantic", "yaml", "llmc.Config"})
    # argparse alone: typing (2 ms) stays a TYPE_CHECKING import, and argparse's help width needs no shutil
    assert not modules & {"typing", "shutil"}, sorted(modules & {"typing", "shutil"})


def test_list_models_imports_no_http_rendering_or_round_trip_yaml_library(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[providers.local]\nbase_api_url = "http://127.0.0.1:1/v1"\n'
                                      'api_key = "k"\nvalid_models = { "m1" = "one" }\n')
    (data / "openaicompat-providers.yaml").write_text(
        "providers:\n  openai:\n    valid_models:\n      gpt-x: x\n    invalid_models: [emb]\n")
    modules = top_level(imported_modules(["-d", str(data), "--list-models"], tmp_path))
    assert "pydantic" in modules  # the plan's data models are real pydantic models
    assert not modules & HEAVY_FOR_LISTING, sorted(modules & HEAVY_FOR_LISTING)
    assert "llmc.transport.HttpClient" not in modules and "llmc.OpenAIChatCompletionApi" not in modules


def test_list_chats_reads_no_settings_and_imports_nothing_heavy(tmp_path):
    from llmc.store.ChatStore import ChatStore
    data = tmp_path / "data"
    ChatStore(data).save([{"role": "system", "content": "s"}, {"role": "user", "content": "listed"}])
    modules = top_level(imported_modules(["-d", str(data), "--list-chats"], tmp_path))
    assert not modules & (HEAVY_FOR_LISTING | {"pydantic", "yaml", "llmc.Config"}), sorted(modules)


MCP_SDK = {"mcp", "mcp_types", "anyio", "httpx", "httpx2", "uvicorn", "starlette", "llmc.tools.McpSessions"}


def test_tools_configured_but_unused_import_no_mcp_sdk(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "mcp.json").write_text(json.dumps({"mcpServers": {
        "time": {"command": "mcp-server-time"}, "docs": {"url": "http://127.0.0.1:1/mcp"}}}))
    (data / "config.toml").write_text('tools = ["all"]\n')
    for args in (["-e", "-p", "hello"], ["--list-models"], ["-T", "time", "-e", "-p", "hello"]):
        modules = top_level(imported_modules(["-d", str(data), *args], tmp_path))
        assert not modules & MCP_SDK, (args, sorted(modules & MCP_SDK))
        assert "llmc.tools.ToolBox" in modules or "--list-models" in args


def test_completion_values_import_neither_pydantic_nor_the_chat(tmp_path):
    from llmc.store.ChatStore import ChatStore
    data = tmp_path / "data"
    ChatStore(data).save([{"role": "system", "content": "s"}, {"role": "user", "content": "listed"}])
    (data / "openaicompat-providers.yaml").write_text("providers:\n  groq:\n    valid_models:\n      llama-x: lx\n")
    (data / "config.toml").write_text('[providers.local]\nbase_api_url = "http://127.0.0.1:1/v1"\n')
    for kind in ("models", "providers", "chats", "roles"):
        modules = top_level(imported_modules(["-d", str(data), "--complete", kind], tmp_path))
        assert not modules & (HEAVY_FOR_LISTING | {"pydantic", "llmc.Config", "llmc.Types"}), (kind, sorted(modules))
    script_modules = top_level(imported_modules(["--completion", "bash"], tmp_path))
    assert not script_modules & (HEAVY_FOR_LISTING | {"pydantic", "yaml", "llmc.Config"})


CHAT_START_PROBE = """
import sys
from llmc.chat.ChatInterface import ChatInterface
def first_prompt(self, session):  # what the chat has loaded when its first prompt would show
    print("RICH=" + str(sorted(name for name in sys.modules if name.split(".")[0] == "rich")))
    print("SQLITE=" + str(sorted(name for name in sys.modules if "sqlite" in name or name.endswith("ChatIndex"))))
ChatInterface._loop = first_prompt
from llmc.cli.CommandLine import run
run()
"""


def test_the_chat_starts_without_rich_on_a_colour_terminal_nor_the_chats_index(tmp_path):
    import pexpect
    from tests.e2e.pty_support import spawn
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('model = "local/m1"\n[providers.local]\n'
                                      'base_api_url = "http://127.0.0.1:1/v1"\nvalid_models = { "m1" = "one" }\n')
    child = spawn(data, program=("-c", CHAT_START_PROBE))
    child.expect_exact("Ctrl-D or /exit: leave")  # the start's dim lines are drawn
    child.expect_exact("RICH=[]")
    child.expect_exact("SQLITE=[]")  # saved chats are many or none: the start reads none of them
    child.expect(pexpect.EOF)
    assert "\x1b[2m" in child.logfile_read.getvalue()


def test_a_run_without_yaml_files_or_a_colour_terminal_imports_neither_pyyaml_nor_rich(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[providers.local]\nbase_api_url = "http://127.0.0.1:1/v1"\n'
                                      'api_key = "k"\nvalid_models = { "m1" = "one" }\n')
    modules = top_level(imported_modules(["-d", str(data), "-e", "-p", "hello"], tmp_path))
    assert not modules & {"yaml", "rich"}, sorted(modules & {"yaml", "rich"})
