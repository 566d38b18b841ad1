"""Fuzz-style tests: random bytes and random structures into the loaders, the SSE parser and the
stream decoder must end in success or a clean LlmcError, never another exception (seeded, bounded)."""
from __future__ import annotations

import datetime
import json
import random
from pathlib import Path
from typing import Any, List

import pytest
import responses
import yaml

from llmc.Config import Config, load_toml_file
from llmc.base.ChatEvents import Finish, Notice, ReasoningDelta, TextDelta, Usage
from llmc.base.Errors import ApiError, ConfigError, LlmcError
from llmc.OpenAIChatCompletionApi import OpenAIChatCompletionApi
from llmc.ProviderConfig import ProviderConfig
from llmc.discovery.ProvidersYamlStore import ProvidersYamlStore
from llmc.transport.SseParser import SseParser

YAML_NAME = "openaicompat-providers.yaml"
FIELDS = ["name", "base_api_url", "api_key", "valid_models", "invalid_models", "other"]
SETTINGS = ["model", "system_prompt", "sassy", "stream", "connect_timeout", "read_timeout", "max_retries",
            "concurrency", "unknown"]
TOML_SNIPPETS = ["=", "[", "]", "[[", "\"", "'", "\n", "model", "providers", ".", "{", "}", ",", "1", "true",
                 "x", " ", "#", "\\", "1979-05-27", "inf", "\"\"\"", "[providers.a]", "valid_models"]
YAML_SNIPPETS = ["providers:", "\n", "  ", "- ", ":", "{", "}", "[", "]", "&a", "*a", "!!str", "!!python/tuple",
                 "? ", "|", ">", "'", "\"", "#", "---", "...", "%YAML 1.1", "\t", "valid_models", "a", "1",
                 "null", "~", "<<: *a", "2024-01-01", "\\x00", "\x85", "\ufeff"]


