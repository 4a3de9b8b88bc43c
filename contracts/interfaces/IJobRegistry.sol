// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ModelRegistry} from "../ModelRegistry.sol";

/// @title IJobRegistry
/// @notice The job registry's types, events and errors, and the views other contracts read.
/// @dev Phases: Drawing --assign()--> Committing --all committed or advance()--> Revealing
///      --finalize()--> Accepted | Refunded, with redraws going back to Drawing. A committee is
///      drawn from the hash of a block that did not exist when the draw was requested, by a
///      separate permissionless assign() step, so nobody who triggers a draw can see its outcome
///      in the same transaction and undo it (see docs/security.md).
interface IJobRegistry {
    // ------------------------------------------------------------------ types
    /// @notice Where a job is in its life. Accepted and Refunded are terminal.
    enum JobStatus {
        None,
        Drawing, // waiting for assign() to draw its committee (the first or a redraw)
        Committing,
        Revealing,
        Accepted,
        Refunded
    }

    /// @notice Where one seat of a committee is.
    enum SeatState {
        Assigned,
        Committed,
        Revealed,
        Dropped // missed a deadline (commit, or reveal before a redraw); settled already
    }

    /// @notice How a seat was settled.
    enum SeatOutcome {
        Agreed,
        Disagreed,
        Withheld, // committed but never revealed
        MissedCommit,
        Released // job refunded without fault of this node
    }

    /// @notice Why one item of a batched call (commitBatch, revealBatch, advanceBatch,
    ///         finalizeBatch) was skipped; each names the error the single call reverts with.
    enum Skip {
        None,
        WrongStatus,
        DeadlinePassed,
        DeadlineNotReached,
        NotAssigned,
        WrongSeatState,
        ZeroCommitment,
        InvalidVectorLength,
        CommitmentMismatch,
        RevealPending,
        VectorCountMismatch,
        VectorMismatch
    }

    /// @dev What getJob returns; JobRegistry stores the same fields in another order
    ///      (JobRegistry.StoredJob: one slot for what the phases read, one for requester and fee;
    ///      the input hash is in JobSubmitted only, the result hash in JobAccepted only).
    ///      `revealed` is counted from the seats (the registry keeps no counter). Everything that decides the
    ///      job is copied at submission (model parameters) or referenced immutably (policyId),
    ///      so a later governance change cannot alter the terms of a job in flight. committed,
    ///      revealed and dropped count the seats of the current round, from index voteFrom on.
    ///      `deadline` is the commit deadline while Committing, the reveal deadline while
    ///      Revealing, and 0 while Drawing.
    struct Job {
        address requester;
        uint32 modelId;
        JobStatus status;
        uint8 seatCount;
        uint8 committed;
        uint8 revealed;
        uint8 minAgreement;
        bool callback;
        uint8 dropped; // seats of this round that missed the commit deadline
        uint8 round; // redraw rounds used (0 for the first committee)
        uint40 deadline;
        uint96 fee;
        uint24 thresholdPpm; // <= 1e6
        uint24 commitWindow; // <= ModelRegistry.MAX_WINDOW
        uint24 revealWindow; // <= ModelRegistry.MAX_WINDOW
        uint16 dimension;
        uint8 quorum; // committee size drawn for a fresh round
        uint8 voteFrom; // first seat of the current round: only its seats count toward minAgreement
        uint16 policyId; // the settlement policy in force at submission
    }

    /// @dev What getSeats returns. `digest` is the node's tag (keccak256 of its address) while
    ///      assigned, the commitment until reveal, then keccak256 of the revealed vector, each
    ///      cut to its first 216 bits (27 bytes, then 5 zero bytes): the
    ///      registry stores a seat in one slot (libraries/Seats.sol). Commitments and revealed
    ///      vectors are checked against those 216 bits, 108-bit collision resistance.
    struct Seat {
        address node;
        SeatState state;
        bytes32 digest;
    }

