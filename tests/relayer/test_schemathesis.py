"""Property-based API testing with schemathesis: a real relayer process on a devnet (no nodes:
no route needs one to answer) is sent cases generated from its own /openapi.json, with a valid
API key; every response must be free of 5xx and conform to the document (status codes, content
types, bodies, headers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from infera_testing.localnet import DeployedState, LocalNetwork
from relayer.process import LocalRelayer as Relayer

# Per operation and mode (fewer where the operation has fewer distinct inputs); the run prints
# how many cases it sent in all. Negative cases break the schema on purpose: they must get a
# documented 4xx, never a 5xx.
EXAMPLES = int(os.environ.get("INFERA_SCHEMATHESIS_EXAMPLES", "60"))


@pytest.fixture
def relayer(tmp_path: Path, deployed_state: DeployedState) -> Iterator[Relayer]:
    with LocalNetwork(tmp_path / "net") as net:
        net.start_deployed(deployed_state)
        r = Relayer(net, tmp_path, default_rate_per_minute="100000")
        try:
            yield r
        finally:
            r.stop()


def test_every_generated_case_gets_a_documented_non_5xx_answer(relayer: Relayer) -> None:
    secret = relayer.cli("keys", "create", "--name", "fuzz", "--quota", "1000000", "--rate", "1000000")
    relayer.start()
    schema = schemathesis.openapi.from_url(f"{relayer.url}/openapi.json")
    auth = {"Authorization": f"Bearer {secret}"}
    sent = 0
    failures: list[str] = []
    operations = [(result.ok(), mode) for result in schema.get_all_operations()
                  for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    for operation, mode in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case: schemathesis.Case) -> None:
            nonlocal sent
            sent += 1
            case.call_and_validate(base_url=relayer.url, headers=auth, timeout=15)

        try:
            check()
        except Unsatisfiable:
            # Negative mode on an operation that takes nothing (no parameter or body to break).
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation, then fail once
            failures.append(f"{operation.label}: {exc}")
    print(f"schemathesis: {sent} cases sent")
    assert not failures, "\n\n".join(failures) + "\n--- relayer log ---\n" + relayer.log()
    assert sent >= EXAMPLES