def random_scalar(rng: random.Random) -> Any:
    return rng.choice([None, True, False, 0, -7, 3.5, float("inf"), "", "text", "http://127.0.0.1:1/v1",
                       "sk-x", datetime.date(2024, 1, 1), "ünïcødé", "a" * 300])


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return random_scalar(rng)
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = FIELDS + ["x", "providers", "1"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def random_provider(rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return random_value(rng)
    return {rng.choice(FIELDS): rng.choice([random_value(rng), {"m": "s"}, ["m"], "text"])
            for _ in range(rng.randint(0, 5))}


def random_yaml_document(rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return random_value(rng)
    names = ["openai", "fake", "x y", 3, None, True]
    providers = {rng.choice(names): random_provider(rng) for _ in range(rng.randint(0, 3))}
    document = {"providers": providers if rng.random() < 0.9 else random_value(rng)}
    if rng.random() < 0.2:
        document[rng.choice(["extra", "provider"])] = random_value(rng)
    return document


def toml_value(rng: random.Random, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""'
    if isinstance(value, float):
        return "inf" if value == float("inf") else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(rng, v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(rng, v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def random_toml_document(rng: random.Random) -> str:
    lines = [f"{rng.choice(SETTINGS)} = {toml_value(rng, random_value(rng))}" for _ in range(rng.randint(0, 4))]
    for _ in range(rng.randint(0, 3)):
        lines.append(f"[providers.{rng.choice(['openai', 'fake', 'a-b'])}]")
        for _ in range(rng.randint(0, 4)):
            lines.append(f"{rng.choice(FIELDS)} = {toml_value(rng, random_value(rng))}")
    if rng.random() < 0.1:
        lines.insert(0, f"providers = {toml_value(rng, random_value(rng))}")
    return "\n".join(lines) + "\n"


def mutate(rng: random.Random, text: str, snippets: List[str]) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        position = rng.randint(0, len(chars))
        if rng.random() < 0.5 and chars:
            del chars[min(position, len(chars) - 1)]
        else:
            chars.insert(position, rng.choice(snippets))
    return "".join(chars)


def random_bytes(rng: random.Random, size: int = 200) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, size)))


def load_cleanly(data_dir: Path) -> None:
    """Config loading either works or raises ConfigError; the files are never changed."""
    files = {p: p.read_bytes() for p in data_dir.iterdir() if p.is_file()}
    try:
        config = Config(data_directory=data_dir, environ={}, warn=lambda _: None)
    except ConfigError as exc:
        assert "\n" not in str(exc).strip() and str(exc)
    else:
        assert config.config.providers.keys()
    assert {p: p.read_bytes() for p in files} == files


def test_random_bytes_into_config_toml(tmp_path: Path) -> None:
    rng = random.Random(101)
    for _ in range(150):
        (tmp_path / "config.toml").write_bytes(random_bytes(rng))
        load_cleanly(tmp_path)


def test_random_bytes_into_the_providers_yaml(tmp_path: Path) -> None:
    rng = random.Random(202)
    for _ in range(150):
        (tmp_path / YAML_NAME).write_bytes(random_bytes(rng))
        load_cleanly(tmp_path)


def test_random_toml_structures_and_mutations(tmp_path: Path) -> None:
    rng = random.Random(303)
    for _ in range(300):
        text = random_toml_document(rng)
        if rng.random() < 0.3:
            text = mutate(rng, text, TOML_SNIPPETS)
        (tmp_path / "config.toml").write_text(text)
        load_cleanly(tmp_path)


def test_random_yaml_structures_and_mutations(tmp_path: Path) -> None:
    rng = random.Random(404)
    for _ in range(300):
        text = yaml.safe_dump(random_yaml_document(rng), allow_unicode=rng.random() < 0.5)
        if rng.random() < 0.3:
            text = mutate(rng, text, YAML_SNIPPETS)
        (tmp_path / YAML_NAME).write_text(text)
        load_cleanly(tmp_path)


def test_saving_over_random_yaml_never_loses_an_unreadable_file(tmp_path: Path) -> None:
    rng = random.Random(505)
    path = tmp_path / YAML_NAME
    update = {"fake": {"valid_models": {"m": "m"}, "invalid_models": ["x"]}}
    for _ in range(150):
        text = yaml.safe_dump(random_yaml_document(rng))
        if rng.random() < 0.4:
            text = mutate(rng, text, YAML_SNIPPETS)
        path.write_text(text)
        try:
            ProvidersYamlStore(path).save(update)
        except ConfigError:
            assert path.read_text() == text
        else:
            saved = yaml.safe_load(path.read_text())["providers"]["fake"]
            assert saved["valid_models"]["m"] == "m" and "x" in saved["invalid_models"]


def test_deep_nesting(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    load_cleanly(tmp_path)
    (tmp_path / "config.toml").unlink()
    (tmp_path / YAML_NAME).write_text("providers: " + "[" * 5000 + "]" * 5000 + "\n")
    load_cleanly(tmp_path)


def test_load_toml_file_on_random_bytes(tmp_path: Path) -> None:
    rng = random.Random(606)
    path = tmp_path / "f.toml"
    for _ in range(200):
        path.write_bytes(random_bytes(rng, 80))
        try:
            assert isinstance(load_toml_file(path), dict)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))


def test_random_bytes_into_the_sse_parser() -> None:
    rng = random.Random(707)
    for _ in range(300):
        parser = SseParser()
        events: List[str] = []
        for _ in range(rng.randint(1, 8)):
            events += parser.feed(random_bytes(rng, 100))
        events += parser.close()
        assert all(isinstance(e, str) for e in events)


STREAM_PIECES = [
    b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\n',
    b'data: {"choices":[{"delta":{"reasoning_content":"hm"}}]}\n\n',
    b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n", b": keep-alive\n\n", b"\n", b"\r\n", b"data: ", b"data: {", b"data: null\n\n",
    b'data: {"choices": "oops"}\n\n', b'data: {"choices": [1]}\n\n', b'data: {"choices": []}\n\n',
    b'data: {"choices":[{"delta":{"content":5}}]}\n\n', b'data: {"error": {"message": "boom"}}\n\n',
    b'data: {"error": 3}\n\n', b"data: " + b"[" * 3000 + b"\n\n", b"event: x\n", b"\xff\xfe", b"\xe4\xb8",
]


def stream_through_the_api(body: bytes, content_type: str = "text/event-stream") -> List[tuple]:
    with responses.RequestsMock() as mock:
        mock.post("http://127.0.0.1:9/v1/chat/completions", body=body, content_type=content_type)
        api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url="http://127.0.0.1:9/v1"), "m")
        return list(api.stream_chat([{"role": "user", "content": "hi"}]))


def assert_clean_stream(body: bytes, content_type: str = "text/event-stream") -> None:
    try:
        deltas = stream_through_the_api(body, content_type)
    except ApiError as exc:  # includes IncompleteReplyError
        assert str(exc).startswith("fake: ") and "\n" not in str(exc)
    else:
        assert all(isinstance(event, (TextDelta, ReasoningDelta, Notice)) and isinstance(event.text, str)
                   or isinstance(event, Usage) or isinstance(event, Finish) and event.reason.isidentifier()
                   for event in deltas)


def test_random_bytes_into_the_stream_decoder() -> None:
    rng = random.Random(808)
    for _ in range(150):
        assert_clean_stream(random_bytes(rng, 300), rng.choice(["text/event-stream", "text/plain",
                                                                 "application/json", ""]))


def test_random_event_sequences_into_the_stream_decoder() -> None:
    rng = random.Random(909)
    for _ in range(300):
        assert_clean_stream(b"".join(rng.choice(STREAM_PIECES) for _ in range(rng.randint(0, 10))))


def test_every_failure_is_an_llmc_error() -> None:
    assert issubclass(ConfigError, LlmcError) and issubclass(ApiError, LlmcError)


MODEL_ID_PIECES = ["0", "1", "9", ":", ".", "-", "+", "_", "e", "E", "x", "o", "b", "~", "y", "n", "on", "off",
                   "yes", "No", "null", "true", "inf", "nan", "<<", "=", "/", " ", "#", "'", '"', "2024-01-01"]


@pytest.mark.stress
def test_random_model_ids_are_read_back_exactly_as_saved(tmp_path: Path) -> None:
    rng = random.Random(1010)
    store = ProvidersYamlStore(tmp_path / YAML_NAME)
    for round_number in range(40):
        ids = {"".join(rng.choice(MODEL_ID_PIECES) for _ in range(rng.randint(1, 4))).strip() or "m"
               for _ in range(10)}
        valid = {model_id: model_id for model_id in sorted(ids)[:6]}
        invalid = sorted(ids)[6:]
        name = f"p{round_number}"
        store.save({name: {"valid_models": valid, "invalid_models": invalid}})
        entry = store.load_providers()[name]
        assert entry == {"valid_models": valid, "invalid_models": invalid}, (tmp_path / YAML_NAME).read_text()


# ----- a provider as the attacker: key echoes, redirects, deadlines, sizes (issue 9 items 3-9) -----

FUZZ_KEY = "K9QxZ7wLm2VbT4nRk8HcJ5pYd3FgA6sEuW1q"


def longest_key_run(text: str) -> int:
    return max((n for n in range(1, len(FUZZ_KEY) + 1) for i in range(len(FUZZ_KEY) - n + 1)
                if FUZZ_KEY[i:i + n] in text), default=0)


def random_key_echo(rng: random.Random) -> str:
    """Padding, then the key whole or in part, as providers echo it."""
    start, end = rng.choice([(0, 36), (0, 32), (4, 36), (0, 20), (10, 30), (30, 36)])
    echo = FUZZ_KEY[start:end] + rng.choice(["", "****", "…", "\n", "\x1b[0m"])
    return "x" * rng.randint(0, 400) + rng.choice(["", " ", "\n", "&amp;"]) + echo + "y" * rng.randint(0, 50)


def test_random_key_echoes_never_print_six_key_characters() -> None:
    from llmc.transport.HttpClient import HttpClient
    rng = random.Random(1111)
    url = "http://127.0.0.1:9/v1"
    for _ in range(120):
        echo = random_key_echo(rng)
        body, content_type = rng.choice([(json.dumps({"error": {"message": echo}}), "application/json"),
                                         (json.dumps({"error": echo}), "application/json"),
                                         (echo, "text/plain"), (f"<html><title>{echo}</title></html>", "text/html")])
        status = rng.choice([200, 400, 401, 500, 502])
        with responses.RequestsMock() as mock:
            mock.get(f"{url}/models", status=status, body=body, content_type=content_type)
            try:
                HttpClient("fake", url, FUZZ_KEY, ).get_json("/models")
            except ApiError as exc:
                assert longest_key_run(str(exc)) < 6, str(exc)
        chunk = rng.choice([b"data: {" + echo.encode() + b"\n\n",
                            b"data: " + json.dumps({"error": {"message": echo}}).encode() + b"\n\n"])
        with responses.RequestsMock() as mock:
            mock.post(f"{url}/chat/completions", body=chunk, content_type="text/event-stream")
            api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url=url, api_key=FUZZ_KEY), "m")
            try:
                shown = " ".join(event.text for event in api.stream_chat([{"role": "user", "content": "hi"}])
                                 if not isinstance(event, (Usage, Finish)))
            except ApiError as exc:
                shown = str(exc)
            assert longest_key_run(shown) < 6, shown


