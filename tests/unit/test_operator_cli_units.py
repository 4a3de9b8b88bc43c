"""The operator CLI's pieces that need no chain: amounts, settings errors, state_dir, the key lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from infera.errors import InvalidAmount
from infera.operator import ONE, format_infer, parse_infer, utc_iso
from oracle_node import cli
from oracle_node.config import NodeSettings, default_state_dir
from oracle_node.keylock import KeyInUse, KeyLock
from support.settings import isolated_settings as isolated_settings  # autouse: no machine settings

KEY = "0x" + "ab" * 32
ADDRESS = Account.from_key(KEY).address


# ------------------------------------------------------------------ amounts
@pytest.mark.parametrize(("text", "wei"), [
    ("150.5", 150 * ONE + ONE // 2),
    ("10", 10 * ONE),
    ("25.25", 25 * ONE + ONE // 4),
    ("0.000000000000000001", 1),
    ("1.000000000000000000000", ONE),  # trailing zeros add no precision
    (" 1e3 ", 1000 * ONE),
    ("79228162514.264337593543950335", 2**96 - 1),  # the largest uint96, exactly
    ("0.1", 10**17),  # a float would make this 100000000000000005551 wei
])
def test_amounts_parse_exactly(text: str, wei: int) -> None:
    assert parse_infer(text) == wei


@pytest.mark.parametrize(("text", "why"), [
    ("1.0000000000000000001", "more than 18 decimals"),
    ("-5", "more than 0"),
    ("0", "more than 0"),
    ("-0", "more than 0"),
    ("nan", "finite"),
    ("inf", "finite"),
    ("-Infinity", "finite"),
    ("12abc", "not an amount"),
    ("", "not an amount"),
    ("79228162514.264337593543950336", "more than any stake"),
])
def test_bad_amounts_are_refused(text: str, why: str) -> None:
    with pytest.raises(InvalidAmount, match=why):
        parse_infer(text)


def test_amounts_format_exactly() -> None:
    assert format_infer(150 * ONE + ONE // 2) == "150.5"
    assert format_infer(1) == "0.000000000000000001"
    assert format_infer(0) == "0"
    assert format_infer(2**96 - 1) == "79228162514.264337593543950335"
    assert parse_infer(format_infer(123456789 * ONE + 987654321)) == 123456789 * ONE + 987654321
    assert utc_iso(0) == "1970-01-01T00:00:00Z"


def test_bad_amount_on_the_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["unstake", "1.0000000000000000001"])
    assert exit_.value.code == 2
    assert "more than 18 decimals" in capsys.readouterr().err


# ---------------------------------------------------------- settings errors
@pytest.mark.parametrize(("env", "expected"), [
    ({"INFERA_BATCH_SIZE": "0"}, "INFERA_BATCH_SIZE (got '0'): input should be greater than or equal to 1"),
    ({"INFERA_RPC_URL": "localhost:8545"}, "INFERA_RPC_URL: 'localhost:8545' is not an http:// or https:// URL"),
    ({"INFERA_RPC_URL": "http://127.0.0.1:99999"}, "is not a valid URL"),
    ({"INFERA_MODELS": "[]"},
     'INFERA_MODELS: serve at least one model: set INFERA_MODELS to a JSON list such as ["all-MiniLM-L6-v2"]'),
    ({"INFERA_MODELS": "all-MiniLM-L6-v2"}, "INFERA_MODELS could not be parsed: list values must be JSON"),
    ({"INFERA_FAULT": "sometimes-lie"}, "INFERA_FAULT (got 'sometimes-lie')"),
    ({"INFERA_LOG_LEVEL": "loud"}, "INFERA_LOG_LEVEL: 'loud' is not a log level"),
])
@pytest.mark.parametrize("command", ["run", "status", "claim"])
def test_settings_errors_are_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], expected: str,
    command: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main([command]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("oracle-node: ") and out.err.endswith("\n") and out.err.count("\n") == 1
    assert expected in out.err
    assert "Traceback" not in out.err


def test_settings_error_from_dotenv_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".env").write_text("INFERA_BATCH_SIZE=0\n")
    assert cli.main(["status"]) == 2
    assert "INFERA_BATCH_SIZE" in capsys.readouterr().err


def test_private_key_never_appears_in_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFERA_PRIVATE_KEY", KEY)
    monkeypatch.setenv("INFERA_BATCH_SIZE", "0")
    assert cli.main(["run"]) == 2
    assert "ab" * 32 not in capsys.readouterr().err


# ---------------------------------------------------------------- state_dir
def test_state_dir_defaults_to_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_state_dir() == tmp_path / "data" / "infera" / "node-state"
    assert NodeSettings(_env_file=None).state_dir == tmp_path / "data" / "infera" / "node-state"  # type: ignore[call-arg]


@pytest.mark.parametrize("xdg", [None, "", "relative/data"])
def test_state_dir_falls_back_to_local_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str | None) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)  # the XDG spec ignores a relative XDG_DATA_HOME
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    state_dir = NodeSettings(_env_file=None).state_dir  # type: ignore[call-arg]
    assert state_dir == tmp_path / "home" / ".local" / "share" / "infera" / "node-state"
    assert state_dir.is_absolute()


def test_relative_state_dir_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INFERA_STATE_DIR", "run/state")
    assert NodeSettings(_env_file=None).state_dir == tmp_path / "run" / "state"  # type: ignore[call-arg]
    monkeypatch.setenv("INFERA_STATE_DIR", str(tmp_path / "elsewhere"))
    assert NodeSettings(_env_file=None).state_dir == tmp_path / "elsewhere"  # type: ignore[call-arg]


# --------------------------------------------------------------------- lock
def test_one_process_per_key(tmp_path: Path) -> None:
    first = KeyLock(tmp_path / "state", ADDRESS, "run")
    second = KeyLock(tmp_path / "state", ADDRESS, "run")
    claim = KeyLock(tmp_path / "state", ADDRESS, "claim")
    other_key = KeyLock(tmp_path / "state", "0x" + "12" * 20, "run")
    with first:
        with pytest.raises(KeyInUse, match=f"another oracle-node process is already running with key {ADDRESS}; "
                                           "stop it first"):
            second.acquire()
        with pytest.raises(KeyInUse) as refused:
            claim.acquire()
        assert "the running node must be stopped" in str(refused.value)
        assert "same nonces" in str(refused.value)
        assert "oracle-node run" in str(refused.value)  # who holds it
        with other_key:  # another key has its own lock
            assert other_key.held
    assert not first.held
    with second:  # released: the next one gets it
        assert second.held


def test_sending_command_refused_while_run_holds_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFERA_PRIVATE_KEY", KEY)
    monkeypatch.setenv("INFERA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("INFERA_LOG_JSON", "false")
    with KeyLock(tmp_path / "state", ADDRESS, "run"):
        for argv in (["claim"], ["unstake", "1"], ["run"]):
            assert cli.main(argv) == 2
            err = capsys.readouterr().err
            assert f"oracle-node: another oracle-node process is already running with key {ADDRESS}" in err
