// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IInferaConsumer} from "./interfaces/IInferaConsumer.sol";
import {IRewardsEmitter} from "./interfaces/IRewardsEmitter.sol";
import {Cosine} from "./libraries/Cosine.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {NodeRegistry} from "./NodeRegistry.sol";

/// @title JobRegistry
/// @notice The life of an inference job: submit with fee escrow, committee assignment,
///         commit, reveal, and finalization by integer cosine agreement, then payment,
///         slashing, refunds and the requester's callback.
/// @dev Phases and who moves them:
///      Committing --all seats committed--> Revealing --finalize()--> Accepted | Refunded.
///      After the commit deadline anyone may call advance(): seats that did not commit are
///      dropped; if enough committed the job moves to Revealing, otherwise the dropped seats are
///      redrawn (never a node already tried for this job). finalize() may be called by anyone
///      once every committed seat revealed or the reveal deadline passed; it takes the revealed
///      vectors as calldata and checks each against the keccak256 stored at reveal, so vectors
///      are never kept in storage. When no quorum agrees and a seat withheld its reveal, the
///      withholders are slashed and a whole fresh committee is drawn (Revealing --> Committing).
///      Both kinds of redraw share MAX_REASSIGNMENTS rounds; after that the job is refunded.
///      Why a whole committee after a reveal: revealed vectors are public, so a node drawn after
///      them could copy one instead of running the model. Only the seats of the latest round,
///      which committed before any of them revealed, count toward minAgreement; earlier revealers
///      are still judged against the accepted result (paid if they agree, slashed if not).
///      Randomness for committees comes from block.prevrandao and the previous block hash. On an
///      OP-stack chain the sequencer can influence both: it is unbiased against requesters and
///      nodes, not against a malicious sequencer.
contract JobRegistry is AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------ types
    /// @notice Where a job is in its life. Accepted and Refunded are terminal.
    enum JobStatus {
        None,
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

    /// @dev Two slots of scalars, then the input and result hashes. Parameters that decide the
    ///      job are copied from the model at submission so a later model update cannot change
    ///      the rules of a job in flight. committed, revealed and dropped count the seats of the
    ///      current round, the seats from index voteFrom on.
    struct Job {
        address requester;
        uint32 modelId;
        JobStatus status;
        uint8 seatCount;
        uint8 committed;
        uint8 revealed;
        uint8 minAgreement;
        bool callback;
        uint8 dropped; // seats that missed the commit deadline
        uint8 round; // reassignment rounds used
        uint40 commitDeadline;
        uint40 revealDeadline;
        uint96 fee;
        uint24 thresholdPpm; // <= 1e6
        uint24 revealWindow; // <= ModelRegistry.MAX_WINDOW
        uint16 dimension;
        uint8 quorum; // committee size drawn for a fresh round
        uint8 voteFrom; // first seat of the current round: only its seats count toward minAgreement
        bytes32 inputHash;
        bytes32 resultHash;
    }

    /// @dev `digest` holds the commitment until reveal, then keccak256 of the revealed vector.
    struct Seat {
        address node;
        SeatState state;
        bytes32 digest;
    }

    /// @notice Settlement policy, set by governance within the bounds checked in setPolicy.
    struct Policy {
        address treasury;
        uint16 protocolFeeBps; // share of each fee to the treasury
        uint16 slashBps; // share of a faulty node's stake slashed
        uint16 slashRewardBps; // share of slashed stake to the agreeing nodes (rest: treasury)
        uint32 callbackGasLimit;
        uint32 reputationGain; // per accepted job
        uint32 disagreementPenalty; // reputation lost for a vector outside the accepted set
        uint32 livenessPenalty; // reputation lost for a missed commit or reveal
    }

    // -------------------------------------------------------------- constants
    /// @notice Role allowed to change the settlement policy.
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");
    /// @notice Longest input accepted by value, in bytes.
    uint256 public constant MAX_INPUT_BYTES = 2048;
    /// @notice Most jobs in one submit call.
    uint256 public constant MAX_BATCH = 64;
    /// @notice Times one job's seats may be redrawn (after missed commits or missing reveals).
    uint8 public constant MAX_REASSIGNMENTS = 2;
    /// @notice Basis-point denominator.
    uint16 public constant BPS = 10_000;
    /// @notice Upper bound of the callback gas limit.
    uint32 public constant MAX_CALLBACK_GAS = 2_000_000;
    /// @notice Largest reputation change one job can cause (1.0 in NodeRegistry's units).
    uint32 public constant MAX_REPUTATION_STEP = 10_000;

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
    /// @notice Emission: credited with performance points for every accepted job.
    IRewardsEmitter public immutable rewards;

    // ------------------------------------------------------------------ state
    Policy private _policy;
    mapping(uint256 jobId => Job) private _jobs;
    // Written through a storage pointer in _seatCommittee, which slither does not follow.
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => Seat[]) private _seats;
    uint256 private _jobCount;

    // ----------------------------------------------------------------- events
    /// @notice A job was submitted; `input` is the text the nodes must embed.
    event JobSubmitted(
        uint256 indexed jobId, uint32 indexed modelId, address indexed requester, bytes32 inputHash, string input, uint96 fee
    );
    /// @notice A node was given a seat on a job and must commit before `commitDeadline`.
    event JobAssigned(uint256 indexed jobId, address indexed node, uint8 seat, uint40 commitDeadline);
    /// @notice A node committed to its vector.
    event Committed(uint256 indexed jobId, address indexed node);
    /// @notice The job moved to its reveal phase.
    event RevealStarted(uint256 indexed jobId, uint40 revealDeadline);
    /// @notice A node revealed its vector (one int8 per byte).
    event Revealed(uint256 indexed jobId, address indexed node, bytes vector);
    /// @notice A seat was settled, with the stake slashed from it.
    event SeatSettled(uint256 indexed jobId, address indexed node, SeatOutcome outcome, uint256 slashed);
    /// @notice A new round started: fresh nodes for the seats that missed the commit deadline, or
    ///         a whole fresh committee after a reveal phase without a quorum (then voteFrom moved).
    event JobReassigned(uint256 indexed jobId, uint8 round, uint40 commitDeadline);
    /// @notice The job was accepted: the medoid's vector is the result.
    event JobAccepted(uint256 indexed jobId, bytes32 resultHash, address[] agreeing, bytes vector);
    /// @notice The job could not be accepted; the requester got the fee back.
    event JobRefunded(uint256 indexed jobId, address indexed requester, uint96 fee);
    /// @notice A node was paid for a job.
    event NodePaid(uint256 indexed jobId, address indexed node, uint256 fee, uint256 slashReward);
    /// @notice The requester's callback ran; `success` is false if it reverted or ran out of gas.
    event CallbackDelivered(uint256 indexed jobId, address indexed requester, bool success);
    /// @notice The settlement policy changed.
    event PolicyChanged(Policy policy);

    // ----------------------------------------------------------------- errors
    /// @notice The model does not accept new jobs.
    error JobRegistryModelInactive(uint32 modelId);
    /// @notice A batch must hold 1 to MAX_BATCH inputs.
    error JobRegistryInvalidBatch(uint256 count);
    /// @notice An input is empty or longer than MAX_INPUT_BYTES.
    error JobRegistryInvalidInput(uint256 index, uint256 length);
    /// @notice The model's fee is above what the requester accepted.
    error JobRegistryFeeAboveMax(uint96 fee, uint96 maxFee);
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
    /// @notice A policy value is out of bounds.
    error JobRegistryInvalidPolicy();
    /// @notice No job has this id.
    error JobRegistryUnknownJob(uint256 jobId);

    /// @param token_ INFER.
    /// @param models_ The model registry.
    /// @param nodes_ The node registry (this contract needs its JOB_MANAGER_ROLE).
    /// @param rewards_ The emission contract (this contract needs its CREDITOR_ROLE).
    /// @param admin Receives DEFAULT_ADMIN_ROLE and PARAMS_ROLE.
    /// @param initialPolicy Initial settlement policy.
    constructor(
        IERC20 token_,
        ModelRegistry models_,
        NodeRegistry nodes_,
        IRewardsEmitter rewards_,
        address admin,
        Policy memory initialPolicy
    ) {
        token = token_;
        models = models_;
        nodes = nodes_;
        rewards = rewards_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setPolicy(initialPolicy);
    }

    // ------------------------------------------------------------- requester
    /// @notice Submit one job per input for `modelId`, paying the model's fee for each
    ///         (approve `fee * inputs.length` INFER first).
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
        try IERC20Permit(address(token)).permit(msg.sender, address(this), permitValue, deadline, v, r, s) {} catch {}
        return _submit(modelId, inputs, maxFeePerJob, callback);
    }

    // ------------------------------------------------------------------ nodes
    /// @notice Commit to a vector: `commitment` must equal commitmentOf(jobId, msg.sender,
    ///         vector, salt) for the vector and secret salt revealed later.
    /// @param jobId The job.
    /// @param commitment The commitment hash.
    function commit(uint256 jobId, bytes32 commitment) external nonReentrant {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Committing) revert JobRegistryWrongStatus(jobId, job.status);
        if (block.timestamp > job.commitDeadline) revert JobRegistryDeadlinePassed(jobId, job.commitDeadline);
        if (commitment == bytes32(0)) revert JobRegistryZeroCommitment();
        Seat storage seat = _seatOf(jobId, msg.sender, SeatState.Assigned);

        seat.state = SeatState.Committed;
        seat.digest = commitment;
        job.committed += 1;
        emit Committed(jobId, msg.sender);
        if (job.committed == job.seatCount - job.voteFrom - job.dropped) _startReveal(jobId, job);
    }

    /// @notice Reveal the committed vector and salt.
    /// @param jobId The job.
    /// @param vector The packed int8 vector (the model's dimension in bytes).
    /// @param salt The secret salt used in the commitment.
    function reveal(uint256 jobId, bytes calldata vector, bytes32 salt) external nonReentrant {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Revealing) revert JobRegistryWrongStatus(jobId, job.status);
        if (block.timestamp > job.revealDeadline) revert JobRegistryDeadlinePassed(jobId, job.revealDeadline);
        if (vector.length != job.dimension) revert JobRegistryInvalidVectorLength(vector.length, job.dimension);
        Seat storage seat = _seatOf(jobId, msg.sender, SeatState.Committed);
        if (commitmentOf(jobId, msg.sender, vector, salt) != seat.digest) {
            revert JobRegistryCommitmentMismatch(jobId, msg.sender);
        }

        seat.state = SeatState.Revealed;
        seat.digest = keccak256(vector);
        job.revealed += 1;
        emit Revealed(jobId, msg.sender, vector);
    }

    // ----------------------------------------------------------------- anyone
    /// @notice Move a job whose commit deadline passed: drop seats that did not commit, then
    ///         start the reveal phase if enough committed, else redraw the dropped seats (up to
    ///         MAX_REASSIGNMENTS times), else refund.
    /// @param jobId The job.
    function advance(uint256 jobId) external nonReentrant {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Committing) revert JobRegistryWrongStatus(jobId, job.status);
        if (block.timestamp <= job.commitDeadline) revert JobRegistryDeadlineNotReached(jobId, job.commitDeadline);

        Seat[] storage seats = _seats[jobId];
        uint256 dropped = 0;
        for (uint256 i = 0; i < seats.length; ++i) {
            if (seats[i].state != SeatState.Assigned) continue;
            seats[i].state = SeatState.Dropped;
            ++dropped;
            job.dropped += 1;
            _settle(jobId, seats[i].node, SeatOutcome.MissedCommit, -int32(_policy.livenessPenalty), 0);
        }
        if (job.committed >= job.minAgreement) {
            _startReveal(jobId, job);
        } else if (!_tryReassign(jobId, job, dropped)) {
            _releaseOpenSeats(jobId, seats);
            _refund(jobId, job, 0);
        }
    }

    /// @notice Decide a job in its reveal phase. `vectors[i]` is the vector revealed by seat i
    ///         (see getSeats and the Revealed events, earlier rounds included); pass empty bytes
    ///         for seats that did not reveal. Accepts the largest set of vectors within the
    ///         threshold of a medoid when at least minAgreement of them come from the current
    ///         round; pays and slashes accordingly. Without such a set: if a seat withheld its
    ///         reveal, withholders are slashed and a fresh committee is drawn (emits
    ///         JobReassigned; up to MAX_REASSIGNMENTS rounds), otherwise the job is refunded.
    /// @param jobId The job.
    /// @param vectors One entry per seat.
    function finalize(uint256 jobId, bytes[] calldata vectors) external nonReentrant {
        Job storage job = _jobs[jobId];
        if (job.status != JobStatus.Revealing) revert JobRegistryWrongStatus(jobId, job.status);
        if (job.revealed < job.committed && block.timestamp <= job.revealDeadline) {
            revert JobRegistryRevealPending(jobId, job.revealDeadline);
        }
        Seat[] storage seats = _seats[jobId];
        if (vectors.length != seats.length) revert JobRegistryVectorCountMismatch(vectors.length, seats.length);

        (uint256 medoid, uint256 agreeingMask, uint256 votes) = _agreement(jobId, job, seats, vectors);
        if (votes >= job.minAgreement) {
            _accept(jobId, job, seats, vectors[medoid], agreeingMask);
        } else if (!_tryRedrawCommittee(jobId, job, seats)) {
            job.status = JobStatus.Refunded;
            (uint256 slashed,) = _settleReveals(jobId, seats, agreeingMask, false);
            _refund(jobId, job, slashed);
        }
    }

    // ------------------------------------------------------------- governance
    /// @notice Change the settlement policy (bounded; see JobRegistryInvalidPolicy).
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

    /// @notice A job's record; reverts for an unknown id.
    /// @param jobId The job.
    function getJob(uint256 jobId) external view returns (Job memory) {
        if (jobId == 0 || jobId > _jobCount) revert JobRegistryUnknownJob(jobId);
        return _jobs[jobId];
    }

    /// @notice A job's seats in assignment order.
    /// @param jobId The job.
    function getSeats(uint256 jobId) external view returns (Seat[] memory) {
        return _seats[jobId];
    }

    /// @notice Number of jobs ever submitted (ids run from 1).
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @notice The settlement policy.
    function policy() external view returns (Policy memory) {
        return _policy;
    }

    // --------------------------------------------------------------- internal
    function _submit(uint32 modelId, string[] calldata inputs, uint96 maxFeePerJob, bool callback)
        private
        returns (uint256 firstJobId)
    {
        ModelRegistry.Model memory model = models.getModel(modelId);
        if (!model.active) revert JobRegistryModelInactive(modelId);
        if (inputs.length == 0 || inputs.length > MAX_BATCH) revert JobRegistryInvalidBatch(inputs.length);
        if (model.fee > maxFeePerJob) revert JobRegistryFeeAboveMax(model.fee, maxFeePerJob);

        firstJobId = _jobCount + 1;
        _jobCount += inputs.length;
        for (uint256 i = 0; i < inputs.length; ++i) {
            uint256 length = bytes(inputs[i]).length;
            if (length == 0 || length > MAX_INPUT_BYTES) revert JobRegistryInvalidInput(i, length);
            _createJob(firstJobId + i, modelId, model, inputs[i], callback);
        }

        uint256 total = uint256(model.fee) * inputs.length;
        if (total != 0) token.safeTransferFrom(msg.sender, address(this), total);
    }

    function _createJob(
        uint256 jobId,
        uint32 modelId,
        ModelRegistry.Model memory model,
        string calldata input,
        bool callback
    ) private {
        Job storage job = _jobs[jobId];
        job.requester = msg.sender;
        job.modelId = modelId;
        job.status = JobStatus.Committing;
        job.minAgreement = model.minAgreement;
        job.callback = callback;
        job.commitDeadline = uint40(block.timestamp + model.commitWindow);
        job.fee = model.fee;
        // ModelRegistry bounds both: threshold <= 1e6 and windows <= MAX_WINDOW (< 2^24).
        job.thresholdPpm = uint24(model.thresholdPpm);
        job.revealWindow = uint24(model.revealWindow);
        job.dimension = model.dimension;
        job.quorum = model.quorum;
        bytes32 inputHash = keccak256(bytes(input));
        job.inputHash = inputHash;
        emit JobSubmitted(jobId, modelId, msg.sender, inputHash, input, model.fee);
        _seatCommittee(jobId, job, nodes.drawCommittee(modelId, _seed(jobId), model.quorum, new address[](0)));
    }

    function _seatCommittee(uint256 jobId, Job storage job, address[] memory drawn) private {
        Seat[] storage seats = _seats[jobId];
        for (uint256 k = 0; k < drawn.length; ++k) {
            seats.push(Seat({node: drawn[k], state: SeatState.Assigned, digest: bytes32(0)}));
            emit JobAssigned(jobId, drawn[k], uint8(seats.length - 1), job.commitDeadline);
        }
        job.seatCount = uint8(seats.length);
    }

    function _seed(uint256 jobId) private view returns (uint256) {
        return uint256(keccak256(abi.encode(block.prevrandao, blockhash(block.number - 1), jobId, _seats[jobId].length)));
    }

    function _startReveal(uint256 jobId, Job storage job) private {
        job.status = JobStatus.Revealing;
        job.revealDeadline = uint40(block.timestamp + job.revealWindow);
        emit RevealStarted(jobId, job.revealDeadline);
    }

    /// @dev Commit phase: draw fresh nodes for the seats that just missed the commit deadline.
    function _tryReassign(uint256 jobId, Job storage job, uint256 dropped) private returns (bool) {
        if (dropped == 0 || job.round >= MAX_REASSIGNMENTS) return false;
        address[] memory tried = _nodesOf(_seats[jobId]);
        if (nodes.eligibleExcluding(job.modelId, tried) < dropped) return false;
        _startRound(jobId, job, nodes.drawCommittee(job.modelId, _seed(jobId), dropped, tried));
        return true;
    }

    /// @dev Reveal phase without a quorum: if a seat of this round withheld its reveal, slash it
    ///      and open a new round with a whole fresh committee (see the contract's notes on why).
    ///      Earlier revealers stay open and are settled with the round that decides the job.
    function _tryRedrawCommittee(uint256 jobId, Job storage job, Seat[] storage seats) private returns (bool) {
        uint256 withheld = _withheldMask(job, seats);
        if (withheld == 0 || job.round >= MAX_REASSIGNMENTS) return false;
        address[] memory tried = _nodesOf(seats);
        if (nodes.eligibleExcluding(job.modelId, tried) < job.quorum) return false;

        job.status = JobStatus.Committing;
        job.voteFrom = uint8(seats.length);
        job.committed = 0;
        job.revealed = 0;
        job.dropped = 0;
        uint256 slashed = _dropWithheld(jobId, seats, withheld);
        _startRound(jobId, job, nodes.drawCommittee(job.modelId, _seed(jobId), job.quorum, tried));
        // Nobody agreed yet to share it with: a failed round's slash goes to the treasury, as on a refund.
        if (slashed != 0) token.safeTransfer(_policy.treasury, slashed);
        return true;
    }

    /// @dev The current round's seats that committed but did not reveal, as a bitmask.
    function _withheldMask(Job storage job, Seat[] storage seats) private view returns (uint256 mask) {
        for (uint256 i = job.voteFrom; i < seats.length; ++i) {
            if (seats[i].state == SeatState.Committed) mask |= 1 << i;
        }
    }

    /// @dev Take the withholders out of the job, then slash them (states first, calls after).
    function _dropWithheld(uint256 jobId, Seat[] storage seats, uint256 mask) private returns (uint256 slashed) {
        for (uint256 i = 0; i < seats.length; ++i) {
            if (mask & (1 << i) != 0) seats[i].state = SeatState.Dropped;
        }
        Policy memory p = _policy;
        for (uint256 i = 0; i < seats.length; ++i) {
            if (mask & (1 << i) != 0) slashed += _settleWithheld(jobId, seats[i].node, p);
        }
    }

    function _startRound(uint256 jobId, Job storage job, address[] memory drawn) private {
        job.round += 1;
        job.commitDeadline = uint40(block.timestamp + models.getModel(job.modelId).commitWindow);
        _seatCommittee(jobId, job, drawn);
        emit JobReassigned(jobId, job.round, job.commitDeadline);
    }

    /// @dev Find the medoid: the current round's revealed vector agreeing with the most others
    ///      of the current round (lowest seat wins a tie). Returns the medoid, every revealed
    ///      seat within the threshold of it (earlier rounds included) and how many of those are
    ///      of the current round.
    function _agreement(uint256 jobId, Job storage job, Seat[] storage seats, bytes[] calldata vectors)
        private
        view
        returns (uint256 medoid, uint256 bestMask, uint256 bestVotes)
    {
        uint256 from = job.voteFrom;
        uint256[] memory masks = _agreementMasks(jobId, from, job.thresholdPpm, seats, vectors);
        uint256 currentRound = type(uint256).max << from;
        for (uint256 i = from; i < masks.length; ++i) {
            uint256 votes = _popcount(masks[i] & currentRound);
            if (votes > bestVotes) {
                (medoid, bestMask, bestVotes) = (i, masks[i], votes);
            }
        }
    }

    /// @dev Check every revealed vector against its stored hash; masks[i] has bit j set when
    ///      seats i and j both revealed and agree (bit i itself unless the vector is zero).
    ///      Two seats of earlier rounds are never compared: the medoid is of the current round.
    function _agreementMasks(
        uint256 jobId,
        uint256 from,
        uint256 threshold,
        Seat[] storage seats,
        bytes[] calldata vectors
    ) private view returns (uint256[] memory masks) {
        uint256 n = seats.length;
        uint256[] memory norms = new uint256[](n);
        masks = new uint256[](n);
        uint256 revealedMask = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (seats[i].state != SeatState.Revealed) continue;
            if (keccak256(vectors[i]) != seats[i].digest) revert JobRegistryVectorMismatch(jobId, i);
            revealedMask |= 1 << i;
            norms[i] = Cosine.normSq(vectors[i]);
            if (norms[i] != 0) masks[i] |= 1 << i;
        }
        for (uint256 i = 0; i < n; ++i) {
            if (revealedMask & (1 << i) == 0) continue;
            for (uint256 j = i + 1 > from ? i + 1 : from; j < n; ++j) {
                if (revealedMask & (1 << j) == 0) continue;
                if (Cosine.agrees(Cosine.dot(vectors[i], vectors[j]), norms[i], norms[j], threshold)) {
                    masks[i] |= 1 << j;
                    masks[j] |= 1 << i;
                }
            }
        }
    }

    /// @dev Record the result, settle the seats, credit points, pay, then call back (last).
    function _accept(
        uint256 jobId,
        Job storage job,
        Seat[] storage seats,
        bytes calldata vector,
        uint256 agreeingMask
    ) private {
        bytes32 resultHash = keccak256(vector);
        job.resultHash = resultHash;
        job.status = JobStatus.Accepted;
        (uint256 slashed, uint256[] memory points) = _settleReveals(jobId, seats, agreeingMask, true);
        address[] memory agreeing = _members(seats, agreeingMask);
        emit JobAccepted(jobId, resultHash, agreeing, vector);
        rewards.creditPoints(agreeing, points);
        _pay(jobId, job.fee, slashed, agreeing);
        if (job.callback) _deliver(jobId, job.requester, resultHash, vector);
    }

    /// @dev Settle every seat still open after the reveal phase; returns the total slashed and
    ///      the agreeing nodes' reputations afterwards (their performance points), in seat order.
    function _settleReveals(uint256 jobId, Seat[] storage seats, uint256 agreeingMask, bool accepted)
        private
        returns (uint256 slashed, uint256[] memory points)
    {
        Policy memory p = _policy;
        points = new uint256[](_popcount(agreeingMask));
        uint256 k = 0;
        for (uint256 i = 0; i < seats.length; ++i) {
            SeatState state = seats[i].state;
            address node = seats[i].node;
            if (state == SeatState.Committed) {
                slashed += _settleWithheld(jobId, node, p);
            } else if (state == SeatState.Revealed) {
                if (!accepted) {
                    _settle(jobId, node, SeatOutcome.Released, 0, 0);
                } else if (agreeingMask & (1 << i) != 0) {
                    // No slash is asked for (0 bps), so the slashed amount is always 0.
                    // slither-disable-next-line unused-return
                    (, uint32 reputation) = nodes.settleSeat(node, int32(p.reputationGain), 0);
                    emit SeatSettled(jobId, node, SeatOutcome.Agreed, 0);
                    points[k++] = reputation;
                } else {
                    slashed += _settle(jobId, node, SeatOutcome.Disagreed, -int32(p.disagreementPenalty), p.slashBps);
                }
            }
        }
    }

    function _settle(uint256 jobId, address node, SeatOutcome outcome, int32 reputationDelta, uint16 slashBps)
        private
        returns (uint256 slashed)
    {
        // Reputation only matters for agreeing seats, which _settleReveals settles itself.
        // slither-disable-next-line unused-return
        (slashed,) = nodes.settleSeat(node, reputationDelta, slashBps);
        emit SeatSettled(jobId, node, outcome, slashed);
    }

    /// @dev Committed and never revealed: a liveness fault, slashed like a disagreement.
    function _settleWithheld(uint256 jobId, address node, Policy memory p) private returns (uint256) {
        return _settle(jobId, node, SeatOutcome.Withheld, -int32(p.livenessPenalty), p.slashBps);
    }

    /// @dev Fee and slash reward split equally among the agreeing nodes; the protocol's share,
    ///      the rest of the slashed stake and any rounding dust go to the treasury.
    function _pay(uint256 jobId, uint96 fee, uint256 slashed, address[] memory agreeing) private {
        Policy memory p = _policy;
        uint256 k = agreeing.length;
        uint256 feeEach = (uint256(fee) * (BPS - p.protocolFeeBps)) / BPS / k;
        uint256 rewardEach = (slashed * p.slashRewardBps) / BPS / k;
        uint256 toTreasury = fee + slashed - (feeEach + rewardEach) * k;
        for (uint256 i = 0; i < k; ++i) {
            emit NodePaid(jobId, agreeing[i], feeEach, rewardEach);
        }
        for (uint256 i = 0; i < k; ++i) {
            if (feeEach + rewardEach != 0) token.safeTransfer(agreeing[i], feeEach + rewardEach);
        }
        if (toTreasury != 0) token.safeTransfer(p.treasury, toTreasury);
    }

    /// @dev Refunded from the commit phase: this round's committed seats and earlier rounds'
    ///      revealers did nothing wrong.
    function _releaseOpenSeats(uint256 jobId, Seat[] storage seats) private {
        for (uint256 i = 0; i < seats.length; ++i) {
            SeatState state = seats[i].state;
            if (state == SeatState.Committed || state == SeatState.Revealed) {
                _settle(jobId, seats[i].node, SeatOutcome.Released, 0, 0);
            }
        }
    }

    /// @dev Every seat must be settled already.
    function _refund(uint256 jobId, Job storage job, uint256 slashed) private {
        job.status = JobStatus.Refunded;
        emit JobRefunded(jobId, job.requester, job.fee);
        if (job.fee != 0) token.safeTransfer(job.requester, job.fee);
        if (slashed != 0) token.safeTransfer(_policy.treasury, slashed);
    }

    /// @dev Calls the requester with exactly callbackGasLimit gas and copies no return data, so
    ///      neither a revert, an out-of-gas nor a huge return can block finalization.
    function _deliver(uint256 jobId, address requester, bytes32 resultHash, bytes calldata vector) private {
        uint256 gasLimit = _policy.callbackGasLimit;
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

    function _members(Seat[] storage seats, uint256 mask) private view returns (address[] memory out) {
        out = new address[](_popcount(mask));
        uint256 k = 0;
        for (uint256 i = 0; i < seats.length; ++i) {
            if (mask & (1 << i) != 0) out[k++] = seats[i].node;
        }
    }

    function _nodesOf(Seat[] storage seats) private view returns (address[] memory out) {
        out = new address[](seats.length);
        for (uint256 i = 0; i < seats.length; ++i) {
            out[i] = seats[i].node;
        }
    }

    function _seatOf(uint256 jobId, address node, SeatState expected) private view returns (Seat storage) {
        Seat[] storage seats = _seats[jobId];
        for (uint256 i = 0; i < seats.length; ++i) {
            if (seats[i].node != node || seats[i].state == SeatState.Dropped) continue;
            if (seats[i].state != expected) revert JobRegistryWrongSeatState(jobId, node, seats[i].state);
            return seats[i];
        }
        revert JobRegistryNotAssigned(jobId, node);
    }

    function _setPolicy(Policy memory p) private {
        if (
            p.treasury == address(0) || p.protocolFeeBps > BPS / 2 || p.slashBps > BPS || p.slashRewardBps > BPS
                || p.callbackGasLimit == 0 || p.callbackGasLimit > MAX_CALLBACK_GAS
                || p.reputationGain > MAX_REPUTATION_STEP || p.disagreementPenalty > MAX_REPUTATION_STEP
                || p.livenessPenalty > MAX_REPUTATION_STEP
        ) revert JobRegistryInvalidPolicy();
        _policy = p;
        emit PolicyChanged(p);
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }
}