HOSTILE_ID_PIECES = MODEL_ID_PIECES + ["\ud800", "\udfff", "\ud83d\ude00", "\x00", "\x85", "\u2028", "\u2029",
                                       "\x1b[2J", "\t", "\n", "\r", "\ufeff", "\u202e", "\x7f", "é", "x" * 200]


def test_hostile_model_ids_never_brick_the_providers_yaml(tmp_path: Path) -> None:
    """Whatever ids a /models reply lists, discovery's save leaves a file llmc loads (issue 9 item 1)."""
    from llmc.ModelDiscoveryService import _models_with_ids
    rng = random.Random(1111)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = ProvidersYamlStore(data_dir / YAML_NAME)
    for round_number in range(60):
        ids = ["".join(rng.choice(HOSTILE_ID_PIECES) for _ in range(rng.randint(1, 5))) for _ in range(8)]
        body = json.loads(json.dumps({"data": [{"id": i} for i in ids + ["good"]]}))  # as sent on the wire
        usable = [m["id"] for m in _models_with_ids("evil", body, str, lambda _: None)]
        name = f"evil{round_number % 3}"
        try:
            store.save({name: {"base_api_url": "http://127.0.0.1:9/v1",
                               "valid_models": {m: m for m in usable[::2]}, "invalid_models": usable[1::2]}})
        except ConfigError as exc:
            assert "not saved" in str(exc) and "\n" not in str(exc)
        load_cleanly(data_dir)
        Config(data_directory=data_dir, environ={}, warn=lambda _: None)  # never bricked


