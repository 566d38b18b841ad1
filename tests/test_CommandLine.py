"""main.main(): every failure becomes one line and an exit status; nothing leaks a key or a traceback."""
from __future__ import annotations

from pathlib import Path

import pytest

from llmc.cli import CommandLine as main
from llmc.base.Errors import ApiError, ConfigError, IncompleteReplyError, LlmcError


def failing(exc: BaseException):
    def dispatch(args):
        raise exc
    return dispatch


@pytest.mark.parametrize("exc, status", [
    (LlmcError("plain"), 1), (ConfigError("bad file"), 2), (ApiError("http"), 1),
    (IncompleteReplyError("cut", "part"), 1)])
def test_llmc_errors_become_one_line(exc, status, monkeypatch, capsys) -> None:
    monkeypatch.setattr(main, "_dispatch", failing(exc))
    assert main.main(["-p", "x"]) == status
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"llmc: error: {exc}\n"


def test_unexpected_errors_are_one_line_without_the_key(monkeypatch, capsys) -> None:
    monkeypatch.setenv("SOMEPROVIDER_API_KEY", "k-0123456789-secret")
    monkeypatch.setattr(main, "_dispatch", failing(RuntimeError("boom with k-0123456789-secret inside")))
    assert main.main([]) == 70
    err = capsys.readouterr().err
    assert err == "llmc: internal error: RuntimeError: boom with ******** inside\n"


def test_keys_from_loaded_config_are_redacted_too(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[providers.openai]\napi_key = "cfg-key-abcdefgh"\n')
    monkeypatch.setattr(main, "_list_models", failing(ValueError("leak cfg-key-abcdefgh")))
    assert main.main(["-d", str(data), "--list-models"]) == 70
    assert "cfg-key-abcdefgh" not in capsys.readouterr().err


def test_keyboard_interrupt_is_exit_130(monkeypatch, capsys) -> None:
    monkeypatch.setattr(main, "_dispatch", failing(KeyboardInterrupt()))
    assert main.main([]) == 130
    assert capsys.readouterr().err == "\nInterrupted.\n"


def test_broken_pipe_is_exit_141_and_quiet(monkeypatch, capsys) -> None:
    monkeypatch.setattr(main, "_dispatch", failing(BrokenPipeError()))
    monkeypatch.setattr(main, "_silence_stdout", lambda: None)
    assert main.main([]) == 141
    assert capsys.readouterr().err == ""


def test_argparse_errors_keep_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main.main(["--no-such-flag"])
    assert info.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


def test_an_output_that_cannot_be_written_is_one_line_and_exit_74(monkeypatch, capsys) -> None:
    import errno
    monkeypatch.setattr(main, "_dispatch", failing(OSError(errno.ENOSPC, "No space left on device")))
    monkeypatch.setattr(main, "_silence_stdout", lambda: None)
    assert main.main(["-l"]) == 74
    assert capsys.readouterr().err == "llmc: error: cannot write the output: No space left on device\n"


def test_other_os_errors_stay_internal_errors(monkeypatch, capsys) -> None:
    import errno
    monkeypatch.setattr(main, "_dispatch", failing(OSError(errno.EACCES, "Permission denied")))
    assert main.main(["-l"]) == 70
    assert capsys.readouterr().err.startswith("llmc: internal error: PermissionError: ")


def test_running_out_of_memory_is_one_line_and_never_exit_70(monkeypatch, capsys) -> None:
    monkeypatch.setattr(main, "_dispatch", failing(MemoryError()))
    assert main.main([]) == 1
    assert capsys.readouterr().err == "llmc: error: out of memory (a reply or an input too large to hold?)\n"


def test_u_is_usage_and_uvm_stays_update_valid_models() -> None:
    from llmc.cli.CommandLine import build_parser
    parser = build_parser()
    assert parser.parse_args(["-uvm"]).update_valid_models and not parser.parse_args(["-uvm"]).usage
    both = parser.parse_args(["-u", "-a", "x.txt", "-a", "y.png", "explain", "this"])
    assert both.usage and both.attach == ["x.txt", "y.png"] and both.prompt_words == ["explain", "this"]


def test_the_collector_is_off_during_set_up_and_back_before_the_work(monkeypatch, tmp_path: Path) -> None:
    import gc
    seen = []

    def a_run(argv) -> int:  # as the chat or -p: set up, then work
        seen.append(gc.isenabled())
        main._start_work()
        seen.append(gc.isenabled())
        return 0
    monkeypatch.setattr(main, "main", a_run)
    try:
        with pytest.raises(SystemExit):
            main.run(["-p", "x"])
        assert seen == [False, True]  # set-up without the cyclic collector, the work with it
        assert not gc.isenabled()  # the exit without it: a last collection would only delay it
    finally:
        gc.enable()