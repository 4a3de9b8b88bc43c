"""What each contract error means for the person who hit it: how its arguments read (INFER
amounts in INFER, times in UTC, statuses by name) and what to do next.

`HINTS` holds a sentence per error that users meet (node operators, requesters, gasless
signers); every other error is explained by its NatSpec notice from the contract source (see
infera.contract_errors). `DOMAIN_BASES` makes a revert also an instance of the SDK error that
the same refusal raises before any transaction is sent, so one `except InsufficientStake` covers
both the SDK's own check and the contract's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from infera import errors
from infera.types import JobStatus, SeatState
from infera.units import format_infer, utc_iso


class Unit(Enum):
    """How an argument reads; an argument not in UNITS reads by its ABI type."""

    INFER = "INFER"  # wei of INFER
    ETH = "ETH"  # wei of ETH
    TIME = "time"  # a Unix time
    JOB_STATUS = "job status"
    SEAT_STATE = "seat state"
    ROLE = "role"  # an AccessControl role id


_AMOUNTS = {
    "NodeRegistryStakeBelowMinimum": ("have", "need"),
    "NodeRegistryInsufficientStake": ("have", "requested"),
    "NodeRegistryNothingToWithdraw": ("unbonding",),
    "JobRegistryFeeAboveMax": ("fee", "maxFee"),
    "ERC20InsufficientBalance": ("balance", "needed"),
    "ERC20InsufficientAllowance": ("allowance", "needed"),
    "ERC20ExceededCap": ("increasedSupply", "cap"),
    "ERC20InvalidCap": ("cap",),
}
_TIMES = {
    "NodeRegistryNothingToWithdraw": ("until",),
    "NodeRegistryEjectionCooldown": ("until",),
    "JobRegistryDeadlinePassed": ("deadline",),
    "JobRegistryDeadlineNotReached": ("deadline",),
    "JobRegistryRevealPending": ("revealDeadline",),
    "ERC2612ExpiredSignature": ("deadline",),
    "ERC2771ForwarderExpiredRequest": ("deadline",),
}
UNITS: dict[tuple[str, str], Unit] = {
    **{(error, field): Unit.INFER for error, fields in _AMOUNTS.items() for field in fields},
    **{(error, field): Unit.TIME for error, fields in _TIMES.items() for field in fields},
    ("InsufficientBalance", "balance"): Unit.ETH,
    ("InsufficientBalance", "needed"): Unit.ETH,
    ("ERC2771ForwarderMismatchedValue", "requestedValue"): Unit.ETH,
    ("ERC2771ForwarderMismatchedValue", "msgValue"): Unit.ETH,
    ("JobRegistryWrongStatus", "status"): Unit.JOB_STATUS,
    ("JobRegistryWrongSeatState", "state"): Unit.SEAT_STATE,
    ("AccessControlUnauthorizedAccount", "neededRole"): Unit.ROLE,
}

# The roles our contracts define (AccessControl's admin role is zero).
ROLES = {bytes(32): "DEFAULT_ADMIN_ROLE",
         **{keccak(text=r): r for r in ("PARAMS_ROLE", "MODEL_ADMIN_ROLE")}}

_LAST_UNIX_TIME = 253402300799  # 9999-12-31T23:59:59Z: datetime's range


def readable(error: str, field: str, value: Any) -> str:
    """One argument as a person reads it: 150.5 INFER, 2025-06-01T12:00:00Z, COMMITTING,
    a checksummed address, 0x-hex bytes."""
    unit = UNITS.get((error, field))
    if unit is Unit.INFER and isinstance(value, int):
        return f"{format_infer(value)} INFER"
    if unit is Unit.ETH and isinstance(value, int):
        return f"{format_infer(value)} ETH"
    if unit is Unit.TIME and isinstance(value, int):
        return utc_iso(value) if 0 <= value <= _LAST_UNIX_TIME else f"time {value}"
    if unit is Unit.JOB_STATUS and isinstance(value, int):
        return JobStatus(value).name if value in JobStatus._value2member_map_ else f"status {value}"
    if unit is Unit.SEAT_STATE and isinstance(value, int):
        return SeatState(value).name if value in SeatState._value2member_map_ else f"state {value}"
    if unit is Unit.ROLE and isinstance(value, bytes) and value in ROLES:
        return ROLES[value]
    return _by_type(value)


def _by_type(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and is_address(value) and value.startswith("0x"):
        return to_checksum_address(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_by_type(v) for v in value) + "]"
    return str(value)


class Args:
    """An error's arguments for a hint: `a["have"]` reads as a person reads it (150.5 INFER),
    `a.raw("have")` is the value itself and `a.infer("have")` the bare decimal a command takes."""

    def __init__(self, error: str, values: Mapping[str, Any]) -> None:
        self.error = error
        self.values = values

    def __getitem__(self, field: str) -> str:
        return readable(self.error, field, self.values[field])

    def raw(self, field: str) -> Any:
        return self.values[field]

    def infer(self, field: str) -> str:
        return format_infer(int(self.values[field]))


Hint = Callable[[Args], str]


def _nothing_to_withdraw(a: Args) -> str:
    if not a.raw("unbonding"):
        return "nothing is unbonding: request it first (oracle-node unstake AMOUNT), then withdraw after the unbonding period"
    return f"{a['unbonding']} is unbonding until {a['until']}: withdraw after that (oracle-node withdraw)"


def _stake_below_minimum(a: Args) -> str:
    short = max(int(a.raw("need")) - int(a.raw("have")), 0)
    return (f"a node must keep at least {a['need']} staked and this leaves {a['have']}: register with at least "
            f"that much (oracle-node register --stake {a.infer('need')}), top up "
            f"(oracle-node add-stake {format_infer(short)}), or unstake everything to leave")


_NOT_ENOUGH_NODES: Hint = lambda a: (  # noqa: E731 - one hint for two identical errors
    f"model {a['modelId']} has {a['eligible']} eligible nodes and a committee needs {a['needed']}: "
    "retry once more nodes serve it (or submit to another model); the request is not charged")
_UNKNOWN_MODEL: Hint = lambda a: (  # noqa: E731
    f"no model has id {a['modelId']}: use one the deployment lists (its `models`, or ModelRegistry.getModel)")

HINTS: dict[str, Hint] = {
    # ---------------------------------------------------------------- node operators
    "NodeRegistryStakeBelowMinimum": _stake_below_minimum,
    "NodeRegistryInsufficientStake": lambda a: (
        f"only {a['have']} is staked and {a['requested']} was asked for: unstake at most "
        f"{a['have']} (oracle-node status shows the stake)"),
    "NodeRegistryNotRegistered": lambda a: (
        f"{a['node']} is not a registered node: register it first (oracle-node register --stake N)"),
    "NodeRegistryAlreadyRegistered": lambda a: (
        f"{a['node']} is registered already: top up with oracle-node add-stake N or change what it serves "
        "with oracle-node update-service"),
    "NodeRegistryNothingToWithdraw": _nothing_to_withdraw,
    "NodeRegistryEjectionCooldown": lambda a: (
        f"{a['node']} was ejected and may come back after {a['until']}: run oracle-node reinstate then"),
    "NodeRegistryNotEjected": lambda a: f"{a['node']} is not ejected: there is nothing to reinstate",
    "NodeRegistryDrawsDue": lambda a: (
        "a committee draw is due and stakes may not change until it is drawn: call JobRegistry.assign() "
        "(a running node or keeper does within a block or two) and retry"),
    "NodeRegistryUnknownModel": _UNKNOWN_MODEL,
    "NodeRegistryInvalidModels": lambda a: (
        f"a node serves 1 to 8 models, each listed once ({a['count']} given): fix --models"),
    "NodeRegistryZeroCapacity": lambda a: "give a capacity of at least 1 job (--capacity N)",
    "NodeRegistryZeroAmount": lambda a: "the amount must be more than 0 INFER",
    "NodeRegistryFull": lambda a: f"all {a['maxNodes']} node slots are taken: retry when a node leaves",
    "NodeRegistrySlotInUse": lambda a: (
        f"{a['node']} still has stake, unbonding stake or open jobs: unstake and withdraw everything, and "
        "let its jobs settle, first"),
    "NodeRegistryNotEnoughNodes": _NOT_ENOUGH_NODES,
    "JobRegistryNotAssigned": lambda a: (
        f"{a['node']} holds no seat on job {a['jobId']}: only its drawn committee may commit or reveal "
        "(a node learns its seats from JobAssigned events)"),
    "JobRegistryCommitmentMismatch": lambda a: (
        f"what {a['node']} revealed for job {a['jobId']} does not hash to its commitment: reveal exactly the "
        "vector and salt that were committed"),
    "JobRegistryWrongSeatState": lambda a: (
        f"{a['node']}'s seat on job {a['jobId']} is {a['state']}, which this step does not take: re-read the "
        "seat (get_seats) before acting"),
    "JobRegistryDeadlinePassed": lambda a: (
        f"job {a['jobId']}'s window for this step closed at {a['deadline']}: it is too late; the job moves on "
        "without it"),
    "JobRegistryDeadlineNotReached": lambda a: (
        f"job {a['jobId']}'s window is open until {a['deadline']}: advance or finalize it after that"),
    "JobRegistryRevealPending": lambda a: (
        f"job {a['jobId']} still waits for reveals until {a['revealDeadline']}: finalize it after that"),
    "JobRegistryInvalidVectorLength": lambda a: (
        f"a vector of {a['length']} components was revealed and the model has {a['dimension']}: reveal the "
        "model's full quantized vector"),
    "JobRegistryNoDrawDue": lambda a: "no committee draw is due: there is nothing to assign now",
    "JobRegistryDrawsPending": lambda a: (
        f"{a['queued']} committee draws are queued: call JobRegistry.assign() and retry"),
    "JobRegistryBatchNothingDone": lambda a: (
        f"all {a['count']} items of the batch would be skipped: re-read the jobs; another sender was first"),
    "RewardsNothingToClaim": lambda a: (
        f"{a['node']} has nothing to claim in the epochs given: oracle-node claim finds the closed epochs "
        "with unclaimed points"),
    "RewardsAlreadyClaimed": lambda a: (
        f"{a['node']} already claimed epoch {a['epoch']}: leave it out"),
    "RewardsEpochOpen": lambda a: (
        f"epoch {a['epoch']} has not closed (the current epoch is {a['current']}): claim it once it has"),
    # ---------------------------------------------------------------- requesters
    "JobRegistryFeeAboveMax": lambda a: (
        f"the model's fee is {a['fee']} per text and the request accepts at most {a['maxFee']}: quote the fee "
        "again (ModelRegistry.getModel) and resend with a max fee of at least that"),
    "JobRegistryModelInactive": lambda a: (
        f"model {a['modelId']} no longer accepts jobs: submit to an active model"),
    "JobRegistryNotEnoughNodes": _NOT_ENOUGH_NODES,
    "ModelRegistryUnknownModel": _UNKNOWN_MODEL,
    "JobRegistryUnknownJob": lambda a: (
        f"no job has id {a['jobId']} on this chain: check the id and the network (INFERA_NETWORK); a job "
        "whose submission a reorg took away gets a new id when it is mined again"),
    "JobRegistryWrongStatus": lambda a: (
        f"job {a['jobId']} is {a['status']}, which this call does not take: re-read it (get_job) before acting"),
    "JobRegistryInvalidBatch": lambda a: (
        f"one call takes 1 to 64 texts and {a['count']} were given: split them over several calls"),
    "JobRegistryInvalidInput": lambda a: (
        f"input {a['index']} is {a['length']} bytes: every input must be 1 to 2048 bytes of UTF-8"),
    "JobRegistryInsufficientGasForCallback": lambda a: (
        f"{a['gasLeft']} gas was left and the callback needs {a['needed']}: send the transaction with more gas"),
    "ERC20InsufficientBalance": lambda a: (
        f"{a['sender']} holds {a['balance']} and needs {a['needed']}: get INFER first (a transfer, or the "
        "devnet faucet account), or pay for fewer texts"),
    "ERC20InsufficientAllowance": lambda a: (
        f"{a['spender']} may take only {a['allowance']} of this account's tokens and needs {a['needed']}: approve it "
        f"first (InferToken.approve({a['spender']}, {a.raw('needed')})), or submit gasless with a permit"),
    "SafeERC20FailedOperation": lambda a: (
        f"a transfer of the token {a['token']} failed: check the balance and the allowance it draws on"),
    # ---------------------------------------------------------------- gasless signers
    "ERC2612ExpiredSignature": lambda a: (
        f"the permit's deadline {a['deadline']} has passed: sign a new request (prepare_gasless) and send it"),
    "ERC2612InvalidSigner": lambda a: (
        f"the permit was signed by {a['signer']}, not by the owner {a['owner']}: sign it with the owner's key, "
        "for the token's current permit nonce"),
    "ERC2771ForwarderExpiredRequest": lambda a: (
        f"the gasless request's deadline {a['deadline']} has passed: sign a new request (prepare_gasless) "
        "and send it"),
    "ERC2771ForwarderInvalidSigner": lambda a: (
        f"the request names {a['from']} as its sender but {a['signer']} signed it (or it was signed for another "
        f"nonce, chain or deadline): sign it again with {a['from']}'s key"),
    "ERC2771UntrustfulTarget": lambda a: (
        f"{a['target']} does not trust the forwarder {a['forwarder']}: relay only calls to the JobRegistry"),
    "InvalidAccountNonce": lambda a: (
        f"{a['account']}'s nonce is {a['currentNonce']} now, so the signed one is used or stale: read the "
        "nonce again (prepare_gasless does) and sign again"),
    "ECDSAInvalidSignature": lambda a: "the signature does not recover to any signer: sign again",
    "ECDSAInvalidSignatureLength": lambda a: (
        f"the signature is {a['length']} bytes and must be 65 (r, s, v): sign again"),
    "ECDSAInvalidSignatureS": lambda a: (
        "the signature's s is in the upper half of the curve order (malleable): sign again with a standard "
        "signer"),
    # OpenZeppelin's ShortStrings (the EIP-712 domain name): only a deployment can meet these.
    "InvalidShortString": lambda a: "an EIP-712 domain string is malformed: a deployment bug, redeploy",
    "StringTooLong": lambda a: (
        f"the string {a['str']} is longer than 31 bytes where a short string is needed: a deployment bug"),
    # ---------------------------------------------------------------- governance
    "AccessControlUnauthorizedAccount": lambda a: (
        f"{a['account']} lacks {a['neededRole']}: send this from an account that holds it (the deployment's "
        "admin or timelock)"),
}

# The SDK error each of these reverts also is (see the module docstring).
DOMAIN_BASES: dict[str, tuple[type[errors.InferaError], ...]] = {
    "NodeRegistryStakeBelowMinimum": (errors.InsufficientStake,),
    "NodeRegistryInsufficientStake": (errors.InsufficientStake,),
    "NodeRegistryNotRegistered": (errors.NodeNotRegistered,),
    "NodeRegistryNothingToWithdraw": (errors.NothingToWithdraw,),
    "NodeRegistryNotEjected": (errors.NotEjected,),
    "NodeRegistryEjectionCooldown": (errors.EjectionCooldown,),
    "NodeRegistryInvalidModels": (errors.InvalidService,),
    "NodeRegistryZeroCapacity": (errors.InvalidService,),
    "NodeRegistryUnknownModel": (errors.UnknownModel,),
    "ModelRegistryUnknownModel": (errors.UnknownModel,),
    "ERC20InsufficientBalance": (errors.InsufficientBalance,),
}
