"""Fast checks of the relayer's small parts: keys, the rate limiter, back-off, request models,
settings, and the CLI's key creation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from relayer.keys import MalformedKey, RateLimiter, new_key, parse_key, secret_matches
from relayer.models import SubmitJobsRequest
from relayer.settings import RelayerSettings
from relayer.submitter import backoff


def test_a_key_is_stored_only_as_a_hash_and_parses_back() -> None:
    key = new_key()
    key_id, secret = parse_key(key.plaintext)
    assert key_id == key.key_id and secret not in key.secret_hash and key.plaintext not in key.secret_hash
    assert secret_matches(secret, key.secret_hash)
    assert not secret_matches(secret + "x", key.secret_hash)
    for bad in ("", "ifr_", "ifr__x", "abc_1_2", "ifr_1"):
        with pytest.raises(MalformedKey):
            parse_key(bad)


def test_rate_limiter_allows_the_burst_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert all(limiter.take("k", 60) == 0 for _ in range(60))
    wait = limiter.take("k", 60)
    assert 0 < wait <= 1.0
    assert limiter.take("other", 60) == 0  # buckets are per key
    now[0] += 1.0
    assert limiter.take("k", 60) == 0


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 1.0, 10.0) for n in (1, 2, 3, 4, 5, 9)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_request_model_applies_the_contracts_input_rule() -> None:
    assert SubmitJobsRequest(model="m", texts=["é" * 1024]).texts  # 2048 bytes: the limit
    for texts in ([], [""], ["é" * 1025], ["\ud800"], ["a"] * 65):
        with pytest.raises(ValidationError):
            SubmitJobsRequest(model="m", texts=texts)


def test_settings_refuse_an_unknown_database_and_batches_over_the_contracts_bound() -> None:
    with pytest.raises(ValidationError):
        RelayerSettings(database_url="mysql://x")
    with pytest.raises(ValidationError):
        RelayerSettings(max_batch_jobs=65)


def test_cli_creates_a_key_printed_once(tmp_path: Path) -> None:
    env = {"INFERA_RELAYER_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "PATH": "/usr/bin:/bin",
           "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-m", "relayer", "keys", "create", "--name", "ci", "--quota", "5"],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    key_id, _ = parse_key(out.stdout.strip())
    assert (tmp_path / "r.db").read_bytes().count(out.stdout.strip().encode()) == 0
    bad = subprocess.run([sys.executable, "-m", "relayer", "keys", "create", "--name", "x"],
                         env={**env, "INFERA_RELAYER_MAX_BATCH_JOBS": "100"}, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("infera-relayer: invalid setting: max_batch_jobs")


def test_tx_store_finds_a_tagged_transaction_in_any_state(tmp_path: Path) -> None:
    from hexbytes import HexBytes

    from infera.txmanager import ManagedTx, TxAttempt, TxState, TxStore

    store = TxStore(tmp_path / "tx.db")
    for nonce, action in enumerate(["submit:a", "approve", "submit:b"]):
        tx = ManagedTx(nonce, action, [], "0x" + "11" * 20, b"", 21_000, TxState.PENDING, 0.0)
        tx.attempts.append(TxAttempt(HexBytes(bytes([nonce]) * 32), b"raw", 1, 1, 0))
        store.insert(tx)
    tx.state = TxState.CONFIRMED
    store.update(tx)
    found = store.find("submit:b")
    assert found is not None and found.nonce == 2 and found.state is TxState.CONFIRMED and len(found.attempts) == 1
    assert [t.action for t in store.open()] == ["submit:a", "approve"]
    assert store.find("submit:c") is None
    store.close()
