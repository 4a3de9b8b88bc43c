// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IInferaConsumer} from "./interfaces/IInferaConsumer.sol";
import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {IRewardsEmitter} from "./interfaces/IRewardsEmitter.sol";
import {AgreementJudge} from "./AgreementJudge.sol";
import {Agreement} from "./libraries/Agreement.sol";
import {DrawQueue} from "./libraries/DrawQueue.sol";
import {PolicyBounds} from "./libraries/PolicyBounds.sol";
import {SeatPool} from "./libraries/SeatPool.sol";
import {Seats} from "./libraries/Seats.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {NodeRegistry} from "./NodeRegistry.sol";

/// @title JobRegistry
/// @notice The life of an inference job: submit with fee escrow, a committee drawn by a later
///         block's hash, commit, reveal, and finalization by integer cosine agreement, then
///         payment, slashing, refunds and the requester's callback.
/// @dev Phases and who moves them (types, events and errors live in IJobRegistry):
///      submit() queues the committee draw; assign() (anyone) draws it once the draw block's
///      hash exists. Committing --all seats committed--> Revealing --finalize()--> Accepted |
///      Refunded. After the commit deadline anyone may call advance(): seats that did not commit
///      are dropped; if enough committed the job moves to Revealing, otherwise the dropped seats
///      are queued for a redraw (never a node already tried for this job). finalize() may be
///      called by anyone once every committed seat revealed or the reveal deadline passed; it
///      takes the revealed vectors as calldata and checks each against the keccak256 stored at
///      reveal. When no quorum agrees and a seat withheld its reveal, the withholders are slashed
///      and a whole fresh committee is queued. Both kinds of redraw share MAX_ROUNDS - 1 rounds;
///      after that the job is refunded.
///      Why a whole committee after a reveal: revealed vectors are public, so a node drawn after
///      them could copy one instead of running the model. Only the seats of the latest round,
///      which committed before any of them revealed, count toward minAgreement; earlier revealers
///      are still judged against the accepted result (paid if they agree, slashed if not).
///      Every call that settles seats first draws the committees that are due, so no settlement
///      can change the weights a known draw reads (docs/security.md).
///      Settlement of one call is gathered in a memory ledger (struct Ledger): agreed and
///      released seats, node payments, the treasury's share and emission points are settled and
///      paid once per node per call at its end, callbacks last; faults are settled at once after
///      flushing the ledger, so every node's reputation and capacity change in seat order, and
///      no draw runs inside the call after the first settlement (docs/security.md, "ledger").
///      Cosine agreement, the refusal errors, why a commit or reveal found no seat and the
///      policy bounds check run in AgreementJudge (created here), which keeps this contract
///      under the 24,576-byte limit.
///      Seats name nodes by NodeRegistry's permanent ids (given at registration), so no seat
///      ever writes an id here: a network of many nodes pays no first-seat cost per node.
///      The reentrancy guard is in transient storage (EIP-1153, so Cancun or later: OP-stack
///      chains since Ecotone): about 2,000 gas less per call than a storage slot.
///      Gasless requests (ERC-2771): the requester is _msgSender(), so a submit relayed by the
///      trusted forwarder (InferaForwarder) makes its signer the requester and the payer. Node
///      and keeper functions keep msg.sender on purpose: a node's seat, commitment and batch
///      skips name the address that sends the transaction, and nodes pay their own gas. There is
///      no self-delegatecall multicall here (it would let anyone spoof the appended sender).
contract JobRegistry is IJobRegistry, AccessControl, ERC2771Context, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using DrawQueue for DrawQueue.Queue;
    using SeatPool for SeatPool.Pool;

    // -------------------------------------------------------------- constants
    /// @notice Role allowed to change the settlement policy.
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");
    /// @notice Longest input accepted by value, in bytes.
    uint256 public constant MAX_INPUT_BYTES = 2048;
    /// @notice Most jobs in one submit call.
    uint256 public constant MAX_BATCH = 64;
    /// @dev The seat hint of the single-job commit and reveal: none, search the seats.
    uint256 private constant NO_HINT = type(uint256).max;
    /// @notice Most due draws a settling call (advance, finalize) makes before its own work.
    uint256 public constant MAX_DRAWS_FIRST = 32;
    /// @notice Basis-point denominator.
    uint16 public constant BPS = PolicyBounds.BPS;
    /// @notice Largest share of a node's stake one fault can cost (NodeRegistry also caps one
    ///         slash at its stake cap).
    uint16 public constant MAX_SLASH_BPS = PolicyBounds.MAX_SLASH_BPS;
    /// @notice Most distinct nodes a call keeps owed settlements for before flushing them.
    uint256 public constant LEDGER_NODES = 16;
    /// @notice Upper bound of the callback gas limit.
    uint32 public constant MAX_CALLBACK_GAS = PolicyBounds.MAX_CALLBACK_GAS;
    /// @notice Largest reputation change one job can cause (1.0 in NodeRegistry's units).
    uint32 public constant MAX_REPUTATION_STEP = PolicyBounds.MAX_REPUTATION_STEP;

    // ------------------------------------------------------------- immutables
    /// @notice INFER.
    IERC20 public immutable token;
    /// @notice Model parameters.
    ModelRegistry public immutable models;
    /// @notice Nodes, stake and committee selection.
    /// @dev Trusted and fixed at deployment; its only outward call sends INFER back to this
    ///      contract, and every entry point here is nonReentrant (tells slither the same).
    /// @custom:security non-reentrant
    NodeRegistry public immutable nodes;
    /// @notice Emission: credited with the fees each node earns on accepted jobs.
    /// @dev Trusted and fixed at deployment; creditPoints writes its own storage and calls
    ///      nothing, and every entry point here is nonReentrant (tells slither the same).
    /// @custom:security non-reentrant
    IRewardsEmitter public immutable rewards;
    /// @notice Decides which revealed vectors agree (created here, stateless).
    AgreementJudge public immutable judge;
    /// @notice Times one job's seats may be redrawn (after missed commits or missing reveals).
    uint8 public immutable maxReassignments;

    // ------------------------------------------------------------------ types
    /// @dev A job as stored: one slot, everything assign, commit and reveal read or write, so
    ///      each of them touches one slot of the job, including where its seats are (seatKey,
    ///      SeatPool). The requester and fee are the same for every job of one submit call, so
    ///      they are stored once per call (Batch), which `batchOffset` (the job's place in its
    ///      call, below MAX_BATCH) leads to: 22,100 gas a job less than a second slot per job.
    ///      getJob converts it to the ABI's Job (same fields, another order). Field meanings:
    ///      IJobRegistry.Job.
    struct StoredJob {
        JobStatus status;
        uint8 seatCount;
        uint8 committed;
        uint8 dropped;
        uint8 voteFrom;
        uint8 minAgreement;
        uint8 round;
        uint8 quorum;
        bool callback;
        uint32 deadline; // a timestamp (until 2106), uint40 in the ABI
        uint16 dimension;
        uint16 policyId;
        uint24 thresholdPpm;
        uint24 commitWindow;
        uint24 revealWindow;
        uint16 modelId; // ModelRegistry ids fit in 16 bits (MAX_MODELS)
        uint8 batchOffset;
        uint24 seatKey; // where the seats are (SeatPool); 0: under the job's own id
    } // 9 * 8 + 32 + 2 * 16 + 3 * 24 + 16 + 8 + 24 = 256 bits

    /// @dev Who paid for one submit call's jobs and each job's fee, keyed by the call's first
    ///      job id (read when paying, refunding or calling back).
    struct Batch {
        address requester;
        uint96 fee;
    }

    /// @dev What one call owes nodes, the treasury and requesters' callbacks, paid once at the
    ///      end of the call (_close) instead of per job: per node one settleSeats entry, one
    ///      token transfer and one points credit per call rather than per seat. `nodes` holds at
    ///      most LEDGER_NODES entries and is flushed when full, so the cost per job does not grow
    ///      with the batch. Only settlements that cannot change a draw's outcome in the wrong
    ///      direction wait here (agreed and released seats: capacity freed, reputation raised);
    ///      every fault is settled at once, after flushing the ledger, in the order it happened.
    struct Ledger {
        address[] nodes;
        uint256[] seats;
        uint256[] gain;
        uint256[] pay;
        uint256[] points;
        uint256 count;
        address treasury;
        uint256 toTreasury;
        Callback[] callbacks;
        uint256 callbackCount;
    }

    /// @dev A requester's callback, delivered after everyone is paid.
    struct Callback {
        uint256 jobId;
        address requester;
        bytes32 resultHash;
        uint256 gasLimit;
        bytes vector;
    }

    // ------------------------------------------------------------------ state
    mapping(uint16 policyId => Policy) private _policies;
    uint16 private _policyId;
    mapping(uint256 jobId => StoredJob) private _jobs;
    mapping(uint256 firstJobId => Batch) private _batches;
    // A mapping, not an array: the job's seatCount is the length, so no length slot is written.
    // One slot per seat (Seats.Packed); getSeats converts to the ABI's Seat. Keyed by the
    // job's seat key (SeatPool: an ended job's slots are reused by a later job), read through
    // _seatsOf, and written through a storage pointer in _draw, which slither does not follow.
    // slither-disable-next-line uninitialized-state
    mapping(uint256 seatKey => mapping(uint256 seat => Seats.Packed)) private _seats;
    uint256 private _jobCount;
    DrawQueue.Queue private _draws;
    SeatPool.Pool private _seatPool;

    /// @param token_ INFER.
    /// @param models_ The model registry.
    /// @param nodes_ The node registry (wire this contract as its job manager).
    /// @param rewards_ The emission contract (wire this contract as its creditor).
    /// @param admin Receives DEFAULT_ADMIN_ROLE and PARAMS_ROLE.
    /// @param initialPolicy Initial settlement policy.
    /// @param trustedForwarder_ The ERC-2771 forwarder whose relayed calls carry their signer
    ///        (InferaForwarder; fixed for good).
    constructor(
        IERC20 token_,
        ModelRegistry models_,
        NodeRegistry nodes_,
        IRewardsEmitter rewards_,
        address admin,
        Policy memory initialPolicy,
        address trustedForwarder_
    ) ERC2771Context(trustedForwarder_) {
        token = token_;
        models = models_;
        nodes = nodes_;
        rewards = rewards_;
        maxReassignments = models_.MAX_ROUNDS() - 1;
        judge = new AgreementJudge();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setPolicy(initialPolicy);
    }

    // ERC-2771 over AccessControl's Context: the signer of a forwarded call, else msg.sender.
    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }

    // ------------------------------------------------------------- requester
    /// @notice Submit one job per input for `modelId`, paying the model's fee for each
    ///         (approve `fee * inputs.length` INFER first). The committees are drawn by assign()
    ///         from the hash of this block, from the next block on.
    /// @param modelId The model to run.
    /// @param inputs Texts to embed, 1 to MAX_INPUT_BYTES bytes each.
    /// @param maxFeePerJob Highest fee per job the caller accepts (guards against a fee change).
    /// @param callback Whether to call IInferaConsumer.onInferaResult on the caller when accepted.
    /// @return firstJobId Id of the first job; the others follow consecutively.
    function submit(uint32 modelId, string[] calldata inputs, uint96 maxFeePerJob, bool callback)
        external
        nonReentrant
        returns (uint256 firstJobId)
    {
        return _submit(modelId, inputs, maxFeePerJob, callback);
    }

    /// @notice Like submit, approving the fee with an EIP-2612 permit in the same transaction.
    /// @dev A permit that fails (for example because it was front-run and already used) is
    ///      ignored; the transfer then relies on the existing allowance.
    /// @param modelId The model to run.
    /// @param inputs Texts to embed.
    /// @param maxFeePerJob Highest fee per job the caller accepts.
    /// @param callback Whether to call back the caller when accepted.
    /// @param permitValue Allowance the permit grants.
    /// @param deadline Permit deadline.
    /// @param v Permit signature v.
    /// @param r Permit signature r.
    /// @param s Permit signature s.
    /// @return firstJobId Id of the first job.
    function submitWithPermit(
        uint32 modelId,
        string[] calldata inputs,
        uint96 maxFeePerJob,
        bool callback,
        uint256 permitValue,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant returns (uint256 firstJobId) {
        try IERC20Permit(address(token)).permit(_msgSender(), address(this), permitValue, deadline, v, r, s) {} catch {}
        return _submit(modelId, inputs, maxFeePerJob, callback);
    }

    // ----------------------------------------------------------------- anyone
    /// @notice Draw the committees of up to `maxJobs` queued jobs whose draw block's hash is
    ///         known, in queue order. A job for which too few eligible nodes remain is refunded.
    /// @dev The outcome depends only on the draw block's hash and on state that nobody could
    ///      change after that hash existed, so calling it later, in pieces or from a contract
    ///      that reverts on a result it dislikes changes nothing.
    /// @param maxJobs Most jobs to draw in this call.
    /// @return drawn Jobs drawn (or refunded for want of nodes).
    function assign(uint256 maxJobs) external nonReentrant returns (uint256 drawn) {
        bool rescheduled;
        (drawn, rescheduled) = _drawDue(maxJobs);
        if (drawn == 0 && !rescheduled) revert JobRegistryNoDrawDue();
    }

    // ------------------------------------------------------------------ nodes
    /// @notice Commit to a vector: `commitment` must equal commitmentOf(jobId, msg.sender,
    ///         vector, salt) for the vector and secret salt revealed later.
    /// @param jobId The job.
    /// @param commitment The commitment hash.
    function commit(uint256 jobId, bytes32 commitment) external nonReentrant {
        (Skip skip, uint256 detail) = _commit(jobId, NO_HINT, commitment);
        _revertIfSkipped(jobId, skip, detail);
    }

    /// @notice commit() for many jobs in one transaction. An item that is late, already
    ///         committed or not the caller's is skipped with BatchItemSkipped; the rest go ahead.
    /// @param jobIds The jobs (1 to MAX_BATCH).
    /// @param seats For each job, the caller's seat index (JobAssigned.seat). Only a hint: the
    ///        seat must still be the caller's, and a wrong index costs a search of the job's
    ///        seats, never the item.
    /// @param commitments One commitment per job.
    /// @return done Items committed; reverts JobRegistryBatchNothingDone when none was.
    function commitBatch(uint256[] calldata jobIds, uint256[] calldata seats, bytes32[] calldata commitments)
        external
        nonReentrant
        returns (uint256 done)
    {
        _checkBatch(jobIds.length, commitments.length, seats.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            (Skip skip,) = _commit(jobIds[i], seats[i], commitments[i]);
            done += _counted(jobIds[i], skip);
        }
        _checkDone(done, jobIds.length);
    }

    /// @notice Reveal the committed vector and salt.
    /// @param jobId The job.
    /// @param vector The packed int8 vector (the model's dimension in bytes).
    /// @param salt The secret salt used in the commitment.
    function reveal(uint256 jobId, bytes calldata vector, bytes32 salt) external nonReentrant {
        (Skip skip, uint256 detail) = _reveal(jobId, NO_HINT, vector, salt);
        _revertIfSkipped(jobId, skip, detail);
    }

    /// @notice reveal() for many jobs in one transaction; items that cannot be revealed are
    ///         skipped with BatchItemSkipped.
    /// @param jobIds The jobs (1 to MAX_BATCH).
    /// @param seats For each job, the caller's seat index (a hint, as in commitBatch).
    /// @param vectors One packed vector per job.
    /// @param salts One salt per job.
    /// @return done Items revealed; reverts JobRegistryBatchNothingDone when none was.
    function revealBatch(
        uint256[] calldata jobIds,
        uint256[] calldata seats,
        bytes[] calldata vectors,
        bytes32[] calldata salts
    ) external nonReentrant returns (uint256 done) {
        _checkBatch(jobIds.length, vectors.length, seats.length);
        if (salts.length != jobIds.length) revert JobRegistryBatchLengthMismatch(jobIds.length, salts.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            (Skip skip,) = _reveal(jobIds[i], seats[i], vectors[i], salts[i]);
            done += _counted(jobIds[i], skip);
        }
        _checkDone(done, jobIds.length);
    }

    // ----------------------------------------------------------------- anyone
    /// @notice Move a job whose commit deadline passed: drop seats that did not commit, then
    ///         start the reveal phase if enough committed, else queue a redraw of the dropped
    ///         seats (up to maxReassignments rounds), else refund. Draws due are made first.
    /// @param jobId The job.
    function advance(uint256 jobId) external nonReentrant {
        Skip skip = _advance(jobId);
        _revertIfSkipped(jobId, skip, 0);
    }

    /// @notice advance() for many jobs in one transaction; a job that is not due is skipped
    ///         with BatchItemSkipped.
    /// @param jobIds The jobs (1 to MAX_BATCH).
    /// @return done Jobs advanced; reverts JobRegistryBatchNothingDone when none was.
    function advanceBatch(uint256[] calldata jobIds) external nonReentrant returns (uint256 done) {
        _checkBatch(jobIds.length, jobIds.length, jobIds.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            done += _counted(jobIds[i], _advance(jobIds[i]));
        }
        _checkDone(done, jobIds.length);
    }

    /// @notice Decide a job in its reveal phase. `vectors[i]` is the vector revealed by seat i
    ///         (see getSeats and the Revealed events, earlier rounds included); pass empty bytes
    ///         for seats that did not reveal. Accepts the largest set of vectors within the
    ///         threshold of a medoid when at least minAgreement of them come from the current
    ///         round; pays and slashes accordingly. Without such a set: if a seat withheld its
    ///         reveal, withholders are slashed and a fresh committee is queued (emits
    ///         JobReassigned; up to maxReassignments rounds), otherwise the job is refunded.
    ///         Draws due are made first.
    /// @param jobId The job.
    /// @param vectors One entry per seat.
    function finalize(uint256 jobId, bytes[] calldata vectors) external nonReentrant {
        Ledger memory ledger = _newLedger(1);
        (Skip skip, uint256 detail) = _finalize(jobId, vectors, ledger);
        _revertIfSkipped(jobId, skip, detail);
        _close(ledger);
    }

    /// @notice finalize() for many jobs in one transaction; a job that cannot be decided (not
    ///         in its reveal phase, reveals pending, wrong vectors) is skipped with
    ///         BatchItemSkipped. A callback that cannot get its full gas limit still reverts the
    ///         whole batch (JobRegistryInsufficientGasForCallback), as it does in finalize().
    /// @param jobIds The jobs (1 to MAX_BATCH).
    /// @param vectors For each job, one entry per seat, as finalize() takes them.
    /// @return done Jobs decided; reverts JobRegistryBatchNothingDone when none was.
    function finalizeBatch(uint256[] calldata jobIds, bytes[][] calldata vectors)
        external
        nonReentrant
        returns (uint256 done)
    {
        _checkBatch(jobIds.length, vectors.length, vectors.length);
        Ledger memory ledger = _newLedger(jobIds.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            (Skip skip,) = _finalize(jobIds[i], vectors[i], ledger);
            done += _counted(jobIds[i], skip);
        }
        _checkDone(done, jobIds.length);
        _close(ledger);
    }

    // ------------------------------------------------------------- governance
    /// @notice Set the settlement policy for jobs submitted from now on (bounded; see
    ///         JobRegistryInvalidPolicy). Jobs already submitted keep the policy they were
    ///         submitted under.
    /// @param newPolicy The new policy.
    function setPolicy(Policy calldata newPolicy) external onlyRole(PARAMS_ROLE) {
        _setPolicy(newPolicy);
    }

    // ------------------------------------------------------------------ views
    /// @notice The commitment a node must send for `vector` and `salt` on this chain and
    ///         registry: keccak256(abi.encode(chainid, registry, jobId, node, vector, salt)).
    ///         Binding the node's address means nobody can reuse another node's commitment.
    /// @param jobId The job.
    /// @param node The committing node.
    /// @param vector The packed int8 vector.
    /// @param salt A secret random salt.
    function commitmentOf(uint256 jobId, address node, bytes calldata vector, bytes32 salt)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), jobId, node, vector, salt));
    }

    /// @inheritdoc IJobRegistry
    function drawsDue() external view returns (bool) {
        return _draws.due();
    }

    /// @notice Queue entries waiting for assign() (a submitted batch counts once) and the block
    ///         whose hash draws the first of them (0 when none wait).
    function queuedDraws() external view returns (uint256 entries, uint256 headBlock) {
        return (_draws.length(), _draws.headBlock());
    }

    /// @notice A job's record; reverts for an unknown id.
    /// @param jobId The job.
    function getJob(uint256 jobId) external view returns (Job memory) {
        if (jobId == 0 || jobId > _jobCount) revert JobRegistryUnknownJob(jobId);
        return _toJob(jobId);
    }

    /// @notice Several jobs' records in one call (a node reads every open job each tick);
    ///         reverts for an unknown id.
    /// @param jobIds The jobs.
    function getJobs(uint256[] calldata jobIds) external view returns (Job[] memory out) {
        out = new Job[](jobIds.length);
        for (uint256 i = 0; i < jobIds.length; ++i) {
            if (jobIds[i] == 0 || jobIds[i] > _jobCount) revert JobRegistryUnknownJob(jobIds[i]);
            out[i] = _toJob(jobIds[i]);
        }
    }

    /// @notice A job's seats in assignment order; none once the job has ended (accepted or
    ///         refunded): its seat slots then go to a later job (SeatPool), and how each seat was
    ///         settled is in JobAccepted and SeatSettled.
    /// @dev The registry keeps 216 bits of each seat's digest (libraries/Seats.sol): `digest` is
    ///      the first 27 bytes of keccak256(abi.encode(node)) while assigned, of the commitment
    ///      once committed and of keccak256 of the revealed vector once revealed, followed by 5
    ///      zero bytes. Binding: 108-bit collision resistance.
    /// @param jobId The job.
    function getSeats(uint256 jobId) external view returns (Seat[] memory out) {
        (mapping(uint256 => Seats.Packed) storage seats, uint256 n) = _liveSeats(jobId, _jobs[jobId]);
        address[] memory seated = _nodesOf(seats, n);
        out = new Seat[](n);
        for (uint256 i = 0; i < n; ++i) {
            Seats.Packed storage seat = seats[i];
            out[i] = Seat({node: seated[i], state: seat.state, digest: bytes32(seat.digest)});
        }
    }

    /// @notice Number of jobs ever submitted (ids run from 1).
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @notice The settlement policy for jobs submitted now.
    function policy() external view returns (Policy memory) {
        return _policies[_policyId];
    }

    /// @notice The settlement policy a job was submitted under.
    /// @param jobId The job.
    function policyOf(uint256 jobId) external view returns (Policy memory) {
        if (jobId == 0 || jobId > _jobCount) revert JobRegistryUnknownJob(jobId);
        return _policies[_jobs[jobId].policyId];
    }

    // --------------------------------------------------------------- internal
    /// @dev The phases return why they did nothing instead of reverting, so that one bad item
    ///      never sinks a batch; the single-job entry points turn the reason back into the
    ///      matching error (_revertIfSkipped). `detail` carries what that error reports.
    function _commit(uint256 jobId, uint256 hint, bytes32 commitment) private returns (Skip, uint256 detail) {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Committing) return (Skip.WrongStatus, 0);
        if (block.timestamp > job.deadline) return (Skip.DeadlinePassed, 0);
        if (commitment == bytes32(0)) return (Skip.ZeroCommitment, 0);
        mapping(uint256 => Seats.Packed) storage seats = _seatsOf(jobId, job);
        uint256 n = job.seatCount;
        // An assigned seat holds its node's tag (Seats), so finding the caller's seat needs no
        // lookup of the caller's id in NodeRegistry; only a refusal asks why (the judge).
        (bool found, uint256 index, uint32 id) =
            _seatWith(seats, hint, job.voteFrom, n, SeatState.Assigned, Seats.tag(msg.sender));
        if (!found) return _whySeatless(jobId, SeatState.Assigned);

        // One SSTORE to the slot assign() wrote; 216 bits of the commitment (Seats).
        seats[index] = Seats.Packed({node: id, state: SeatState.Committed, digest: bytes27(commitment)});
        uint8 committed = job.committed + 1;
        job.committed = committed;
        emit Committed(jobId, msg.sender);
        if (committed == n - job.voteFrom - job.dropped) _startReveal(jobId, job);
        return (Skip.None, 0);
    }

    function _reveal(uint256 jobId, uint256 hint, bytes calldata vector, bytes32 salt)
        private
        returns (Skip, uint256 detail)
    {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Revealing) return (Skip.WrongStatus, 0);
        if (block.timestamp > job.deadline) return (Skip.DeadlinePassed, 0);
        if (vector.length != job.dimension) return (Skip.InvalidVectorLength, vector.length);
        mapping(uint256 => Seats.Packed) storage seats = _seatsOf(jobId, job);
        // The commitment binds the caller's address, so a committed seat holding it is the
        // caller's: no id lookup unless refused (the judge says why).
        bytes27 commitment = bytes27(commitmentOf(jobId, msg.sender, vector, salt));
        (bool found, uint256 index, uint32 id) =
            _seatWith(seats, hint, job.voteFrom, job.seatCount, SeatState.Committed, commitment);
        if (!found) return _whySeatless(jobId, SeatState.Committed);

        // State and the vector's digest (216 bits, what finalize checks vectors against) in one SSTORE.
        // No per-job counter: finalize() reads every seat anyway, so "all revealed" is counted
        // there, and a reveal writes one slot (the seat), not two.
        seats[index] = Seats.Packed({node: id, state: SeatState.Revealed, digest: bytes27(keccak256(vector))});
        emit Revealed(jobId, msg.sender, vector);
        return (Skip.None, 0);
    }

    function _advance(uint256 jobId) private returns (Skip) {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Committing) return Skip.WrongStatus;
        if (block.timestamp <= job.deadline) return Skip.DeadlineNotReached;
        _drawDueFirst();

        mapping(uint256 => Seats.Packed) storage seats = _seatsOf(jobId, job);
        Policy memory p = _policies[job.policyId];
        uint256 dropped = 0;
        for (uint256 i = job.voteFrom; i < job.seatCount; ++i) {
            Seats.Packed storage seat = seats[i];
            if (seat.state != SeatState.Assigned) continue;
            seat.state = SeatState.Dropped;
            ++dropped;
            _settle(jobId, _nodeAt(seats, i), SeatOutcome.MissedCommit, -int32(p.livenessPenalty), 0);
        }
        job.dropped += uint8(dropped);
        if (job.committed >= job.minAgreement) {
            _startReveal(jobId, job);
        } else if (dropped != 0 && job.round < maxReassignments) {
            _queueRedraw(jobId, job, uint8(dropped));
        } else {
            _releaseOpenSeats(jobId, seats, job.seatCount);
            _refund(jobId, job, 0);
        }
        return Skip.None;
    }

    function _finalize(uint256 jobId, bytes[] calldata vectors, Ledger memory ledger)
        private
        returns (Skip, uint256 detail)
    {
        StoredJob storage job = _jobs[jobId];
        if (job.status != JobStatus.Revealing) return (Skip.WrongStatus, 0);
        mapping(uint256 => Seats.Packed) storage seats = _seatsOf(jobId, job);
        uint256 withheld = _withheldMask(job, seats);
        if (withheld != 0 && block.timestamp <= job.deadline) return (Skip.RevealPending, 0);
        if (vectors.length != job.seatCount) return (Skip.VectorCountMismatch, vectors.length);
        return _decide(jobId, job, seats, vectors, withheld, ledger);
    }

    function _decide(
        uint256 jobId,
        StoredJob storage job,
        mapping(uint256 => Seats.Packed) storage seats,
        bytes[] calldata vectors,
        uint256 withheld,
        Ledger memory ledger
    ) private returns (Skip, uint256 detail) {
        uint256 revealedMask = 0;
        for (uint256 i = 0; i < vectors.length; ++i) {
            Seats.Packed storage seat = seats[i];
            if (seat.state != SeatState.Revealed) continue;
            // The stored digest is keccak256's first 216 bits (libraries/Seats.sol).
            if (bytes27(keccak256(vectors[i])) != seat.digest) return (Skip.VectorMismatch, i);
            revealedMask |= 1 << i;
        }
        (uint256 medoid, uint256 agreeingMask, uint256 votes) =
            judge.decide(job.voteFrom, job.thresholdPpm, revealedMask, vectors);
        _drawDueFirst();
        _conclude(jobId, job, seats, vectors[medoid], agreeingMask, votes, withheld, ledger);
        return (Skip.None, 0);
    }

    /// @dev Accept, redraw after withheld reveals, or refund (see finalize()).
    function _conclude(
        uint256 jobId,
        StoredJob storage job,
        mapping(uint256 => Seats.Packed) storage seats,
        bytes calldata medoidVector,
        uint256 agreeingMask,
        uint256 votes,
        uint256 withheld,
        Ledger memory ledger
    ) private {
        Policy memory p = _policies[job.policyId];
        uint256 n = job.seatCount;
        if (votes >= job.minAgreement) {
            _accept(jobId, job, seats, medoidVector, agreeingMask, p, ledger);
        } else if (withheld != 0 && job.round < maxReassignments) {
            job.voteFrom = uint8(n);
            job.committed = 0;
            job.dropped = 0;
            _flush(ledger); // faults are settled in order, after what the ledger owes
            uint256 slashed = _dropWithheld(jobId, seats, n, withheld, p);
            _queueRedraw(jobId, job, job.quorum);
            // Nobody agreed yet to share it with: a failed round's slash goes to the treasury.
            _owe(ledger, p.treasury, slashed);
        } else {
            (uint256 slashed,) = _settleReveals(jobId, seats, n, agreeingMask, false, p, ledger);
            _owe(ledger, p.treasury, slashed);
            _refund(jobId, job, 0);
        }
    }

    /// @dev The error a single-job call reverts with for `skip` (see the Skip enum).
    function _revertIfSkipped(uint256 jobId, Skip skip, uint256 detail) private view {
        // Always reverts, with the error named by `skip`, which bubbles up unchanged.
        if (skip != Skip.None) judge.refuse(skip, jobId, msg.sender, detail);
    }

    /// @dev `count` jobs, and two of the call's other arrays, which must be as long.
    function _checkBatch(uint256 count, uint256 items, uint256 more) private pure {
        if (count == 0 || count > MAX_BATCH) revert JobRegistryInvalidBatch(count);
        if (items != count) revert JobRegistryBatchLengthMismatch(count, items);
        if (more != count) revert JobRegistryBatchLengthMismatch(count, more);
    }

    /// @dev 1 for an item done; 0, with the event that says why, for one skipped.
    function _counted(uint256 jobId, Skip skip) private returns (uint256) {
        if (skip == Skip.None) return 1;
        emit BatchItemSkipped(jobId, msg.sender, skip);
        return 0;
    }

    function _checkDone(uint256 done, uint256 count) private pure {
        if (done == 0) revert JobRegistryBatchNothingDone(count);
    }

    function _submit(uint32 modelId, string[] calldata inputs, uint96 maxFeePerJob, bool callback)
        private
        returns (uint256 firstJobId)
    {
        ModelRegistry.Model memory model = models.getModel(modelId);
        if (!model.active) revert JobRegistryModelInactive(modelId);
        if (inputs.length == 0 || inputs.length > MAX_BATCH) revert JobRegistryInvalidBatch(inputs.length);
        if (model.fee > maxFeePerJob) revert JobRegistryFeeAboveMax(model.fee, maxFeePerJob);
        // Fail fast when no committee could be drawn at all; capacity is judged at the draw.
        uint256 eligible = nodes.eligibleNodes(modelId);
        if (eligible < model.quorum) revert JobRegistryNotEnoughNodes(modelId, eligible, model.quorum);

        address requester = _msgSender();
        firstJobId = _jobCount + 1;
        _jobCount += inputs.length;
        for (uint256 i = 0; i < inputs.length; ++i) {
            uint256 length = bytes(inputs[i]).length;
            if (length == 0 || length > MAX_INPUT_BYTES) revert JobRegistryInvalidInput(i, length);
            _createJob(firstJobId + i, uint8(i), modelId, model, inputs[i], callback, requester);
        }
        _batches[firstJobId] = Batch({requester: requester, fee: model.fee});
        _draws.push(firstJobId, inputs.length, model.quorum);
        emit DrawQueued(firstJobId, inputs.length, block.number);

        uint256 total = uint256(model.fee) * inputs.length;
        if (total != 0) token.safeTransferFrom(requester, address(this), total);
    }

    function _createJob(
        uint256 jobId,
        uint8 batchOffset,
        uint32 modelId,
        ModelRegistry.Model memory model,
        string calldata input,
        bool callback,
        address requester
    ) private {
        StoredJob storage job = _jobs[jobId];
        job.modelId = uint16(modelId); // below ModelRegistry.MAX_MODELS
        job.batchOffset = batchOffset;
        job.status = JobStatus.Drawing;
        job.minAgreement = model.minAgreement;
        job.callback = callback;
        // ModelRegistry bounds these: threshold <= 1e6 and windows <= MAX_WINDOW (< 2^24).
        job.thresholdPpm = uint24(model.thresholdPpm);
        job.commitWindow = uint24(model.commitWindow);
        job.revealWindow = uint24(model.revealWindow);
        job.dimension = model.dimension;
        job.quorum = model.quorum;
        job.policyId = _policyId;
        job.seatKey = uint24(_seatPool.claim()); // keys fit in SeatPool.KEY_BITS = 24 bits
        // The input's hash lives in the event only: storing it would cost 22,100 gas a job, and
        // the nodes read the input from the same event anyway.
        emit JobSubmitted(jobId, modelId, requester, keccak256(bytes(input)), input, model.fee);
    }

    /// @dev Draw up to `maxJobs` due jobs in queue order; stops at the first draw not due yet.
    function _drawDue(uint256 maxJobs) private returns (uint256 drawn, bool rescheduled) {
        while (drawn < maxJobs && _draws.due()) {
            uint256 headBlock = _draws.headBlock();
            bytes32 hash = blockhash(headBlock);
            if (hash == bytes32(0)) {
                // More than 256 blocks old: draw everything queued from a block nobody knows yet.
                _draws.reschedule();
                emit DrawsRescheduled(block.number);
                return (drawn, true);
            }
            (uint256 jobId, uint8 seatsNeeded) = _draws.pop();
            _draw(jobId, seatsNeeded, hash);
            ++drawn;
        }
    }

    /// @dev Settling changes weights that queued draws read, so make the due draws first.
    function _drawDueFirst() private {
        // Whether it drew or rescheduled, what matters is that nothing due is left.
        // slither-disable-next-line unused-return
        _drawDue(MAX_DRAWS_FIRST);
        if (_draws.due()) revert JobRegistryDrawsPending(_draws.length());
    }

    /// @dev Seat `seatsNeeded` fresh nodes (never one already tried for this job), or refund
    ///      without fault of anyone when too few eligible nodes remain.
    function _draw(uint256 jobId, uint8 seatsNeeded, bytes32 hash) private {
        StoredJob storage job = _jobs[jobId];
        mapping(uint256 => Seats.Packed) storage seats = _seatsOf(jobId, job);
        uint256 n = job.seatCount;
        address[] memory tried = _nodesOf(seats, n);
        if (nodes.eligibleExcluding(job.modelId, tried) < seatsNeeded) {
            _releaseOpenSeats(jobId, seats, n);
            _refund(jobId, job, 0);
            return;
        }
        uint256 seed = uint256(keccak256(abi.encode(hash, jobId, n)));
        uint256[] memory drawn = nodes.drawCommittee(job.modelId, seed, seatsNeeded, tried);
        job.status = JobStatus.Committing;
        uint32 deadline = uint32(block.timestamp + job.commitWindow);
        job.deadline = deadline;
        for (uint256 k = 0; k < drawn.length; ++k) {
            address node = address(uint160(drawn[k])); // drawn[k] is node | id << 160
            seats[n + k] = Seats.Packed({node: uint32(drawn[k] >> 160), state: SeatState.Assigned, digest: Seats.tag(node)});
            emit JobAssigned(jobId, node, uint8(n + k), deadline);
        }
        job.seatCount = uint8(n + drawn.length);
    }

    function _queueRedraw(uint256 jobId, StoredJob storage job, uint8 seatsNeeded) private {
        job.round += 1;
        job.status = JobStatus.Drawing;
        job.deadline = 0;
        _draws.push(jobId, 1, seatsNeeded);
        emit JobReassigned(jobId, job.round);
        emit DrawQueued(jobId, 1, block.number);
    }

    function _startReveal(uint256 jobId, StoredJob storage job) private {
        job.status = JobStatus.Revealing;
        job.deadline = uint32(block.timestamp + job.revealWindow);
        emit RevealStarted(jobId, job.deadline);
    }

    /// @dev The current round's seats that committed but did not reveal, as a bitmask.
    function _withheldMask(StoredJob storage job, mapping(uint256 => Seats.Packed) storage seats)
        private
        view
        returns (uint256 mask)
    {
        for (uint256 i = job.voteFrom; i < job.seatCount; ++i) {
            if (seats[i].state == SeatState.Committed) mask |= 1 << i;
        }
    }

    /// @dev Take the withholders out of the job, then slash them (states first, calls after).
    function _dropWithheld(
        uint256 jobId,
        mapping(uint256 => Seats.Packed) storage seats,
        uint256 n,
        uint256 mask,
        Policy memory p
    ) private returns (uint256 slashed) {
        for (uint256 i = 0; i < n; ++i) {
            if (mask & (1 << i) != 0) seats[i].state = SeatState.Dropped;
        }
        for (uint256 i = 0; i < n; ++i) {
            if (mask & (1 << i) != 0) slashed += _settleWithheld(jobId, _nodeAt(seats, i), p);
        }
    }

    /// @dev Record the result, settle the seats, credit fees as emission points, pay, then call
    ///      back (last).
    /// @dev The result hash is not stored: JobAccepted carries it (and the vector), and the
    ///      medoid seat keeps the vector's digest. Payment, emission points and the callback are
    ///      owed to the ledger and paid at the end of the call, callback last.
    function _accept(
        uint256 jobId,
        StoredJob storage job,
        mapping(uint256 => Seats.Packed) storage seats,
        bytes calldata vector,
        uint256 agreeingMask,
        Policy memory p,
        Ledger memory ledger
    ) private {
        bytes32 resultHash = keccak256(vector);
        job.status = JobStatus.Accepted;
        (uint256 slashed, address[] memory agreeing) =
            _settleReveals(jobId, seats, job.seatCount, agreeingMask, true, p, ledger);
        Batch storage batch = _batchOf(jobId, job);
        _pay(jobId, resultHash, vector, batch.fee, slashed, agreeing, p, ledger);
        if (job.callback) {
            ledger.callbacks[ledger.callbackCount++] = Callback({
                jobId: jobId, requester: batch.requester, resultHash: resultHash, gasLimit: p.callbackGasLimit, vector: vector
            });
        }
        _releaseSeatKey(jobId, job); // every seat is read and settled
    }

    /// @dev Settle every seat still open after the reveal phase; returns the total slashed and,
    ///      when accepted, the agreeing seats' nodes in seat order (agreeingMask has bits only for
    ///      revealed seats).
    function _settleReveals(
        uint256 jobId,
        mapping(uint256 => Seats.Packed) storage seats,
        uint256 n,
        uint256 agreeingMask,
        bool accepted,
        Policy memory p,
        Ledger memory ledger
    ) private returns (uint256 slashed, address[] memory agreeing) {
        agreeing = new address[](accepted ? Agreement.popcount(agreeingMask) : 0);
        uint256 k = 0;
        for (uint256 i = 0; i < n; ++i) {
            SeatState state = seats[i].state;
            if (state != SeatState.Committed && state != SeatState.Revealed) continue;
            address node = _nodeAt(seats, i); // only for seats still open
            if (state == SeatState.Committed) {
                _flushFor(ledger, node);
                slashed += _settleWithheld(jobId, node, p);
            } else if (!accepted) {
                _release(ledger, jobId, node);
            } else if (agreeingMask & (1 << i) != 0) {
                // Settled by _pay, after JobAccepted names it: no SeatSettled (one event a job).
                agreeing[k++] = node;
            } else {
                _flushFor(ledger, node);
                slashed += _settle(jobId, node, SeatOutcome.Disagreed, -int32(p.disagreementPenalty), p.slashBps);
            }
        }
    }

    function _settle(uint256 jobId, address node, SeatOutcome outcome, int32 reputationDelta, uint16 slashBps)
        private
        returns (uint256 slashed)
    {
        // Reputation afterwards is not needed here.
        // slither-disable-next-line unused-return
        (slashed,) = nodes.settleSeat(node, reputationDelta, slashBps);
        emit SeatSettled(jobId, node, outcome, slashed);
    }

    /// @dev Committed and never revealed: a liveness fault, slashed like a disagreement.
    function _settleWithheld(uint256 jobId, address node, Policy memory p) private returns (uint256) {
        return _settle(jobId, node, SeatOutcome.Withheld, -int32(p.livenessPenalty), p.slashBps);
    }

    /// @dev Announce the result (JobAccepted), then settle the agreeing seats (owed to the
    ///      ledger: capacity freed and reputation raised at its flush) and split the fee and slash
    ///      reward equally among their nodes. JobAccepted names them and carries each one's share:
    ///      one event a job, not one a node, and every owed settlement of this job follows it in
    ///      the log. The protocol's share, the rest of the slashed stake and any rounding dust go
    ///      to the treasury.
    ///      Owed to the ledger, transferred at the end of the call. Emission follows paid work:
    ///      a node's points are the fee it earned, never the slash reward, so unpaid jobs earn
    ///      nothing and self-dealing costs the protocol fee.
    function _pay(
        uint256 jobId,
        bytes32 resultHash,
        bytes calldata vector,
        uint96 fee,
        uint256 slashed,
        address[] memory agreeing,
        Policy memory p,
        Ledger memory ledger
    ) private {
        uint256 k = agreeing.length;
        uint256 feeEach = (uint256(fee) * (BPS - p.protocolFeeBps)) / BPS / k;
        uint256 rewardEach = (slashed * p.slashRewardBps) / BPS / k;
        emit JobAccepted(jobId, resultHash, agreeing, feeEach, rewardEach, vector);
        for (uint256 i = 0; i < k; ++i) {
            uint256 at = _slot(ledger, agreeing[i]);
            ledger.seats[at] += 1;
            ledger.gain[at] += p.reputationGain;
            ledger.pay[at] += feeEach + rewardEach;
            ledger.points[at] += feeEach;
        }
        _owe(ledger, p.treasury, fee + slashed - (feeEach + rewardEach) * k);
    }

    function _newLedger(uint256 maxCallbacks) private pure returns (Ledger memory ledger) {
        ledger.nodes = new address[](LEDGER_NODES);
        ledger.seats = new uint256[](LEDGER_NODES);
        ledger.gain = new uint256[](LEDGER_NODES);
        ledger.pay = new uint256[](LEDGER_NODES);
        ledger.points = new uint256[](LEDGER_NODES);
        ledger.callbacks = new Callback[](maxCallbacks);
    }

    /// @dev Index of `node` in the ledger, or `count` when absent (at most LEDGER_NODES reads).
    function _entry(Ledger memory ledger, address node) private pure returns (uint256 k) {
        for (k = 0; k < ledger.count; ++k) {
            if (ledger.nodes[k] == node) return k;
        }
    }

    /// @dev Release the seat of a job refunded without fault at the end of the call: its event
    ///      now, the node's capacity with the node's other owed seats.
    function _release(Ledger memory ledger, uint256 jobId, address node) private {
        emit SeatSettled(jobId, node, SeatOutcome.Released, 0);
        ledger.seats[_slot(ledger, node)] += 1;
    }

    /// @dev The ledger entry of `node`, added (after flushing a full ledger) when absent.
    function _slot(Ledger memory ledger, address node) private returns (uint256 k) {
        k = _entry(ledger, node);
        if (k == LEDGER_NODES) {
            _flush(ledger);
            k = 0;
        }
        if (k == ledger.count) {
            ledger.nodes[k] = node;
            ledger.count = k + 1;
        }
    }

    /// @dev Before a fault of `node` is settled, settle what it is owed, so that its reputation
    ///      and capacity change in the order the seats were settled.
    function _flushFor(Ledger memory ledger, address node) private {
        if (_entry(ledger, node) != ledger.count) _flush(ledger);
    }

    /// @dev Owe `amount` to `treasury`; a different treasury (another policy) is paid first.
    function _owe(Ledger memory ledger, address treasury, uint256 amount) private {
        if (amount == 0) return;
        if (ledger.treasury != treasury && ledger.toTreasury != 0) {
            token.safeTransfer(ledger.treasury, ledger.toTreasury);
            ledger.toTreasury = 0;
        }
        ledger.treasury = treasury;
        ledger.toTreasury += amount;
    }

    /// @dev Settle every owed seat in one NodeRegistry call, pay each node in one transfer and
    ///      credit emission points in one call; then empty the ledger.
    function _flush(Ledger memory ledger) private {
        uint256 n = ledger.count;
        if (n == 0) return;
        (address[] memory owed, uint256[] memory seats, uint256[] memory gains, uint256[] memory points) =
            (ledger.nodes, ledger.seats, ledger.gain, ledger.points);
        // Pass the first n entries without copying: shorten the arrays for the calls, then
        // restore their length (the memory behind them stays allocated).
        assembly ("memory-safe") {
            mstore(owed, n)
            mstore(seats, n)
            mstore(gains, n)
            mstore(points, n)
        }
        nodes.releaseSeats(owed, seats, gains);
        rewards.creditPoints(owed, points);
        for (uint256 k = 0; k < n; ++k) {
            if (ledger.pay[k] != 0) token.safeTransfer(owed[k], ledger.pay[k]);
            (seats[k], gains[k], ledger.pay[k], points[k]) = (0, 0, 0, 0);
        }
        uint256 size = LEDGER_NODES;
        assembly ("memory-safe") {
            mstore(owed, size)
            mstore(seats, size)
            mstore(gains, size)
            mstore(points, size)
        }
        ledger.count = 0;
    }

    /// @dev End of a settling call: settle and pay what is owed, then the callbacks (last).
    function _close(Ledger memory ledger) private {
        _flush(ledger);
        if (ledger.toTreasury != 0) token.safeTransfer(ledger.treasury, ledger.toTreasury);
        for (uint256 i = 0; i < ledger.callbackCount; ++i) {
            Callback memory c = ledger.callbacks[i];
            _deliver(c.jobId, c.requester, c.resultHash, c.vector, c.gasLimit);
        }
    }

    /// @dev Refunded without a decision: this round's committed seats and earlier rounds'
    ///      revealers did nothing wrong.
    function _releaseOpenSeats(uint256 jobId, mapping(uint256 => Seats.Packed) storage seats, uint256 n) private {
        for (uint256 i = 0; i < n; ++i) {
            SeatState state = seats[i].state;
            if (state == SeatState.Committed || state == SeatState.Revealed) {
                _settle(jobId, _nodeAt(seats, i), SeatOutcome.Released, 0, 0);
            }
        }
    }

    /// @dev Every seat must be settled already: the job's seat slots go to the next job.
    function _refund(uint256 jobId, StoredJob storage job, uint256 slashed) private {
        job.status = JobStatus.Refunded;
        job.deadline = 0;
        _releaseSeatKey(jobId, job);
        Batch storage batch = _batchOf(jobId, job);
        (address requester, uint96 fee) = (batch.requester, batch.fee);
        emit JobRefunded(jobId, requester, fee);
        if (fee != 0) token.safeTransfer(requester, fee);
        if (slashed != 0) token.safeTransfer(_policies[job.policyId].treasury, slashed);
    }

    /// @dev Calls the requester with exactly `gasLimit` gas and copies no return data, so
    ///      neither a revert, an out-of-gas nor a huge return can block finalization.
    function _deliver(uint256 jobId, address requester, bytes32 resultHash, bytes memory vector, uint256 gasLimit)
        private
    {
        // EIP-150 forwards at most 63/64 of the remaining gas; demand enough that the callee
        // really gets gasLimit, so a finalizer cannot starve the callback on purpose.
        uint256 needed = gasLimit + gasLimit / 63 + 10_000;
        if (gasleft() < needed) revert JobRegistryInsufficientGasForCallback(gasleft(), needed);
        bytes memory data = abi.encodeCall(IInferaConsumer.onInferaResult, (jobId, resultHash, vector));
        bool success;
        assembly ("memory-safe") {
            success := call(gasLimit, requester, 0, add(data, 0x20), mload(data), 0, 0)
        }
        emit CallbackDelivered(jobId, requester, success);
    }

    function _nodesOf(mapping(uint256 => Seats.Packed) storage seats, uint256 n)
        private
        view
        returns (address[] memory out)
    {
        out = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            out[i] = _nodeAt(seats, i);
        }
    }

    /// @dev The address of seat `i`'s node, from its permanent id (Seats). One call per seat
    ///      settled: measured cheaper than resolving a job's seats in one array call.
    function _nodeAt(mapping(uint256 => Seats.Packed) storage seats, uint256 i) private view returns (address) {
        return nodes.nodeById(seats[i].node);
    }

    /// @dev The seat in state `expected` whose digest is `digest` (an assigned seat's node tag
    ///      or a committed seat's commitment, Seats), and its node id: seat `hint` when it is
    ///      that seat (one read), else found among the seats from `from` on. The digest, not
    ///      the hint, makes it the caller's seat, so a wrong hint only costs the search.
    function _seatWith(
        mapping(uint256 => Seats.Packed) storage seats,
        uint256 hint,
        uint256 from,
        uint256 n,
        SeatState expected,
        bytes27 digest
    ) private view returns (bool found, uint256 index, uint32 id) {
        if (hint < n) {
            Seats.Packed storage hinted = seats[hint];
            if (hinted.state == expected && hinted.digest == digest) return (true, hint, hinted.node);
        }
        for (uint256 i = from; i < n; ++i) {
            Seats.Packed storage seat = seats[i];
            if (seat.state == expected && seat.digest == digest) return (true, i, seat.node);
        }
    }

    /// @dev A refused commit or reveal: the judge says why from the job's seats.
    function _whySeatless(uint256 jobId, SeatState expected) private view returns (Skip, uint256 detail) {
        return judge.whySeatless(jobId, msg.sender, expected);
    }

    /// @dev Where the job's seats are stored (SeatPool).
    function _seatsOf(uint256 jobId, StoredJob storage job) private view returns (mapping(uint256 => Seats.Packed) storage) {
        return _seats[_seatKeyOf(jobId, job)];
    }

    function _releaseSeatKey(uint256 jobId, StoredJob storage job) private {
        _seatPool.release(_seatKeyOf(jobId, job));
    }

    function _seatKeyOf(uint256 jobId, StoredJob storage job) private view returns (uint256) {
        uint256 key = job.seatKey;
        return key == 0 ? jobId : key;
    }

    /// @dev The seats the views may show and their count: none for an ended job, whose seat
    ///      slots are another job's once its key is claimed again.
    function _liveSeats(uint256 jobId, StoredJob storage job)
        private
        view
        returns (mapping(uint256 => Seats.Packed) storage seats, uint256 n)
    {
        JobStatus status = job.status;
        n = status == JobStatus.Accepted || status == JobStatus.Refunded ? 0 : job.seatCount;
        seats = _seatsOf(jobId, job);
    }

    /// @dev The requester and fee of a job's submit call.
    function _batchOf(uint256 jobId, StoredJob storage job) private view returns (Batch storage) {
        return _batches[jobId - job.batchOffset];
    }

    function _toJob(uint256 jobId) private view returns (Job memory) {
        StoredJob storage j = _jobs[jobId];
        Batch storage batch = _batchOf(jobId, j);
        uint256 revealed = 0;
        (mapping(uint256 => Seats.Packed) storage seats, uint256 n) = _liveSeats(jobId, j);
        for (uint256 i = j.voteFrom; i < n; ++i) {
            if (seats[i].state == SeatState.Revealed) ++revealed;
        }
        return Job({
            requester: batch.requester,
            modelId: j.modelId,
            status: j.status,
            seatCount: j.seatCount,
            committed: j.committed,
            revealed: uint8(revealed),
            minAgreement: j.minAgreement,
            callback: j.callback,
            dropped: j.dropped,
            round: j.round,
            deadline: j.deadline,
            fee: batch.fee,
            thresholdPpm: j.thresholdPpm,
            commitWindow: j.commitWindow,
            revealWindow: j.revealWindow,
            dimension: j.dimension,
            quorum: j.quorum,
            voteFrom: j.voteFrom,
            policyId: j.policyId
        });
    }

    function _setPolicy(Policy memory p) private {
        judge.checkPolicy(p, rewards.emissionPerFeeBps()); // reverts JobRegistryInvalidPolicy
        uint16 id = _policyId + 1;
        _policyId = id;
        _policies[id] = p;
        emit PolicyChanged(id, p);
    }
}
