"""Code out of a reply: -x prints the code of every code block of a -p reply, --xl the last one; /copy in
a real pty; against the loopback server."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.e2e.cli_support import fake_provider, run_llmc_in_process, write_config
from tests.e2e.pty_support import finish, send, spawn
from tests.fake_openai_server import FakeOpenAIServer

REPLY = ("Use jq:\n\n```sh\njq '.items[] | .name' data.json\n```\n\nOr in Python:\n\n"
         "```python\nimport json\nprint([i['name'] for i in json.load(open('data.json'))['items']])\n```\n")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(chat_models=["chat-a"], reply=REPLY) as srv:
        yield srv


@pytest.fixture
def data(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    directory = tmp_path / "data"
    write_config(directory, {"fake": fake_provider(server.base_url, valid_models={"chat-a": "ca"})},
                 'model = "fake/ca"')
    return directory


def llmc(home: Path, data: Path, *args: str, **kwargs):
    return run_llmc_in_process(["-d", str(data), *args], home, **kwargs)


def test_extract_prints_only_the_code(home: Path, data: Path, server: FakeOpenAIServer) -> None:
    result = llmc(home, data, "-x", "a jq filter for the names")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("jq '.items[] | .name' data.json\nimport json\n"
                             "print([i['name'] for i in json.load(open('data.json'))['items']])\n")
    last = llmc(home, data, "--xl", "-p", "the same")
    assert last.returncode == 0 and last.stdout.startswith("import json\n") and "jq" not in last.stdout
    server.set(reply="No code here, only words.")
    try:
        none = llmc(home, data, "--extract", "-p", "words")
    finally:
        server.set(reply=REPLY)
    assert none.returncode == 1 and none.stdout == ""
    assert none.stderr == "The reply has no code block (llmc without -x shows all of it).\n"


def test_copy_lists_and_copies_a_block_in_the_chat(data: Path) -> None:
    child = spawn(data)
    child.expect_exact("ca >")
    send(child, "code please")
    child.expect_exact("Or in Python:")
    child.expect_exact("ca *>")
    send(child, "/copy 2")
    child.expect_exact("Code block 2 copied to the clipboard")
    send(child, "/copy")
    child.expect_exact("1. [sh, 1 line] jq '.items[] | .name' data.json")
    child.expect_exact("Copy which code block? [1-2]")
    child.send("1\r")
    child.expect_exact("Code block 1 copied to the clipboard")
    child.expect_exact("ca *>")
    finish(child)