SURROGATE_PIECES = [b'data: {"choices":[{"delta":{"content":"\\ud83d"}}]}\n\n',
                    b'data: {"choices":[{"delta":{"content":"\\ude00"}}]}\n\n',
                    b'data: {"choices":[{"delta":{"content":"x\\ud800"}}]}\n\n',
                    b'data: {"choices":[{"delta":{"reasoning_content":"\\udbff"}}]}\n\n',
                    b'data: {"choices":[{"delta":{"content":"\\udfff\\ud83d\\ude00"}}]}\n\n']


def test_random_surrogate_halves_in_streams_always_print(capsys: pytest.CaptureFixture) -> None:
    """Escaped surrogate halves in any order: every delta encodes as UTF-8 (issue 9 item 2)."""
    rng = random.Random(1212)
    for _ in range(300):
        body = b"".join(rng.choice(SURROGATE_PIECES + STREAM_PIECES) for _ in range(rng.randint(0, 12)))
        try:
            deltas = stream_through_the_api(body)
        except ApiError as exc:
            str(exc).encode("utf-8")
            getattr(exc, "partial", "").encode("utf-8")
        else:
            for text in (event.text for event in deltas if not isinstance(event, (Usage, Finish))):
                text.encode("utf-8")


CHAT_FILE_PIECES = ['[', ']', '{', '}', ',', ':', '"role"', '"system"', '"user"', '"assistant"', '"content"',
                    '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"x"', '1', 'null', '[' * 3000, ']' * 3000,
                    '{"a":' * 3000]


