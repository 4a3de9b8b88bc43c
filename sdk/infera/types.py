"""Typed views of on-chain records, decoded from the contracts' struct returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_utils.address import to_checksum_address


class JobStatus(IntEnum):
    NONE = 0
    DRAWING = 1  # waiting for JobRegistry.assign() to draw its committee (first or a redraw)
    COMMITTING = 2
    REVEALING = 3
    ACCEPTED = 4
    REFUNDED = 5

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.ACCEPTED, JobStatus.REFUNDED)


class SeatState(IntEnum):
    ASSIGNED = 0
    COMMITTED = 1
    REVEALED = 2
    DROPPED = 3


class SeatOutcome(IntEnum):
    """IJobRegistry.SeatOutcome: how a settled seat ended."""

    AGREED = 0
    DISAGREED = 1
    WITHHELD = 2  # committed but never revealed
    MISSED_COMMIT = 3
    RELEASED = 4  # job refunded without fault of this node


@dataclass(frozen=True)
class Job:
    job_id: int
    requester: str
    model_id: int
    status: JobStatus
    seat_count: int
    committed: int
    revealed: int
    min_agreement: int
    callback: bool
    dropped: int
    round: int
    deadline: int  # the commit deadline while committing, the reveal deadline while revealing
    fee: int
    threshold_ppm: int
    commit_window: int
    reveal_window: int
    dimension: int
    quorum: int
    vote_from: int  # first seat of the current round; earlier seats do not count toward the quorum
    policy_id: int  # the settlement policy the job was submitted under
    # No result hash: the registry no longer stores it; JobAccepted carries it with the vector.

    @property
    def commit_deadline(self) -> int:
        return self.deadline if self.status is JobStatus.COMMITTING else 0

    @property
    def reveal_deadline(self) -> int:
        return self.deadline if self.status is JobStatus.REVEALING else 0

    @classmethod
    def from_struct(cls, job_id: int, s: Any) -> Job:
        return cls(
            job_id=job_id,
            requester=s[0],
            model_id=int(s[1]),
            status=JobStatus(s[2]),
            seat_count=int(s[3]),
            committed=int(s[4]),
            revealed=int(s[5]),
            min_agreement=int(s[6]),
            callback=bool(s[7]),
            dropped=int(s[8]),
            round=int(s[9]),
            deadline=int(s[10]),
            fee=int(s[11]),
            threshold_ppm=int(s[12]),
            commit_window=int(s[13]),
            reveal_window=int(s[14]),
            dimension=int(s[15]),
            quorum=int(s[16]),
            vote_from=int(s[17]),
            policy_id=int(s[18]),
        )


@dataclass(frozen=True)
class Seat:
    node: str
    state: SeatState
    digest: bytes

    @classmethod
    def from_struct(cls, s: Any) -> Seat:
        """From getSeats' tuple as eth_abi decodes it (the address in lower case)."""
        return cls(node=to_checksum_address(s[0]), state=SeatState(s[1]), digest=bytes(s[2]))


@dataclass(frozen=True)
class Model:
    model_id: int
    weights_digest: bytes
    fee: int
    threshold_ppm: int
    dimension: int
    quantization: int
    quorum: int
    min_agreement: int
    commit_window: int
    reveal_window: int
    active: bool

    @property
    def threshold(self) -> float:
        return self.threshold_ppm / 1_000_000

    @classmethod
    def from_struct(cls, model_id: int, s: Any) -> Model:
        return cls(model_id, bytes(s[0]), int(s[1]), int(s[2]), int(s[3]), int(s[4]), int(s[5]), int(s[6]),
                   int(s[7]), int(s[8]), bool(s[9]))


@dataclass(frozen=True)
class NodeInfo:
    address: str
    stake: int
    unbonding: int
    unbonding_until: int
    index: int
    capacity: int
    open_jobs: int
    reputation: int
    listed_weight: int
    ejected_at: int
    node_id: int  # permanent, from the first registration on; seats name their node by it

    @property
    def registered(self) -> bool:
        return self.index != 0

    @classmethod
    def from_struct(cls, address: str, s: Any) -> NodeInfo:
        return cls(address, *(int(v) for v in s))
