"""The client without a network: settings and signers, references and results, the facade's
rules (refunds, partial results, timeouts), and dead endpoints. The facade's rules run on a
scripted transport (the only stand-in here: a real refund needs a faulty committee, which the
end-to-end tests cover elsewhere); everything with a chain or relayer is in tests/e2e/test_client.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from eth_account import Account

from infera.client import ClientSettings, Embeddings, Infera, InferaClient, JobRef, JobResult, load_signer
from infera.deployment import ContractAddresses, Deployment
from infera.devnet import DEVNET_KEYS, free_port
from infera.errors import (
    ConfigError,
    InferaError,
    JobRefunded,
    RelayerUnreachable,
    ResultsTimeout,
    RpcUnreachable,
)
from infera.results import FeeQuote, InvalidJobRef
from infera.types import JobStatus
from support.settings import isolated_settings as isolated_settings  # autouse: no machine settings

KEY = DEVNET_KEYS[4]


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize(("settings", "message"), [
    ({"private_key": KEY, "keyfile": "k.json"}, "set one signer, not private_key and keyfile"),
    ({"private_key": KEY, "ape_account": "me"}, "set one signer, not private_key and ape_account"),
    ({"transport": "carrier-pigeon", "private_key": KEY}, "transport"),
    ({"transport": "relayer", "api_key": "ifr_a_b"}, "needs INFERA_RELAYER_URL"),
    ({"transport": "relayer", "relayer_url": "http://127.0.0.1:1"}, "needs a signer"),
    ({}, "the chain transport signs with your key"),
    ({"private_key": KEY, "rpc_url": "ftp://x"}, "not an http:// or https:// URL"),
])
def test_bad_settings_are_a_config_error_that_says_what_to_set(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Infera.connect(**settings)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERA_TRANSPORT", "relayer")
    monkeypatch.setenv("INFERA_RELAYER_URL", "http://relayer.example:8080")
    monkeypatch.setenv("INFERA_API_KEY", "ifr_id_secret")
    s = ClientSettings()
    assert (s.transport, s.relayer_url, s.has_signer) == ("relayer", "http://relayer.example:8080", False)
    assert s.api_key is not None and "secret" not in repr(s)


def test_a_keyfile_signs_as_its_account_and_a_wrong_password_is_a_config_error(tmp_path: Path) -> None:
    account = Account.from_key(KEY)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=2)))
    signer = load_signer(ClientSettings(keyfile=path, keyfile_password="pw"))
    assert signer is not None and signer.address == account.address
    with pytest.raises(ConfigError, match="cannot decrypt keyfile"):
        load_signer(ClientSettings(keyfile=path, keyfile_password="wrong"))
    with pytest.raises(ConfigError, match="INFERA_KEYFILE_PASSWORD"):
        load_signer(ClientSettings(keyfile=path))


# ---------------------------------------------------------------- references
@pytest.mark.parametrize("ref", [JobRef(job_id=7), JobRef(request_id="5f0c-ab", index=3),
                                 JobRef(request_id="5f0c-ab", index=0, job_id=12)])
def test_a_job_reference_is_a_string_and_back(ref: JobRef) -> None:
    assert JobRef.parse(str(ref)) == ref
    assert JobRef.model_validate_json(ref.model_dump_json()) == ref


@pytest.mark.parametrize("text", ["7", "job:x", "req:abc", "req:/3", ""])
def test_a_string_that_is_no_reference_is_refused(text: str) -> None:
    with pytest.raises(InvalidJobRef):
        JobRef.parse(text)


def _result(job_id: int, vector: list[int] | None, status: JobStatus = JobStatus.ACCEPTED) -> JobResult:
    return JobResult(ref=JobRef(job_id=job_id), job_id=job_id, status=status, vector=vector)


def test_embeddings_are_unit_vectors_json_and_numpy() -> None:
    out = Embeddings(model="m", results=[_result(1, [3, 4, 0]), _result(2, [0, -127, 0])])
    assert out.vectors == [[0.6, 0.8, 0.0], [0.0, -1.0, 0.0]]
    dumped = json.loads(out.to_json())
    assert dumped["vectors"] == out.vectors and dumped["results"][0]["status"] == "accepted"
    assert Embeddings.model_validate_json(out.to_json()).results == out.results
    array = out.numpy(np.float64)
    assert array.shape == (2, 3) and array.dtype == np.float64
    assert np.allclose(np.linalg.norm(array, axis=1), 1.0)


def test_a_fee_quote_reads_in_infer() -> None:
    quote = FeeQuote(model="m", model_id=1, jobs=3, fee_per_job_wei=10**16, total_wei=3 * 10**16)
    assert str(quote.total_infer) == "0.03" and json.loads(quote.model_dump_json())["fee_per_job_infer"] == "0.01"


# ------------------------------------------------------------- facade rules
class Scripted:
    """A transport whose jobs become final on the poll given for each, with the given result."""

    name = "scripted"

    def __init__(self, outcomes: Sequence[tuple[int, list[int] | None]]) -> None:
        self.outcomes = list(outcomes)  # (polls until final, vector or None for a refund)
        self.polls = 0
        self.submitted: list[list[str]] = []

    async def quote(self, model: str | int, jobs: int) -> FeeQuote:
        return FeeQuote(model=str(model), model_id=1, jobs=jobs, fee_per_job_wei=5, total_wei=5 * jobs)

    async def submit(self, texts: Sequence[str], model: str | int, idempotency_key: str) -> list[JobRef]:
        self.submitted.append(list(texts))
        return [JobRef(job_id=i + 1) for i in range(len(texts))]

    async def poll(self, refs: Sequence[JobRef]) -> dict[JobRef, JobResult]:
        self.polls += 1
        out = {}
        for ref in refs:
            after, vector = self.outcomes[(ref.job_id or 1) - 1]
            if self.polls >= after:
                status = JobStatus.ACCEPTED if vector is not None else JobStatus.REFUNDED
                out[ref] = JobResult(ref=ref, job_id=ref.job_id, status=status, vector=vector)
        return out

    async def close(self) -> None:
        pass


def test_a_refunded_job_raises_naming_it_unless_partial_results_are_allowed() -> None:
    client = InferaClient(Scripted([(1, [1, 0]), (1, None)]), poll_interval=0.01)
    with pytest.raises(JobRefunded, match="job:2") as refunded:
        asyncio.run(client.embed(["a", "b"]))
    assert refunded.value.refs == ("job:2",)
    out = asyncio.run(client.embed(["a", "b"], allow_partial=True))
    assert out.vectors == [[1.0, 0.0], None]
    assert np.isnan(out.numpy()[1]).all()


def test_stream_yields_in_completion_order_and_results_keep_the_order_given() -> None:
    client = InferaClient(Scripted([(3, [1]), (1, [2]), (2, [3])]), poll_interval=0.01)

    async def go() -> tuple[list[int | None], list[int | None]]:
        streamed = [r.job_id async for r in client.stream(["a", "b", "c"])]
        ordered = [r.job_id for r in await client.results(["job:1", "job:2", "job:3"])]
        return streamed, ordered

    assert asyncio.run(go()) == ([2, 3, 1], [1, 2, 3])


def test_a_timeout_names_the_open_jobs_to_reattach_to() -> None:
    client = InferaClient(Scripted([(1, [1]), (10**9, [2])]), poll_interval=0.01)
    with pytest.raises(ResultsTimeout) as timed_out:
        asyncio.run(client.embed(["a", "b"], timeout=0.05))
    assert timed_out.value.pending == ("job:2",)


def test_one_string_is_not_taken_for_a_list_of_texts() -> None:
    scripted = Scripted([(1, [1])])
    with pytest.raises(InferaError, match="not one string"):
        asyncio.run(InferaClient(scripted).embed("hello"))  # type: ignore[arg-type]
    assert scripted.submitted == []


# ------------------------------------------------------------ dead endpoints
def test_a_dead_rpc_port_is_an_infera_error() -> None:
    address = "0x" + "11" * 20
    record = Deployment(network="infera:devnet", chain_id=31337, deployment_block=0, deployer=address,
                        contracts=ContractAddresses(**dict.fromkeys(ContractAddresses.model_fields, address)),
                        models={"all-MiniLM-L6-v2": 1})
    for transport in ({"transport": "chain"}, {"transport": "relayer", "relayer_url": "http://127.0.0.1:1"}):
        with pytest.raises(RpcUnreachable):  # the relayer transport reads the chain for gasless signing
            Infera.connect(private_key=KEY, rpc_url=f"http://127.0.0.1:{free_port()}", rpc_retry_for=0.5,
                           deployment=record, **transport)


def test_a_dead_relayer_port_is_an_infera_error() -> None:
    with Infera.connect(transport="relayer", relayer_url=f"http://127.0.0.1:{free_port()}", api_key="ifr_a_b",
                        rpc_retry_for=0.5) as infera:
        for call in (lambda: infera.quote(1), lambda: infera.embed(["x"], timeout=1),
                     lambda: infera.reattach(["req:r/0"], timeout=1)):
            with pytest.raises(RelayerUnreachable):
                call()


# --------------------------------------------------------------- lazy imports
def _python(code: str, **env: str) -> str:
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_the_client_imports_neither_ape_nor_the_frameworks() -> None:
    loaded = _python("import sys, infera.client, infera.integrations; "
                     "print(sorted(m for m in ('ape', 'langchain_core', 'llama_index') if m in sys.modules))")
    assert loaded == "[]"


def test_an_ape_account_signs_through_its_keyfile(tmp_path: Path) -> None:
    (tmp_path / "accounts").mkdir()
    keyfile = Account.encrypt(KEY, "pw", kdf="pbkdf2", iterations=2)
    (tmp_path / "accounts" / "alice.json").write_text(json.dumps(keyfile))
    # One interpreter for both (importing ape takes seconds), with ape's data folder in tmp_path.
    code = """
from infera.client import ClientSettings, load_signer
from infera.errors import ConfigError
print(load_signer(ClientSettings(ape_account="alice", keyfile_password="pw")).address)
try:
    load_signer(ClientSettings(ape_account="bob", keyfile_password="pw"))
except ConfigError as exc:
    print(exc)
"""
    address, missing = _python(code, APE_DATA_FOLDER=str(tmp_path)).splitlines()[-2:]
    assert address == Account.from_key(KEY).address
    assert missing.startswith("no ape account 'bob'")
