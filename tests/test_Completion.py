"""Completion: the values read straight from the files, and scripts made from the parser's own flags."""
from __future__ import annotations

from pathlib import Path

from llmc.cli.CommandLine import build_parser
from llmc.cli.Completion import complete_values, completion_script, flag_specs
from llmc.discovery.BuiltInProviders import PROVIDER_DATA
from llmc.store.ChatStore import ChatStore


def test_models_come_from_the_built_ins_the_yaml_and_config_toml(tmp_path: Path) -> None:
    (tmp_path / "openaicompat-providers.yaml").write_text(
        "providers:\n  groq:\n    valid_models:\n      llama-3.3-70b: l70\n      gone: g\n    invalid_models: [gone]\n"
        "  openai:\n    valid_models:\n      gpt-x: x\n")
    (tmp_path / "config.toml").write_text('[providers.local]\nbase_api_url = "http://127.0.0.1:1/v1"\n'
                                          'valid_models = { "qwen:7b" = "qwen:7b" }\n')
    values = [line.split("\t")[0] for line in complete_values("models", str(tmp_path))]
    assert {"groq/llama-3.3-70b", "groq/l70", "openai/gpt-x", "openai/4o", "local/qwen:7b"} <= set(values)
    assert "groq/gone" not in values and len(values) == len(set(values))


def test_providers_are_every_known_name_with_its_display_name(tmp_path: Path) -> None:
    (tmp_path / "openaicompat-providers.yaml").write_text("providers:\n  mine:\n    name: My Server\n")
    lines = complete_values("providers", str(tmp_path))
    assert lines[:len(PROVIDER_DATA)] == [f"{name}\t{entry['name']}" for name, entry in PROVIDER_DATA.items()]
    assert lines[-1] == "mine\tMy Server"


def test_unreadable_files_give_the_built_ins_and_no_error(tmp_path: Path) -> None:
    (tmp_path / "openaicompat-providers.yaml").write_text("providers: [unclosed\n")
    (tmp_path / "config.toml").write_text("model = \n")
    assert [line.split("\t")[0] for line in complete_values("providers", str(tmp_path))] == list(PROVIDER_DATA)


def test_chats_are_numbered_newest_first_and_roles_are_file_names(tmp_path: Path) -> None:
    store = ChatStore(tmp_path)
    store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "older question"}])
    store.save([{"role": "system", "content": "s"}, {"role": "user", "content": "newer\x1b question"}])
    assert complete_values("chats", str(tmp_path)) == ["1\tnewer␛ question", "2\tolder question"]
    assert complete_values("roles", str(tmp_path)) == []
    (tmp_path / "roles").mkdir()
    for name in ("shell.md", "reviewer.toml", ".hidden.md"):
        (tmp_path / "roles" / name).write_text("x")
    (tmp_path / "roles" / "sub").mkdir()
    assert complete_values("roles", str(tmp_path)) == ["reviewer", "shell"]


def test_every_flag_of_the_parser_is_in_every_script() -> None:
    parser = build_parser()
    names = [name for flag in flag_specs(parser) for name in flag.names]
    assert "--model" in names and "-uvm" in names and "--completion" in names
    for shell in ("bash", "zsh", "fish"):
        script = completion_script(shell, parser)
        assert script.startswith(f"# llmc completion for {shell}. Install: ")
        for name in names:
            spelled = {"fish": f"-l {name[2:]}" if name.startswith("--") else
                       f"-s {name[1:]}" if len(name) == 2 else f"-o {name[1:]}"}.get(shell, name)
            assert spelled in script, (shell, name)