    /// @notice Settlement policy, set by governance within the bounds checked in setPolicy.
    struct Policy {
        address treasury;
        uint16 protocolFeeBps; // share of each fee to the treasury
        uint16 slashBps; // share of a faulty node's stake slashed (at most MAX_SLASH_BPS)
        uint16 slashRewardBps; // share of slashed stake to the agreeing nodes (rest: treasury)
        uint32 callbackGasLimit;
        uint32 reputationGain; // per accepted job
        uint32 disagreementPenalty; // reputation lost for a vector outside the accepted set
        uint32 livenessPenalty; // reputation lost for a missed commit or reveal
    }

    // ----------------------------------------------------------------- events
    /// @notice A job was submitted; `input` is the text the nodes must embed. Its committee is
    ///         drawn by assign() from the hash of block `drawBlock` (or a later one, see
    ///         DrawsRescheduled).
    event JobSubmitted(
        uint256 indexed jobId,
        uint32 indexed modelId,
        address indexed requester,
        bytes32 inputHash,
        string input,
        uint96 fee
    );
    /// @notice Draws for jobs `firstJobId` .. `firstJobId + count - 1` were queued; they are drawn
    ///         from the hash of block `drawBlock`, unknown when they were queued.
    event DrawQueued(uint256 indexed firstJobId, uint256 count, uint256 drawBlock);
    /// @notice Queued draws waited more than 256 blocks, so their block hash is gone: every
    ///         draw still queued now uses the hash of block `drawBlock` instead.
    event DrawsRescheduled(uint256 drawBlock);
    /// @notice A node was given a seat on a job and must commit before `commitDeadline`.
    event JobAssigned(uint256 indexed jobId, address indexed node, uint8 seat, uint40 commitDeadline);
    /// @notice A node committed to its vector.
    event Committed(uint256 indexed jobId, address indexed node);
    /// @notice The job moved to its reveal phase.
    event RevealStarted(uint256 indexed jobId, uint40 revealDeadline);
    /// @notice A node revealed its vector (one int8 per byte).
    event Revealed(uint256 indexed jobId, address indexed node, bytes vector);
    /// @notice A seat was settled other than by agreement, with the stake slashed from it. The
    ///         seats that agreed with an accepted result are named by JobAccepted instead.
    event SeatSettled(uint256 indexed jobId, address indexed node, SeatOutcome outcome, uint256 slashed);
    /// @notice A redraw round was queued: fresh nodes for the seats that missed the commit
    ///         deadline, or a whole fresh committee after a reveal phase without a quorum (then
    ///         voteFrom moved). The new seats arrive with JobAssigned once assign() draws them.
    event JobReassigned(uint256 indexed jobId, uint8 round);
    /// @notice The job was accepted: the medoid's vector is the result. Each node in `agreeing`
    ///         had its seat settled as agreed (capacity freed, reputation raised by the policy's
    ///         gain) and was paid `feeEach` plus `slashRewardEach` (its share of the stake slashed
    ///         from this job's other seats): one event a job rather than two a node. `feeEach` is
    ///         also what each earned in emission points.
    event JobAccepted(
        uint256 indexed jobId,
        bytes32 resultHash,
        address[] agreeing,
        uint256 feeEach,
        uint256 slashRewardEach,
        bytes vector
    );
    /// @notice The job could not be accepted; the requester got the fee back.
    event JobRefunded(uint256 indexed jobId, address indexed requester, uint96 fee);
    /// @notice The requester's callback ran; `success` is false if it reverted or ran out of gas.
    event CallbackDelivered(uint256 indexed jobId, address indexed requester, bool success);
    /// @notice One item of a batched call was skipped (late, already done, or not the
    ///         caller's); the other items of the batch went ahead.
    event BatchItemSkipped(uint256 indexed jobId, address indexed caller, Skip reason);
    /// @notice A new settlement policy took effect for jobs submitted from now on.
    event PolicyChanged(uint16 indexed policyId, Policy policy);

