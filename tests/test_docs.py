"""The docs say what the code does: flags, chat commands, exit statuses, the example config.toml, links."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Set

from llmc.Config import Config
from llmc.base.ExitStatus import ExitStatus
from llmc.chat.CommandHandler import COMMANDS
from llmc.cli.CommandLine import build_parser

ROOT = Path(__file__).resolve().parents[1]
USAGE = ROOT / "docs" / "usage.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
README_TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"


def table_first_cells(path: Path, header: str) -> List[str]:
    """The first cell of each row of the table whose header row starts with `| header |`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"| {header} |")), None)
    assert start is not None, f"{path.relative_to(ROOT)} has no table headed '| {header} |'"
    cells = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells.append(re.split(r"(?<!\\)\|", line)[1].strip())
    return cells


def missing_and_extra(documented: Set[str], actual: Set[str], doc: Path, what: str, fix: str) -> List[str]:
    """One line per difference, naming the doc file, the table and the flag or command."""
    name = doc.relative_to(ROOT)
    return ([f"{name}'s {what} table lacks {item}: {fix}" for item in sorted(actual - documented)]
            + [f"{name}'s {what} table lists {item}, which llmc does not have" for item in sorted(documented - actual)])


def test_the_flags_table_lists_exactly_the_parsers_flags() -> None:
    actual = {"PROMPT"} | {option for action in build_parser()._actions for option in action.option_strings}
    documented = set()
    for cell in table_first_cells(USAGE, "flag"):
        code = cell.split("`")[1]
        documented |= set(re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", code)) | ({"PROMPT"} if code == "PROMPT" else set())
    problems = missing_and_extra(documented, actual, USAGE, "flags", "add a row for it (flag, meaning)")
    assert not problems, "\n".join(problems)


def test_the_chat_commands_table_lists_exactly_what_help_lists() -> None:
    actual = {"/" + name for command in COMMANDS for name in (command.name, *command.aliases)}
    documented = set()
    for cell in table_first_cells(USAGE, "command"):
        documented |= {"/" + name for name in re.findall(r"(?:^|[ ,])/([\w-]+)", cell.split("`")[1])}
    problems = missing_and_extra(documented, actual, USAGE, "chat commands", "add a row for it (command, what it does)")
    assert not problems, "\n".join(problems)


def test_every_exit_status_in_the_table_is_one_exit_status_holds() -> None:
    documented = {int(cell) for cell in table_first_cells(USAGE, "status")}
    actual = {int(status) for status in ExitStatus}
    problems = missing_and_extra({str(n) for n in documented}, {str(n) for n in actual}, USAGE, "exit status",
                                 "add a row saying what it means")
    assert not problems, "\n".join(problems)


def test_the_example_config_toml_is_what_create_config_writes(tmp_path: Path) -> None:
    written = Config.write_default_config(tmp_path).read_text(encoding="utf-8")
    assert (ROOT / "config.toml").read_text(encoding="utf-8") == written, \
        "config.toml differs from what `llmc --create-config` writes: regenerate it"
    block = re.search(r"```toml\n(.*?)```", CONFIGURATION.read_text(encoding="utf-8"), re.DOTALL)
    assert block and block.group(1) == written, \
        "docs/configuration.md's example config.toml differs from what `llmc --create-config` writes"


def test_the_readme_holds_the_test_command_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"\n{README_TEST_COMMAND}\n" in readme
    assert 'run_suite .venv python3' in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_readme_fits_on_two_screens() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 120


def heading_anchors(path: Path) -> Set[str]:
    """The anchors GitHub makes of a Markdown file's headings."""
    anchors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def test_every_relative_link_leads_to_a_file_and_heading() -> None:
    documents = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
    anchors: Dict[Path, Set[str]] = {}
    broken = []
    for document in documents:
        for target in re.findall(r"\]\(([^)\s]+)\)", document.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            path = (document.parent / file_part).resolve() if file_part else document
            if not path.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and path.is_file():
                if anchor not in anchors.setdefault(path, heading_anchors(path)):
                    broken.append(f"{document.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)
