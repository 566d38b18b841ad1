"""Roles: role files with front matter, the built-in roles, and one-line errors naming the file and field."""
from __future__ import annotations

from pathlib import Path

import pytest

from llmc.base.Errors import ConfigError
from llmc.store.Roles import BUILT_IN, load_role, role_lines, role_names


def write_role(data: Path, name: str, text: str) -> Path:
    path = data / "roles" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_role_file_gives_its_prompt_and_front_matter_settings(tmp_path: Path) -> None:
    path = write_role(tmp_path, "poet", "---\nmodel: fake/fc2\ntemperature: 0.9\nmax_tokens: 300\n---\n\nWrite verse.\n")
    role = load_role(tmp_path, "poet")
    assert (role.prompt, role.model, role.temperature, role.max_tokens, role.source) == (
        "Write verse.", "fake/fc2", 0.9, 300, str(path))
    assert role.settings() == {"temperature": 0.9, "max_tokens": 300}
    write_role(tmp_path, "plain", "Just a prompt, no front matter.\n")
    assert load_role(tmp_path, "plain").settings() == {} and load_role(tmp_path, "plain").model is None


def test_built_in_roles_and_a_file_that_overrides_one(tmp_path: Path) -> None:
    assert {"shell", "reviewer"} <= set(BUILT_IN)
    assert load_role(tmp_path, "shell").source == "built in"
    write_role(tmp_path, "shell", "My own shell helper.")
    assert load_role(tmp_path, "shell").prompt == "My own shell helper."
    write_role(tmp_path, "mine", "x")
    assert role_names(tmp_path) == sorted({*BUILT_IN, "mine"})


@pytest.mark.parametrize("text, error", [
    ("---\ntemperature: hot\n---\nx", "field 'temperature': must be a number from 0 to 2 (got 'hot')"),
    ("---\ntemperature: 3\n---\nx", "field 'temperature': must be a number from 0 to 2 (got 3)"),
    ("---\nmax_tokens: 0\n---\nx", "field 'max_tokens': must be a whole number of at least 1 (got 0)"),
    ("---\nmodel: [a]\n---\nx", "field 'model': must be a model name"),
    ("---\ncolour: red\n---\nx", "field 'colour': not a role field (model, temperature, max_tokens)"),
    ("---\n: [\n---\nx", "the front matter is not YAML"),
    ("---\n- a\n---\nx", "the front matter must be `field: value` lines"),
    ("---\nmodel: a\n---\n\n", "the role has no system prompt"),
])
def test_a_bad_role_file_is_one_line_naming_the_file_and_field(tmp_path: Path, text: str, error: str) -> None:
    path = write_role(tmp_path, "bad", text)
    with pytest.raises(ConfigError) as caught:
        load_role(tmp_path, "bad")
    assert str(caught.value).startswith(f"{path}: {error}") and "\n" not in str(caught.value)


def test_unknown_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no role 'nonesuch'.*llmc --list-roles lists them"):
        load_role(tmp_path, "nonesuch")
    with pytest.raises(ConfigError, match="a role name is letters"):
        load_role(tmp_path, "../etc/passwd")


def test_the_listing_names_each_role_and_warns_of_a_bad_one(tmp_path: Path) -> None:
    write_role(tmp_path, "poet", "---\ntemperature: 0.9\n---\nWrite verse.")
    write_role(tmp_path, "broken", "---\ntemperature: x\n---\nx")
    warnings: list = []
    lines = role_lines(tmp_path, warnings.append)
    assert any(line.startswith("poet") and "(temperature 0.9): Write verse." in line for line in lines)
    assert any(line.startswith("shell        built in: ") for line in lines)
    assert len(warnings) == 1 and "broken.md: field 'temperature'" in warnings[0]
