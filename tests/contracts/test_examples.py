"""InferaConsumer and the example dApps (SemanticMatchOracle, ModerationRouter): real jobs
through the real JobRegistry with chosen vectors, the callback's guards, the owner's setters and
the callback's gas against the registry's limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from contract_helpers import DIM, FEE, POLICY, model_params, near, random_vector, reverts_with

ACCEPTED_CLAIM, REJECTED_CLAIM, UNSCORED_CLAIM = 2, 3, 4
ALLOWED, BLOCKED = 2, 3
THRESHOLD = 900_000
CALLBACK_LIMIT = POLICY["callback_gas_limit"]


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture
def oracle(project: Any, deployer: Any, jobs: Any, three_nodes: list[Any]) -> Any:
    return deployer.deploy(project.SemanticMatchOracle, jobs, 1, deployer)


@pytest.fixture
def router(project: Any, deployer: Any, jobs: Any, three_nodes: list[Any]) -> Any:
    return deployer.deploy(project.ModerationRouter, jobs, 1, deployer)


@pytest.fixture
def deliver(jobs: Any, run_job: Callable[..., Any], draw: Callable[[], Any]) -> Callable[..., Any]:
    """Draw, commit and reveal vectors near `result` for each job, then finalize them; the medoid
    of three near copies is accepted. Returns the finalize receipts."""

    def _deliver(results: dict[int, bytes]) -> list[Any]:
        draw()
        ready = []
        for job_id, result in results.items():
            vectors = [result, near(result, 1, 0.02), near(result, 2, 0.02)]
            ready.append((job_id, vectors, run_job(job_id, vectors)))
        return [jobs.finalize(job_id, vectors, sender=seats[0]) for job_id, vectors, seats in ready]

    return _deliver


def callback_gas(chain: Any, tx: Any, consumer: Any) -> int:
    """Gas the registry's call into `consumer` used, from anvil's call trace of `tx`."""
    trace = chain.provider.make_request("debug_traceTransaction", [tx.txn_hash, {"tracer": "callTracer"}])
    selector = "0x" + keccak(text="onInferaResult(uint256,bytes32,bytes)")[:4].hex()

    def find(call: dict[str, Any]) -> int | None:
        if call.get("to", "").lower() == consumer.address.lower() and call["input"].startswith(selector):
            assert not call.get("error"), f"{call.get('error')} after {int(call['gasUsed'], 16)} gas"
            return int(call["gasUsed"], 16)
        for sub in call.get("calls", []):
            if (found := find(sub)) is not None:
                return found
        return None

    gas = find(trace)
    assert gas is not None, "no callback in the trace"
    return gas


def revert_data_as(chain: Any, sender: Any, contract: Any, data: str) -> bytes:
    """Revert data of an eth_call from `sender` (any address, a contract included)."""
    result = chain.provider.web3.provider.make_request(
        "eth_call", [{"from": str(getattr(sender, "address", sender)), "to": contract.address, "data": data}, "latest"]
    )
    assert "error" in result, f"the call did not revert: {result}"
    return bytes.fromhex(result["error"]["data"][2:])


def error_data(signature: str, types: list[str], values: list[Any]) -> bytes:
    return keccak(text=signature)[:4] + abi_encode(types, values)


def submit_claim(token: Any, oracle: Any, claimant: Any, text: str) -> int:
    token.approve(oracle, FEE, sender=claimant)
    tx = oracle.submitClaim(text, sender=claimant)
    return int(tx.decode_logs(oracle.ClaimSubmitted)[0].claimId)


# ------------------------------------------------------------------------ SemanticMatchOracle
def test_oracle_accepts_a_match_and_rejects_the_rest_within_the_callback_gas_limit(
    chain: Any, deployer: Any, token: Any, jobs: Any, oracle: Any, requester: Any,
    deliver: Callable[..., Any],
) -> None:
    """A full reference set (MAX_REFERENCES vectors): the claim near reference 3 is accepted with
    its similarity, an unrelated one rejected with the best it reached; both callbacks fit the
    registry's limit, and the claimant paid the fee, not the oracle."""
    references = [random_vector(100 + i) for i in range(oracle.MAX_REFERENCES())]
    tx = oracle.setReferences(references, THRESHOLD, sender=deployer)
    published = tx.decode_logs(oracle.ReferenceSetPublished)[0]
    assert (published.setId, published.count, published.thresholdPpm) == (1, 4, THRESHOLD)
    assert bytes(oracle.referencesOf(1)) == b"".join(references)

    token.transfer(oracle, 5 * FEE, sender=requester)  # the oracle's own INFER must stay untouched
    before = token.balanceOf(requester)
    match = submit_claim(token, oracle, requester, "the sky is blue")
    other = submit_claim(token, oracle, requester, "bananas are yellow")
    assert token.balanceOf(requester) == before - 2 * FEE and token.balanceOf(oracle) == 5 * FEE
    assert oracle.isPending(match) and oracle.claimOf(match).status == 1

    results = {match: near(references[3], 5, 0.05), other: random_vector(999)}
    accepted_tx, rejected_tx = deliver(results)
    gas = [callback_gas(chain, t, oracle) for t in (accepted_tx, rejected_tx)]
    print(f"\nSemanticMatchOracle callback gas, 4 references of {DIM}: {gas}")
    assert max(gas) < CALLBACK_LIMIT * 3 // 4  # a quarter of the limit to spare

    assert accepted_tx.decode_logs(jobs.CallbackDelivered)[0].success
    accepted = accepted_tx.decode_logs(oracle.ClaimAccepted)[0]
    assert accepted.claimId == match and accepted.referenceIndex == 3
    assert THRESHOLD <= accepted.similarityPpm <= 1_000_000
    assert oracle.claimOf(match).status == ACCEPTED_CLAIM and not oracle.isPending(match)

    assert rejected_tx.decode_logs(jobs.CallbackDelivered)[0].success
    rejected = rejected_tx.decode_logs(oracle.ClaimRejected)[0]
    assert rejected.claimId == other and -THRESHOLD < rejected.similarityPpm < THRESHOLD
    assert oracle.claimOf(other).status == REJECTED_CLAIM


