"""`ape run moderation_example --network infera:devnet:node`: a dApp that acts on verified
inference in its callback (docs/quickstart/dapp-developer.md walks through it).

The owner deploys `contracts/examples/ModerationRouter.sol` against the deployment named by
INFERA_NETWORK (its record from INFERA_DEPLOYMENTS_DIR or deployments/), buys two prototype
vectors through the network with the SDK (verified embeddings of an ordinary message and of
spam), and publishes them, the second marked blocked. An author then posts two messages; the
router pays their jobs from the author's INFER, and when the nodes' quorum accepts each vector,
the JobRegistry calls the router back, which routes the message to its nearest prototype and
blocks the author of a blocked one. Accounts are anvil's public test accounts 6 and 7: devnet only.
"""

from __future__ import annotations

import os
import time

from ape import accounts, project

from infera.client import Infera
from infera.deployment import load_deployment

MODEL = "all-MiniLM-L6-v2"
PROTOTYPES = {  # text -> blocked?
    "Thanks for the quick fix, the new release works well for our team": False,
    "Buy cheap pills now and click this link to win free money": True,
}
MESSAGES = [
    "Great update, the bug I reported is fixed now. Thank you!",
    "Click here to claim your free prize money, cheap pills inside",
]
VERDICTS = ["none", "pending", "allowed", "blocked", "unscored"]  # ModerationRouter.Verdict


def main() -> None:
    record = load_deployment(os.environ.get("INFERA_NETWORK", "infera:devnet"))
    owner, author = accounts.test_accounts[6], accounts.test_accounts[7]
    jobs = project.JobRegistry.at(record.contracts.JobRegistry)
    token = project.InferToken.at(record.contracts.InferToken)
    models = project.ModelRegistry.at(record.contracts.ModelRegistry)
    model_id = record.model_id(MODEL)

    router = owner.deploy(project.ModerationRouter, jobs, model_id, owner)
    print(f"ModerationRouter deployed at {router.address}")

    # The prototypes are verified embeddings too, bought by the owner through the SDK.
    with Infera.connect(transport="chain", private_key=owner.private_key, deployment=record) as client:
        prototypes = client.embed(list(PROTOTYPES), model=MODEL, timeout=300)
    vectors = []
    for result in prototypes.results:
        vector = result.int8()
        assert vector is not None  # embed() raises JobRefunded for a job the network did not verify
        vectors.append(vector.tobytes())
    router.setPrototypes(vectors, list(PROTOTYPES.values()), sender=owner)
    print(f"published {len(vectors)} prototypes from verified jobs "
          f"{', '.join(str(r.job_id) for r in prototypes.results)}")

    fee = models.getModel(model_id).fee
    token.approve(router, fee * len(MESSAGES), sender=author)
    receipt = router.submitMessages(MESSAGES, sender=author)
    ids = [int(log.messageId) for log in receipt.decode_logs(router.MessageSubmitted)]
    print(f"author {author.address} posted messages {ids}; waiting for the network's verdicts")

    deadline = time.monotonic() + 300
    while any(router.messageOf(i).verdict <= 1 for i in ids):  # None or Pending
        if time.monotonic() > deadline:
            raise SystemExit("no verdict within 300 s: are the nodes running?")
        time.sleep(1)
    for text, message_id in zip(MESSAGES, ids, strict=True):
        print(f"message {message_id} {text!r}: verdict: {VERDICTS[router.messageOf(message_id).verdict]}")
    print(f"author blocked: {router.isBlocked(author)}")