def test_random_chat_files_load_or_fail_in_one_line(tmp_path: Path) -> None:
    """Chat files of any shape and depth: messages that save again, or one ConfigError (items 2, 14)."""
    from llmc.store.ChatSession import ChatSession, read_session_file
    rng = random.Random(1313)
    path = tmp_path / "chat.json"
    good = '[{"role": "system", "content": "s"}, {"role": "user", "content": "a\\ud800b"}]'
    for _ in range(300):
        text = good if rng.random() < 0.3 else "".join(rng.choice(CHAT_FILE_PIECES)
                                                       for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.3:
            text = mutate(rng, good, CHAT_FILE_PIECES)
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            messages = read_session_file(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            continue
        session = ChatSession("s", tmp_path)
        session.messages = messages
        session.save(str(tmp_path / "again.json"))
    assert read_session_file(tmp_path / "again.json")


def random_hostile_reply(rng: random.Random) -> dict:
    """A reply as a hostile provider might shape it: odd encodings, redirects, sizes, charsets."""
    import gzip as gzip_module
    import zlib
    body = rng.choice([b'{"data": [{"id": "m"}]}', b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\n',
                       random_bytes(rng, 300), b"\x1f\x8b" + random_bytes(rng, 50), b""])
    encoding = rng.choice(["", "gzip", "deflate", "br", "gzip, gzip", "x-gzip", "identity", "GZIP", "\x00"])
    if encoding.strip().lower() in ("gzip", "x-gzip") and rng.random() < 0.7:
        body = gzip_module.compress(body)
    elif encoding == "deflate" and rng.random() < 0.7:
        body = zlib.compress(body)
    headers = {"Content-Encoding": encoding} if encoding else {}
    status = rng.choice([200, 200, 200, 301, 302, 307, 308, 400, 429, 500])
    if status in (301, 302, 307, 308):
        headers["Location"] = rng.choice(["http://127.0.0.1:9/v1/x", "http://127.0.0.2:9/v1/x", "/v2/models",
                                          "//evil.example/x", "http://[::1", "", "ftp://x/y", "\x00"])
    content_type = rng.choice(["application/json", "text/event-stream", "text/html; charset=evil-8",
                               "application/json; charset=utf-16", ""])
    return {"status": status, "body": body, "headers": headers, "content_type": content_type}


def test_random_hostile_replies_end_in_success_or_one_clean_line() -> None:
    from llmc.transport.HttpClient import HttpClient
    from llmc.transport.HttpSettings import HttpSettings
    NO_RETRIES = HttpSettings(max_retries=0)
    rng = random.Random(1212)
    url = "http://127.0.0.1:9/v1"
    for _ in range(200):
        reply = random_hostile_reply(rng)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            for method in (responses.GET, responses.POST):
                for path in ("/models", "/chat/completions", "/x"):
                    mock.add(method, url + path, **reply)
            try:
                HttpClient("fake", url, FUZZ_KEY, NO_RETRIES).get_json("/models")
            except ApiError as exc:
                assert "\n" not in str(exc) and str(exc)
            try:
                api = OpenAIChatCompletionApi("fake", ProviderConfig(base_api_url=url, api_key=FUZZ_KEY), "m",
                                              NO_RETRIES)
                list(api.stream_chat([{"role": "user", "content": "hi"}]))
            except ApiError as exc:
                assert "\n" not in str(exc) and str(exc)


def test_random_bytes_on_standard_input_are_a_prompt_or_one_clean_line() -> None:
    import io
    from llmc.cli.PromptRunner import read_standard_input
    rng = random.Random(1313)
    for _ in range(200):
        data = random_bytes(rng, 400) if rng.random() < 0.5 else "ünï\n".encode() * rng.randint(0, 50)
        stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)), encoding="utf-8")
        try:
            assert read_standard_input(stdin) == data.decode("utf-8")
        except ConfigError as exc:
            assert str(exc).startswith("cannot read the prompt from standard input: ") and "\n" not in str(exc)


def random_alias_chain(rng: random.Random) -> str:
    """Anchors that alias the ones before them, as sequences, mappings or << merges, used anywhere."""
    lines = [f"n0: &n0 {rng.choice(['[x, y]', '{k: v}', 'text', 'http://127.0.0.1:9/v1'])}"]
    for level in range(1, rng.randint(1, 12)):
        fan = ", ".join(f"*n{rng.randint(0, level - 1)}" for _ in range(rng.randint(1, 12)))
        shape = rng.choice([f"[{fan}]", f"{{<<: [{fan}], k{level}: v}}", f"{{a: {fan.split(', ')[0]}}}"])
        lines.append(f"n{level}: &n{level} {shape}")
    field = rng.choice(FIELDS)
    lines.append(f"providers:\n  evil:\n    {field}: *n{rng.randint(0, len(lines) - 1)}")
    return "\n".join(lines) + "\n"