def test_oracle_judges_a_claim_by_the_set_it_was_submitted_under(
    deployer: Any, token: Any, oracle: Any, requester: Any, deliver: Callable[..., Any],
) -> None:
    """The owner replaces the references while a claim is in flight: the claim still matches."""
    reference = random_vector(1)
    oracle.setReferences([reference], THRESHOLD, sender=deployer)
    claim = submit_claim(token, oracle, requester, "in flight")
    oracle.setReferences([random_vector(2)], THRESHOLD, sender=deployer)
    assert oracle.claimOf(claim).referenceSet == 1 and oracle.currentReferenceSet() == 2
    deliver({claim: near(reference, 3, 0.05)})
    assert oracle.claimOf(claim).status == ACCEPTED_CLAIM


def test_oracle_leaves_a_result_of_another_length_unscored(
    deployer: Any, token: Any, models: Any, oracle: Any, requester: Any, deliver: Callable[..., Any],
) -> None:
    """The model's dimension changed after the oracle was built: the result is recorded as
    unscored (a revert in the callback would only lose it)."""
    oracle.setReferences([random_vector(1)], THRESHOLD, sender=deployer)
    models.updateModel(1, model_params(dimension=DIM + 32), sender=deployer)
    claim = submit_claim(token, oracle, requester, "longer vector")
    (tx,) = deliver({claim: random_vector(4, DIM + 32)})
    event = tx.decode_logs(oracle.ClaimUnscored)[0]
    assert (event.claimId, event.length, event.dimension) == (claim, DIM + 32, DIM)
    assert oracle.claimOf(claim).status == UNSCORED_CLAIM


