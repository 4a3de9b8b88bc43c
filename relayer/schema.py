"""The queue's tables, as SQLAlchemy Core metadata: the one description that the Alembic
migrations in relayer/migrations create and that the queries in relayer/store.py use."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),  # public part of the key, shown in logs
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex of the secret part
    sa.Column("quota_jobs", sa.BigInteger, nullable=False),
    sa.Column("used_jobs", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rate_per_minute", sa.Integer, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.Float, nullable=False),
)

requests = sa.Table(
    "requests", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # NULL for a gasless request (migration 0003): its signer pays, no key is charged.
    sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.key_id"), nullable=True),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.Column("body_hash", sa.String(64), nullable=False),  # tells a replay from a reused key
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("model_id", sa.Integer, nullable=False),
    sa.Column("n_texts", sa.Integer, nullable=False),
    # queued -> claimed -> sent -> submitted -> completed; claimed and sent fall back to queued
    # when the chain refuses or the sending instance dies before its transaction exists. A
    # gasless request whose signed call did not run (its nonce used elsewhere, expired) is failed.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("batch_id", sa.String(36), nullable=True),
    sa.Column("submit_tx", sa.String(66), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # keyed: the relayer's account pays from its INFER against the key's quota; gasless: the
    # signer pays with a permit, the relayer relays the signed ForwardRequest and pays gas only.
    sa.Column("kind", sa.String(16), nullable=False, server_default="keyed"),
    sa.Column("signer", sa.String(42), nullable=True),  # gasless: the requester and payer
    sa.Column("forward_nonce", sa.BigInteger, nullable=True),  # gasless: the forwarder nonce signed
    sa.Column("signed", sa.JSON, nullable=True),  # gasless: the signed request as received
    sa.UniqueConstraint("key_id", "idempotency_key", name="uq_requests_idempotency"),
    # One queued request per signed forwarder nonce: a second one could never run.
    sa.UniqueConstraint("signer", "forward_nonce", name="uq_requests_forward_nonce"),
)
sa.Index("ix_requests_claim", requests.c.state, requests.c.model_id, requests.c.next_attempt_at)
sa.Index("ix_requests_batch", requests.c.batch_id)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("request_id", sa.String(36), sa.ForeignKey("requests.id"), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("job_id", sa.BigInteger, nullable=True),
    sa.Column("submit_block", sa.BigInteger, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending, or the chain's JobStatus name
    sa.Column("result", sa.JSON, nullable=True),  # vector, hash, agreeing, cosines, final tx
    sa.Column("updated_at", sa.Float, nullable=False),
)
sa.Index("ix_jobs_open", jobs.c.status, jobs.c.job_id)

batches = sa.Table(
    "batches", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance", sa.String(200), nullable=False),
    sa.Column("model_id", sa.Integer, nullable=False),
    # claimed: requests taken, no transaction yet (another instance may take it over once the
    # owner's lease expired); sending: the owner passed its lease check and may broadcast, so the
    # batch is the owner's alone from here on; sent: persisted in the instance's TxManager;
    # mined: job ids known; failed: reverted or superseded, its requests queued again.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("nonce", sa.BigInteger, nullable=True),
    sa.Column("tx_hash", sa.String(66), nullable=True),
    sa.Column("n_jobs", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    # The claiming instance's lease generation (instances.generation when it claimed); NULL for
    # claims made before leases existed (migration 0002).
    sa.Column("generation", sa.BigInteger, nullable=True),
)
sa.Index("ix_batches_instance", batches.c.instance, batches.c.state)

# One row per relayer instance: its lease. The instance renews heartbeat_at while it lives; once
# the heartbeat is older than the lease timeout another instance may take its claims over, and
# doing so bumps `generation`. The owner re-checks its generation in the transaction that moves
# a claim to "sending" (before anything is broadcast), so a stalled owner that wakes up after a
# takeover finds its lease gone and sends nothing: the generation is the fencing token.
instances = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
)