def test_random_alias_chains_load_or_fail_fast(tmp_path: Path) -> None:
    """Aliases that fan out or merge at random: a clean load or one ConfigError, never a runaway (item 15)."""
    rng = random.Random(1414)
    for _ in range(200):
        (tmp_path / YAML_NAME).write_text(random_alias_chain(rng))
        load_cleanly(tmp_path)


def test_random_path_flags_are_used_or_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """-d and -f with components of any length, links in a loop and odd characters: exit 0 or 2 with one
    line, never an internal error (issue 9 item 16)."""
    import io
    import sys
    from llmc.cli.CommandLine import main
    rng = random.Random(1515)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    pieces = ["a" * 255, "b" * 256, "c" * 4000, "loop", "..", ".", "x y", "é" * 130, "~", ""]
    for _ in range(60):
        path = str(tmp_path / "/".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))))
        args = rng.choice([["-d", path, "-l"], ["-d", str(tmp_path / "d"), "-f", path, "-e", "-p", "hi"]])
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(b""))))
        status = main(args)
        err = capsys.readouterr().err
        assert status in (0, 2), err
        assert "internal error" not in err and (status == 0 or err.count("\n") == 1), err


def test_random_leftovers_only_dead_writers_temp_files_are_swept(tmp_path: Path) -> None:
    """Temp-looking names, ages and live locks at random: the sweep removes exactly the orphans (item 11)."""
    import fcntl
    import os
    import time
    from llmc.base.SafeFiles import ensure_directory
    rng = random.Random(1616)
    names = ["kept.json", "chat_history.txt", "config.toml", YAML_NAME, "x.md", "weird name.json"]
    for round_number in range(40):
        directory = tmp_path / str(round_number)
        directory.mkdir()
        expected_gone, kept, held = [], [], []
        for index in range(rng.randint(1, 8)):
            llmc_like = rng.random() < 0.7
            name = (f".{rng.choice(names)}.{index:08d}.tmp" if llmc_like
                    else rng.choice([f".{index}.tmp", f"{index}.tmp", f".x.{index}.TMP", f".y.{index:07d}.tmp"]))
            path = directory / name
            path.write_text("partial")
            age = rng.choice([0, 1, 30, 3600])
            os.utime(path, (time.time() - age, time.time() - age))
            if llmc_like and rng.random() < 0.3:  # a live writer holds it
                handle = open(path)
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                held.append(handle)
            (expected_gone if llmc_like and age >= 30 and not (held and held[-1].name == str(path))
             else kept).append(path)
        ensure_directory(directory)
        assert [p for p in expected_gone if p.exists()] == [] and all(p.exists() for p in kept)
        for handle in held:
            handle.close()


def test_random_disk_failures_under_the_input_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.write failing at random offsets (ENOSPC, EDQUOT, EIO) and recovering: storing a line never
    raises and the file holds only whole entries, in order (issue 9 item 12)."""
    import errno
    import os
    from prompt_toolkit.history import FileHistory
    from llmc.chat.InputHistory import HISTORY_FILE_NAME, InputHistory
    rng = random.Random(1717)
    real_write = os.write
    state = {"fail": False}

    def flaky_write(fd: int, data: bytes) -> int:
        if state["fail"]:
            real_write(fd, data[:rng.randint(0, len(data))])
            raise OSError(rng.choice([errno.ENOSPC, errno.EDQUOT, errno.EIO]), "disk trouble")
        return real_write(fd, data)
    monkeypatch.setattr(os, "write", flaky_write)
    for round_number in range(30):
        directory = tmp_path / str(round_number)
        directory.mkdir()
        input_history = InputHistory(directory, warn=lambda _: None)
        history = input_history.open()
        stored = []
        for number in range(rng.randint(1, 15)):
            state["fail"] = rng.random() < 0.4
            line = rng.choice(["x", "two\nlines", "ünï", "+plus", "# hash", ""]) + str(number)
            history.append_string(line)
            input_history.say_notices()
            if not state["fail"]:
                stored.append(line)
        state["fail"] = False
        assert list(FileHistory(str(directory / HISTORY_FILE_NAME)).load_history_strings())[::-1] == stored