    // ----------------------------------------------------------------- errors
    /// @notice The model does not accept new jobs.
    error JobRegistryModelInactive(uint32 modelId);
    /// @notice A batch must hold 1 to MAX_BATCH inputs.
    error JobRegistryInvalidBatch(uint256 count);
    /// @notice The arrays of a batched call differ in length.
    error JobRegistryBatchLengthMismatch(uint256 jobs, uint256 items);
    /// @notice Every item of a batched call was skipped, so sending it would only cost gas.
    error JobRegistryBatchNothingDone(uint256 count);
    /// @notice An input is empty or longer than MAX_INPUT_BYTES.
    error JobRegistryInvalidInput(uint256 index, uint256 length);
    /// @notice The model's fee is above what the requester accepted.
    error JobRegistryFeeAboveMax(uint96 fee, uint96 maxFee);
    /// @notice Fewer eligible nodes serve the model than one committee needs.
    error JobRegistryNotEnoughNodes(uint32 modelId, uint256 eligible, uint256 needed);
    /// @notice The job is not in the status this call needs.
    error JobRegistryWrongStatus(uint256 jobId, JobStatus status);
    /// @notice The caller holds no seat on this job.
    error JobRegistryNotAssigned(uint256 jobId, address node);
    /// @notice The seat is not in the state this call needs.
    error JobRegistryWrongSeatState(uint256 jobId, address node, SeatState state);
    /// @notice The phase's deadline has passed.
    error JobRegistryDeadlinePassed(uint256 jobId, uint40 deadline);
    /// @notice The phase's deadline has not passed yet.
    error JobRegistryDeadlineNotReached(uint256 jobId, uint40 deadline);
    /// @notice A commitment cannot be zero.
    error JobRegistryZeroCommitment();
    /// @notice The revealed vector has the wrong number of components.
    error JobRegistryInvalidVectorLength(uint256 length, uint16 dimension);
    /// @notice The revealed vector and salt do not hash to the commitment.
    error JobRegistryCommitmentMismatch(uint256 jobId, address node);
    /// @notice finalize() got a different number of vectors than the job has seats.
    error JobRegistryVectorCountMismatch(uint256 given, uint256 seats);
    /// @notice A vector passed to finalize() is not the one its seat revealed.
    error JobRegistryVectorMismatch(uint256 jobId, uint256 seat);
    /// @notice Not every committed seat has revealed and the reveal deadline has not passed.
    error JobRegistryRevealPending(uint256 jobId, uint40 revealDeadline);
    /// @notice The transaction carries too little gas to give the callback its full limit.
    error JobRegistryInsufficientGasForCallback(uint256 gasLeft, uint256 needed);
    /// @notice A policy value is out of bounds, or the protocol fee does not make self-dealing
    ///         for emission unprofitable (emissionPerFeeBps * (BPS - fee) must be < fee * BPS).
    error JobRegistryInvalidPolicy();
    /// @notice No job has this id.
    error JobRegistryUnknownJob(uint256 jobId);
    /// @notice assign() found no draw whose block hash is known yet.
    error JobRegistryNoDrawDue();
    /// @notice More draws are due than this call may make first; call assign() and retry.
    error JobRegistryDrawsPending(uint256 queued);

    // --------------------------------------------------------------- requests
    /// @notice Submit one job per input for `modelId`, escrowing the model's fee for each from
    ///         the requester (the caller, or the signer of a call relayed by the trusted forwarder).
    /// @param modelId The model to run.
    /// @param inputs The texts, 1 to MAX_BATCH of them, each 1 to MAX_INPUT_BYTES long.
    /// @param maxFeePerJob The highest fee per job the requester accepts.
    /// @param callback Whether to call IInferaConsumer.onInferaResult on the requester when accepted.
    /// @return firstJobId The first job's id; the others follow it in order.
    function submit(uint32 modelId, string[] calldata inputs, uint96 maxFeePerJob, bool callback)
        external
        returns (uint256 firstJobId);

    // ------------------------------------------------------------------ views
    /// @notice The token fees are paid in (INFER).
    function token() external view returns (IERC20);

    /// @notice The model registry whose fee and parameters a job is submitted under.
    function models() external view returns (ModelRegistry);

    /// @notice Whether a queued draw's block hash is known, so that assign() can draw it. While
    ///         one is, NodeRegistry refuses every change to the weights a draw reads.
    function drawsDue() external view returns (bool);

    /// @notice A job's record; reverts for an unknown id.
    function getJob(uint256 jobId) external view returns (Job memory);

    /// @notice A job's seats in assignment order.
    function getSeats(uint256 jobId) external view returns (Seat[] memory);

    /// @notice Number of jobs ever submitted (ids run from 1).
    function jobCount() external view returns (uint256);
}