def test_oracle_setters_are_owner_only_and_check_their_input(deployer: Any, oracle: Any, accounts: Any) -> None:
    good = random_vector(1)
    with reverts_with(oracle.OwnableUnauthorizedAccount, account=accounts[5]):
        oracle.setReferences([good], THRESHOLD, sender=accounts[5])
    with reverts_with(oracle.SemanticMatchOracleInvalidReference, index=1, length=DIM - 32, dimension=DIM):
        oracle.setReferences([good, good[:-32]], THRESHOLD, sender=deployer)
    with reverts_with(oracle.SemanticMatchOracleInvalidReferenceCount, count=0, max=4):
        oracle.setReferences([], THRESHOLD, sender=deployer)
    with reverts_with(oracle.SemanticMatchOracleInvalidReferenceCount, count=5, max=4):
        oracle.setReferences([good] * 5, THRESHOLD, sender=deployer)
    for bad in (0, 1_000_001):
        with reverts_with(oracle.SemanticMatchOracleInvalidThreshold, thresholdPpm=bad):
            oracle.setReferences([good], bad, sender=deployer)
    assert oracle.currentReferenceSet() == 0


def test_oracle_refuses_claims_before_references_and_unpaid_claims(
    deployer: Any, token: Any, oracle: Any, requester: Any, accounts: Any,
) -> None:
    with reverts_with(oracle.SemanticMatchOracleNoReferences):
        oracle.submitClaim("too early", sender=requester)
    oracle.setReferences([random_vector(1)], THRESHOLD, sender=deployer)
    # The oracle holds INFER, but a claimant who approved nothing cannot spend it.
    token.transfer(oracle, 5 * FEE, sender=requester)
    with reverts_with(token.ERC20InsufficientAllowance, spender=oracle, allowance=0, needed=FEE):
        oracle.submitClaim("free ride", sender=accounts[5])
    assert token.balanceOf(oracle) == 5 * FEE


# -------------------------------------------------------------------------- ModerationRouter
def test_router_allows_blocks_and_marks_the_author(
    chain: Any, deployer: Any, token: Any, jobs: Any, router: Any, requester: Any, accounts: Any,
    deliver: Callable[..., Any],
) -> None:
    """Two allowed and two blocked prototypes (a full set); of an author's two messages the one nearest an
    allowed prototype passes, the one nearest a blocked one is blocked and marks its author, who
    can send nothing more until pardoned."""
    prototypes = [random_vector(200 + i) for i in range(4)]
    tx = router.setPrototypes(prototypes, [False, True, False, True], sender=deployer)
    assert tx.decode_logs(router.PrototypeSetPublished)[0].blockedMask == 0b1010

    author = accounts[5]
    token.transfer(author, 10 * FEE, sender=requester)
    token.approve(router, 2 * FEE, sender=author)
    tx = router.submitMessages(["good morning", "buy my scam coin"], sender=author)
    first = int(tx.decode_logs(router.MessageSubmitted)[0].messageId)
    allowed_tx, blocked_tx = deliver({first: near(prototypes[2], 6, 0.05), first + 1: near(prototypes[3], 7, 0.05)})

    routed = allowed_tx.decode_logs(router.MessageRouted)[0]
    assert (routed.messageId, routed.author, routed.verdict, routed.prototype) == (first, author.address, ALLOWED, 2)
    assert routed.similarityPpm > THRESHOLD and not allowed_tx.decode_logs(router.AuthorBlocked)
    routed = blocked_tx.decode_logs(router.MessageRouted)[0]
    assert (routed.messageId, routed.verdict, routed.prototype) == (first + 1, BLOCKED, 3)
    marked = blocked_tx.decode_logs(router.AuthorBlocked)[0]
    assert (marked.author, marked.messageId) == (author.address, first + 1)
    assert router.messageOf(first).verdict == ALLOWED and router.messageOf(first + 1).verdict == BLOCKED
    assert router.isBlocked(author)

    gas = [callback_gas(chain, t, router) for t in (allowed_tx, blocked_tx)]
    print(f"\nModerationRouter callback gas, 4 prototypes of {DIM} (allowed, blocked + mark): {gas}")
    assert max(gas) < CALLBACK_LIMIT * 3 // 4

    with reverts_with(router.ModerationRouterAuthorBlocked, author=author):
        router.submitMessages(["let me back in"], sender=author)
    with reverts_with(router.OwnableUnauthorizedAccount, account=author):
        router.pardon(author, sender=author)
    tx = router.pardon(author, sender=deployer)
    assert tx.decode_logs(router.AuthorPardoned)[0].author == author.address
    assert not router.isBlocked(author)
    with reverts_with(router.ModerationRouterNotBlocked, author=author):
        router.pardon(author, sender=deployer)
    token.approve(router, FEE, sender=author)
    router.submitMessages(["sorry"], sender=author)


