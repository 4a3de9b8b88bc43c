"""Gas snapshot: every tracked figure of a job's life, checked against the committed snapshot.

Like Uniswap v4's `.forge-snapshots`: `tests/contracts/gas_snapshot.json` is committed, and this
test fails when a figure rises more than 2% above it. After a change that moves gas on purpose,
refresh it with `make gas-snapshot` (INFERA_UPDATE_GAS_SNAPSHOT=1) and commit the new file with
the change, so the diff shows the cost. Figures: one 384-dim job, a committee of 3.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from contract_helpers import FEE, SALT, assign_all, commit_for, near, random_vector, seat_nodes
from infera.vectors import pack

SNAPSHOT = Path(__file__).with_name("gas_snapshot.json")
TOLERANCE = 0.02
# The last commit's gas depends on the committee's draw order (seen: 72,423 to 75,223 over four
# runs with the same code), so it gets a wider band; everything else is steady within 0.1%.
TOLERANCE_BY_FIGURE = {"commit_last": 0.05}
UPDATE = os.environ.get("INFERA_UPDATE_GAS_SNAPSHOT") == "1"


def _job_lifecycle(chain: Any, jobs: Any, token: Any, requester: Any, accounts: Any) -> dict[str, int]:
    by_address = {a.address: a for a in accounts}
    token.approve(jobs, 11 * FEE, sender=requester)
    single = jobs.submit(1, ["a single job"], FEE, False, sender=requester)
    assign_single = assign_all(jobs, requester)
    batch = jobs.submit(1, [f"batched job {i}" for i in range(10)], FEE, False, sender=requester)
    assign_batch = assign_all(jobs, requester)
    base = random_vector(5)
    vectors = [base, near(base, 1), near(base, 2)]
    seats = [by_address[n] for n in seat_nodes(jobs, 1)]
    commits = [jobs.commit(1, commit_for(chain, jobs, 1, s, v), sender=s) for s, v in zip(seats, vectors, strict=True)]
    reveals = [jobs.reveal(1, v, SALT, sender=s) for s, v in zip(seats, vectors, strict=True)]
    final = jobs.finalize(1, vectors, sender=seats[0])
    return {
        "submit_single": single.gas_used,
        "assign_single": assign_single.gas_used,
        "submit_batch10_per_job": batch.gas_used // 10,
        "assign_batch10_per_job": assign_batch.gas_used // 10,
        "commit_first": commits[0].gas_used,
        "commit_last": commits[-1].gas_used,  # also starts the reveal phase
        "reveal_max": max(r.gas_used for r in reveals),
        "finalize": final.gas_used,
        "per_job_batched_total": batch.gas_used // 10 + assign_batch.gas_used // 10
        + sum(c.gas_used for c in commits) + sum(r.gas_used for r in reveals) + final.gas_used,
    }


def test_gas_stays_within_the_snapshot(chain: Any, jobs: Any, token: Any, requester: Any, accounts: Any, three_nodes: list[Any], cosine_harness: Any) -> None:
    figures = _job_lifecycle(chain, jobs, token, requester, accounts)
    rng = np.random.default_rng(5)
    a, b = (pack(rng.integers(-128, 128, 384).astype(np.int8)) for _ in range(2))
    figures["cosine_prepare_384"], figures["cosine_pair_384"] = (int(g) for g in cosine_harness.gasUsed(a, b))
    out = Path(".run/gas-report.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    if UPDATE or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(figures, indent=2) + "\n")
    snapshot = json.loads(SNAPSHOT.read_text())
    assert set(snapshot) == set(figures), "the snapshot tracks other figures: refresh it with `make gas-snapshot`"
    risen = {k: (snapshot[k], v) for k, v in figures.items() if v > snapshot[k] * (1 + TOLERANCE_BY_FIGURE.get(k, TOLERANCE))}
    assert not risen, f"gas rose more than {TOLERANCE:.0%} over the snapshot (was, now): {risen}"