def test_router_setters_are_owner_only_and_check_their_input(deployer: Any, router: Any, accounts: Any) -> None:
    good = random_vector(1)
    with reverts_with(router.OwnableUnauthorizedAccount, account=accounts[5]):
        router.setPrototypes([good], [True], sender=accounts[5])
    with reverts_with(router.ModerationRouterInvalidPrototype, index=0, length=DIM + 32, dimension=DIM):
        router.setPrototypes([good + good[:32], good], [True, False], sender=deployer)
    with reverts_with(router.ModerationRouterInvalidPrototypeCount, count=2, labels=1, max=4):
        router.setPrototypes([good, good], [True], sender=deployer)
    with reverts_with(router.ModerationRouterInvalidPrototypeCount, count=0, labels=0, max=4):
        router.setPrototypes([], [], sender=deployer)
    with reverts_with(router.ModerationRouterNoPrototypes):
        router.submitMessages(["nothing to compare with"], sender=deployer)
    assert router.currentPrototypeSet() == 0


# ------------------------------------------------------------------- InferaConsumer's guards
@pytest.mark.parametrize("kind", ["oracle", "router"])
def test_callback_only_from_the_registry_and_only_once_per_requested_job(
    request: pytest.FixtureRequest, chain: Any, deployer: Any, token: Any, jobs: Any, requester: Any,
    accounts: Any, deliver: Callable[..., Any], kind: str,
) -> None:
    """A result from anyone but the registry, for a job the consumer never requested, or for one
    already delivered, is refused."""
    consumer = request.getfixturevalue(kind)
    vector = random_vector(1)
    if kind == "oracle":
        consumer.setReferences([vector], THRESHOLD, sender=deployer)
        job_id = submit_claim(token, consumer, requester, "mine")
    else:
        consumer.setPrototypes([vector], [False], sender=deployer)
        token.approve(consumer, FEE, sender=requester)
        tx = consumer.submitMessages(["mine"], sender=requester)
        job_id = int(tx.decode_logs(consumer.MessageSubmitted)[0].messageId)
    result_hash = keccak(vector)

    with reverts_with(consumer.InferaConsumerNotRegistry, caller=accounts[5]):
        consumer.onInferaResult(job_id, result_hash, vector, sender=accounts[5])

    def as_registry(job: int) -> bytes:
        return revert_data_as(chain, jobs, consumer, consumer.onInferaResult.encode_input(job, result_hash, vector))

    unknown = error_data("InferaConsumerUnknownJob(uint256)", ["uint256"], [job_id + 1])
    assert as_registry(job_id + 1) == unknown  # someone else's job (or none at all)

    (tx,) = deliver({job_id: near(vector, 9, 0.05)})
    assert tx.decode_logs(consumer.InferaResultReceived)[0].jobId == job_id
    assert not consumer.isPending(job_id)
    assert as_registry(job_id) == error_data("InferaConsumerUnknownJob(uint256)", ["uint256"], [job_id])

