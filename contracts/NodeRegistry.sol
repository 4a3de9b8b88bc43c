// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {WeightClasses} from "./libraries/WeightClasses.sol";

/// @title NodeRegistry
/// @notice Oracle nodes: registration, INFER stake with an unbonding period, the models each
///         serves, its capacity and reputation, and stake-weighted committee selection.
/// @dev A node's listed weight is `min(stake, stakeCap)` while it is eligible (stake at least the
///      minimum, open jobs below capacity, not ejected) and 0 (unlisted) otherwise; a draw keeps a
///      node it picked with probability reputation / REP_MAX, so selection follows
///      `min(stake, stakeCap) * reputation`. The cap bounds how often one operator is drawn; a
///      committee never seats the same node twice. A node whose reputation falls below `ejectionThreshold` is ejected: it
///      gets no new jobs, can still unstake, and may come back only through reinstate(), after
///      `unbondingPeriod` has passed since its ejection, on probation (reputation halfway between
///      the ejection line and 1.0). Each model keeps its eligible nodes in WeightClasses (power-of-two
///      weight classes, composition and rejection), so a try of a draw reads one member slot and
///      one node record however many nodes registered, and listing or unlisting a node writes a
///      constant number of slots. Only the job manager (JobRegistry) may
///      draw committees, settle seats and slash.
contract NodeRegistry is AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using WeightClasses for WeightClasses.Pool;

    // ------------------------------------------------------------------ types
    /// @dev Two slots: balances and unbonding time, then the bookkeeping that changes per job.
    ///      `id` sits in the second slot, which registration writes anyway and every draw reads
    ///      (reputation), so JobRegistry learns a drawn node's id without a storage read of its own.
    struct Node {
        uint96 stake; // bonded INFER, counted for selection
        uint96 unbonding; // INFER waiting out the unbonding period (still slashable)
        uint64 unbondingUntil; // when `unbonding` becomes withdrawable
        uint32 index; // 1-based registration slot (nodeAt); 0 = not registered
        uint16 capacity; // most open jobs at once
        uint16 openJobs; // seats not yet settled
        uint32 reputation; // fixed point, REP_ONE == 1.0
        uint96 listedWeight; // weight listed in the pools of the node's models (0 = unlisted)
        uint32 ejectedAt; // when reputation last fell below the ejection line (uint32 lasts to 2106)
        uint32 id; // permanent 1-based id, given at the first registration and never reused
    }

    // -------------------------------------------------------------- constants
    /// @notice Role allowed to change staking parameters.
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");
    /// @notice Reputation of a new node: 1.0.
    uint32 public constant REP_ONE = 10_000;
    /// @notice Reputation ceiling: 2.0.
    uint32 public constant REP_MAX = 20_000;
    /// @notice Most models one node may serve.
    uint256 public constant MAX_MODELS_PER_NODE = 8;
    /// @notice Most nodes registered at once (each holds a slot; exited nodes give theirs back).
    uint256 public constant MAX_NODES = 4096;
    /// @notice Basis-point denominator.
    uint16 public constant BPS = 10_000;
    /// @notice Tries for one seat before the last candidate is taken whatever its weight coin
    ///         and reputation. A try keeps its candidate with probability at least 1/2 (weight
    ///         class) times reputation / REP_MAX, so with every reputation at or above the
    ///         ejection line of 0.25 (1/8 of REP_MAX) that happens with probability below
    ///         (15/16)^128, about 3e-4; at reputation 1.0 below 0.75^128, about 1e-16.
    uint256 public constant MAX_DRAW_TRIES = 128;

    // ------------------------------------------------------------- immutables
    /// @notice The staking token (INFER).
    IERC20 public immutable token;
    /// @notice Where served models are checked to exist.
    ModelRegistry public immutable models;

    // ------------------------------------------------------------------ state
    /// @notice The contract that draws committees and settles seats (JobRegistry). Wired once
    ///         by the admin (the two contracts refer to each other) and never changeable, so no
    ///         admin can ever draw, settle or slash by itself.
    address public jobManager;
    /// @notice Least stake an eligible node holds.
    uint96 public minStake;
    /// @notice Seconds between requesting an unstake and withdrawing it.
    uint64 public unbondingPeriod;
    /// @notice Below this reputation a node is ejected: no new jobs.
    uint32 public ejectionThreshold;
    /// @notice Most stake counted for selection weight.
    uint96 public stakeCap;

    mapping(address node => Node) private _nodes;
    mapping(address node => uint32[]) private _servedModels;
    mapping(uint256 index => address node) private _nodeAt;
    mapping(uint32 modelId => WeightClasses.Pool) private _pools;
    uint32 private _nodeCount;
    uint32[] private _freeSlots; // indices of nodes that fully exited, reused first
    // Permanent ids (unlike slot indices, which are recycled): JobRegistry stores a seat's node
    // as its id, so a seat names its node for good, even after the node exits and its slot
    // serves another. Written once per address ever, at its first registration.
    mapping(uint32 id => address node) private _nodeById;
    uint32 private _idCount;

    // ----------------------------------------------------------------- events
    /// @notice A node registered with its first stake.
    event NodeRegistered(address indexed node, uint96 stake, uint32[] modelIds, uint16 capacity);
    /// @notice A node changed the models it serves or its capacity.
    event ServiceUpdated(address indexed node, uint32[] modelIds, uint16 capacity);
    /// @notice Stake was added.
    event StakeAdded(address indexed node, uint96 amount, uint96 stake);
    /// @notice Stake moved to unbonding; withdrawable at `until`.
    event UnstakeRequested(address indexed node, uint96 amount, uint96 stake, uint96 unbonding, uint64 until);
    /// @notice Unbonded stake was withdrawn.
    event StakeWithdrawn(address indexed node, uint96 amount);
    /// @notice Stake was slashed and sent to the job manager for distribution.
    event NodeSlashed(address indexed node, uint256 amount, uint96 stake, uint96 unbonding);
    /// @notice Reputation changed.
    event ReputationChanged(address indexed node, uint32 previous, uint32 current);
    /// @notice A node's selection weight changed (0 = not eligible for new jobs).
    event WeightChanged(address indexed node, uint128 weight);
    /// @notice A seat was settled and freed.
    event SeatReleased(address indexed node, uint16 openJobs);
    /// @notice A staking parameter changed.
    event StakingParamsChanged(uint96 minStake, uint64 unbondingPeriod, uint32 ejectionThreshold, uint96 stakeCap);
    /// @notice The node's reputation fell below the ejection line: no new jobs.
    event NodeEjected(address indexed node, uint32 reputation);
    /// @notice A node that fully exited gave its registration slot back for a new node.
    event SlotReleased(address indexed node, uint32 index);
    /// @notice The job manager was wired (once, for good).
    event JobManagerWired(address jobManager);
    /// @notice An ejected node came back on probation.
    event NodeReinstated(address indexed node, uint32 reputation);

    // ----------------------------------------------------------------- errors
    /// @notice A committee draw is due: its block hash is public, so the weights it reads may not
    ///         change until it is drawn. Call JobRegistry.assign() first, then retry.
    error NodeRegistryDrawsDue();
    /// @notice The node still has stake, unbonding stake or open jobs, so its slot is in use.
    error NodeRegistrySlotInUse(address node);
    /// @notice Only the wired job manager may call this.
    error NodeRegistryNotJobManager(address caller);
    /// @notice The job manager is wired already, or the address given is zero.
    error NodeRegistryJobManagerWired(address jobManager);
    /// @notice The stake is below the minimum.
    error NodeRegistryStakeBelowMinimum(uint256 have, uint256 need);
    /// @notice The caller is already registered.
    error NodeRegistryAlreadyRegistered(address node);
    /// @notice The address is not a registered node.
    error NodeRegistryNotRegistered(address node);
    /// @notice Every node slot is taken.
    error NodeRegistryFull(uint256 maxNodes);
    /// @notice A model id is unknown.
    error NodeRegistryUnknownModel(uint32 modelId);
    /// @notice The model list is empty, too long, or repeats a model.
    error NodeRegistryInvalidModels(uint256 count);
    /// @notice Capacity must be at least 1.
    error NodeRegistryZeroCapacity();
    /// @notice Amount must be non-zero.
    error NodeRegistryZeroAmount();
    /// @notice More than the node's bonded stake was asked for.
    error NodeRegistryInsufficientStake(uint256 have, uint256 requested);
    /// @notice Nothing is unbonding, or it is not withdrawable yet.
    error NodeRegistryNothingToWithdraw(uint256 unbonding, uint64 until);
    /// @notice Fewer eligible nodes serve the model than the committee needs.
    error NodeRegistryNotEnoughNodes(uint32 modelId, uint256 eligible, uint256 needed);
    /// @notice A parameter is out of bounds.
    error NodeRegistryInvalidParams();
    /// @notice Unbonding must outlast the longest job any model can have, so a node cannot
    ///         leave with its stake before its work is judged.
    error NodeRegistryUnbondingTooShort(uint64 unbondingPeriod, uint256 maxJobLifetime);
    /// @notice Slash share above 100%.
    error NodeRegistryInvalidBps(uint16 bps);
    /// @notice The node is not ejected.
    error NodeRegistryNotEjected(address node);
    /// @notice An ejected node must wait until `until` to come back.
    error NodeRegistryEjectionCooldown(address node, uint256 until);

    // -------------------------------------------------------------- modifiers
    /// @dev Every change to what a committee draw reads (stake, service, capacity, reputation,
    ///      parameters) waits until the draws whose block hash is already public are made.
    modifier whenNoDrawDue() {
        address manager = jobManager;
        if (manager != address(0) && IJobRegistry(manager).drawsDue()) revert NodeRegistryDrawsDue();
        _;
    }

    modifier onlyJobManager() {
        if (msg.sender != jobManager) revert NodeRegistryNotJobManager(msg.sender);
        _;
    }

    /// @param token_ INFER.
    /// @param models_ The model registry.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and PARAMS_ROLE.
    /// @param minStake_ Least stake of an eligible node.
    /// @param unbondingPeriod_ Seconds unbonding stake waits; longer than any job's lifetime.
    /// @param stakeCap_ Most stake counted for selection weight (at least minStake_).
    constructor(
        IERC20 token_,
        ModelRegistry models_,
        address admin,
        uint96 minStake_,
        uint64 unbondingPeriod_,
        uint96 stakeCap_
    ) {
        token = token_;
        models = models_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setParams(minStake_, unbondingPeriod_, REP_ONE / 4, stakeCap_);
    }

    // ------------------------------------------------------- node operations
    /// @notice Register the caller as a node, bonding `stake` INFER (approve it first).
    /// @param stake INFER to bond; at least `minStake`.
    /// @param modelIds Models served (1 to MAX_MODELS_PER_NODE, no repeats).
    /// @param capacity Most jobs the node works on at once.
    function register(uint96 stake, uint32[] calldata modelIds, uint16 capacity)
        external
        nonReentrant
        whenNoDrawDue
    {
        Node storage n = _nodes[msg.sender];
        if (n.index != 0) revert NodeRegistryAlreadyRegistered(msg.sender);
        if (stake < minStake) revert NodeRegistryStakeBelowMinimum(stake, minStake);
        if (capacity == 0) revert NodeRegistryZeroCapacity();
        _checkModels(modelIds);

        uint32 index = _takeSlot();
        n.index = index;
        n.stake = stake;
        n.capacity = capacity;
        // A returning address keeps the reputation it left with (an ejected node stays ejected)
        // and its id.
        if (n.reputation == 0 && n.ejectedAt == 0) n.reputation = REP_ONE;
        if (n.id == 0) _giveId(msg.sender, n);
        _nodeAt[index] = msg.sender;
        _servedModels[msg.sender] = modelIds;
        emit NodeRegistered(msg.sender, stake, modelIds, capacity);
        _syncWeight(msg.sender);

        token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @notice Bond `amount` more INFER (approve it first).
    /// @param amount INFER to add.
    function addStake(uint96 amount) external nonReentrant whenNoDrawDue {
        Node storage n = _requireNode(msg.sender);
        if (amount == 0) revert NodeRegistryZeroAmount();
        n.stake += amount;
        emit StakeAdded(msg.sender, amount, n.stake);
        _syncWeight(msg.sender);

        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Change the models served and the capacity. Open jobs are unaffected.
    /// @param modelIds Models served from now on.
    /// @param capacity Most open jobs at once.
    function updateService(uint32[] calldata modelIds, uint16 capacity) external whenNoDrawDue {
        _requireNode(msg.sender);
        if (capacity == 0) revert NodeRegistryZeroCapacity();
        _checkModels(modelIds);
        _delist(msg.sender);
        _servedModels[msg.sender] = modelIds;
        _nodes[msg.sender].capacity = capacity;
        emit ServiceUpdated(msg.sender, modelIds, capacity);
        _syncWeight(msg.sender);
    }

    /// @notice Move `amount` of bonded stake into unbonding. What stays bonded must be 0 (exit)
    ///         or at least `minStake`. Unbonding stake stays slashable until withdrawn, and each
    ///         request restarts the unbonding clock for everything unbonding.
    /// @param amount INFER to unbond.
    function requestUnstake(uint96 amount) external whenNoDrawDue {
        Node storage n = _requireNode(msg.sender);
        if (amount == 0) revert NodeRegistryZeroAmount();
        if (amount > n.stake) revert NodeRegistryInsufficientStake(n.stake, amount);
        uint96 remaining = n.stake - amount;
        if (remaining != 0 && remaining < minStake) revert NodeRegistryStakeBelowMinimum(remaining, minStake);
        n.stake = remaining;
        n.unbonding += amount;
        n.unbondingUntil = uint64(block.timestamp) + unbondingPeriod;
        emit UnstakeRequested(msg.sender, amount, remaining, n.unbonding, n.unbondingUntil);
        _syncWeight(msg.sender);
    }

    /// @notice Come back after an ejection: allowed once `unbondingPeriod` has passed since the
    ///         ejection; reputation restarts halfway between the ejection line and 1.0.
    function reinstate() external whenNoDrawDue {
        Node storage n = _requireNode(msg.sender);
        if (n.reputation >= ejectionThreshold) revert NodeRegistryNotEjected(msg.sender);
        uint256 until = uint256(n.ejectedAt) + unbondingPeriod;
        if (block.timestamp < until) revert NodeRegistryEjectionCooldown(msg.sender, until);
        uint32 previous = n.reputation;
        n.reputation = ejectionThreshold + (REP_ONE - ejectionThreshold) / 2;
        emit ReputationChanged(msg.sender, previous, n.reputation);
        emit NodeReinstated(msg.sender, n.reputation);
        _syncWeight(msg.sender);
    }

    /// @notice Withdraw all unbonded stake once the unbonding period has passed. A node left with
    ///         no stake and no open job gives its slot back (see releaseSlot).
    function withdraw() external nonReentrant whenNoDrawDue {
        Node storage n = _requireNode(msg.sender);
        uint96 amount = n.unbonding;
        if (amount == 0 || block.timestamp < n.unbondingUntil) {
            revert NodeRegistryNothingToWithdraw(amount, n.unbondingUntil);
        }
        n.unbonding = 0;
        emit StakeWithdrawn(msg.sender, amount);
        if (n.stake == 0 && n.openJobs == 0) _releaseSlot(msg.sender, n);

        token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------ job manager only
    /// @notice Draw `count` distinct eligible nodes serving `modelId`, weighted by selection
    ///         weight, skipping `exclude`, and take one seat of capacity from each.
    /// @param modelId The model the job runs.
    /// @param seed Randomness for the draw.
    /// @param count Committee size.
    /// @param exclude Nodes that may not be drawn (e.g. already tried for this job).
    /// @return drawn The committee, in draw order, each as `address | id << 160` with the node's
    ///         permanent id (idOf): one word per seat, which JobRegistry stores as the seat's node.
    function drawCommittee(uint32 modelId, uint256 seed, uint256 count, address[] calldata exclude)
        external
        onlyJobManager
        returns (uint256[] memory drawn)
    {
        WeightClasses.Pool storage pool = _pools[modelId];
        WeightClasses.Draw memory d = _prepareDraw(pool, modelId, count, exclude);
        address[] memory picked = new address[](count);
        for (uint256 k = 0; k < count; ++k) {
            picked[k] = _drawOne(pool, d, seed, k);
        }
        drawn = new uint256[](count);
        for (uint256 k = 0; k < count; ++k) {
            Node storage n = _nodes[picked[k]];
            drawn[k] = uint256(uint160(picked[k])) | (uint256(n.id) << 160);
            // No event: JobRegistry's JobAssigned names every seat taken, and getNode the count.
            uint16 open = n.openJobs + 1;
            n.openJobs = open;
            // A seat changes nothing _targetWeight reads but openJobs, so the listed weight
            // changes only when the seat fills the node's capacity.
            if (open >= n.capacity) _syncWeight(picked[k]);
        }
    }

    /// @notice Settle one seat: free its capacity, apply a reputation change and slash
    ///         `slashBps` of the node's stake (bonded first, then unbonding). Slashed INFER is
    ///         sent to the caller, which distributes it.
    /// @param node The seated node.
    /// @param reputationDelta Change of reputation (clamped to 0..REP_MAX).
    /// @param slashBps Share of the node's total stake to slash, in basis points.
    /// @return slashed INFER slashed and transferred to the caller.
    /// @return reputation The node's reputation afterwards.
    function settleSeat(address node, int32 reputationDelta, uint16 slashBps)
        external
        onlyJobManager
        returns (uint256 slashed, uint32 reputation)
    {
        if (slashBps > BPS) revert NodeRegistryInvalidBps(slashBps);
        Node storage n = _requireNode(node);
        uint16 open = n.openJobs;
        if (open > 0) {
            n.openJobs = open - 1;
            emit SeatReleased(node, open - 1);
        }
        if (reputationDelta != 0) _applyReputation(node, n, reputationDelta);
        if (slashBps != 0) slashed = _slash(node, n, slashBps);
        reputation = n.reputation;
        _syncWeight(node);

        if (slashed != 0) token.safeTransfer(msg.sender, slashed);
    }

    /// @notice Settle many agreed or released seats at once, without slashing: for each node,
    ///         free `seatCounts[k]` seats of capacity and raise its reputation by `gains[k]`
    ///         (clamped to REP_MAX). JobRegistry collects these over one call (a batch of jobs)
    ///         and sends them here once; a gain never ejects, and the sum of gains clamps exactly
    ///         like the gains applied one by one, so this equals settling the seats one by one.
    /// @param owed The nodes.
    /// @param seatCounts Seats settled per node.
    /// @param gains Reputation gain per node, in REP_ONE units (at most REP_MAX each).
    function releaseSeats(address[] calldata owed, uint256[] calldata seatCounts, uint256[] calldata gains)
        external
        onlyJobManager
    {
        for (uint256 k = 0; k < owed.length; ++k) {
            address node = owed[k];
            Node storage n = _requireNode(node);
            uint256 count = seatCounts[k];
            uint256 gain = gains[k];
            if (count == 0 && gain == 0) continue;
            uint16 open = n.openJobs;
            uint16 freed = count < open ? uint16(count) : open;
            if (freed != 0) {
                n.openJobs = open - freed;
                emit SeatReleased(node, open - freed);
            }
            if (gain != 0) _applyReputation(node, n, int32(uint32(gain < REP_MAX ? gain : REP_MAX)));
            _syncWeight(node);
        }
    }

    // ------------------------------------------------------------- governance
    /// @notice Wire the job manager (JobRegistry). Callable once; there is no way to change it.
    /// @param jobManager_ The JobRegistry.
    function wireJobManager(address jobManager_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (jobManager != address(0) || jobManager_ == address(0)) revert NodeRegistryJobManagerWired(jobManager);
        jobManager = jobManager_;
        emit JobManagerWired(jobManager_);
    }

    /// @notice Change staking parameters.
    /// @param minStake_ Least stake of an eligible node (non-zero).
    /// @param unbondingPeriod_ Unbonding seconds (non-zero).
    /// @param ejectionThreshold_ Reputation below which a node gets no jobs (at most REP_ONE).
    /// @param stakeCap_ Most stake counted for selection weight (at least minStake_).
    function setParams(uint96 minStake_, uint64 unbondingPeriod_, uint32 ejectionThreshold_, uint96 stakeCap_)
        external
        onlyRole(PARAMS_ROLE)
        whenNoDrawDue
    {
        _setParams(minStake_, unbondingPeriod_, ejectionThreshold_, stakeCap_);
    }

    /// @notice Give the slot of a node that fully exited (no stake, nothing unbonding, no open
    ///         job) back for new nodes; anyone may call. Its reputation record is kept.
    /// @param node The node.
    function releaseSlot(address node) external whenNoDrawDue {
        Node storage n = _requireNode(node);
        if (n.stake != 0 || n.unbonding != 0 || n.openJobs != 0) revert NodeRegistrySlotInUse(node);
        _releaseSlot(node, n);
    }

    /// @notice Recompute a node's selection weight after a parameter change (anyone may call).
    /// @param node The node.
    function refreshWeight(address node) external whenNoDrawDue {
        _requireNode(node);
        _syncWeight(node);
    }

    // ------------------------------------------------------------------ views
    /// @notice A node's record (all zero for an unknown address).
    /// @param node The node.
    function getNode(address node) external view returns (Node memory) {
        return _nodes[node];
    }

    /// @notice A node's permanent id: given at its first registration, kept when it exits and
    ///         comes back, never given to another address (0 = never registered).
    /// @param node The node.
    function idOf(address node) external view returns (uint32) {
        return _nodes[node].id;
    }

    /// @notice The node with permanent id `id` (address(0) for an id not given yet).
    /// @param id The id.
    function nodeById(uint32 id) external view returns (address) {
        return _nodeById[id];
    }

    /// @notice The models a node serves.
    /// @param node The node.
    function modelsOf(address node) external view returns (uint32[] memory) {
        return _servedModels[node];
    }

    /// @notice Number of nodes eligible for new jobs of a model.
    /// @param modelId The model.
    function eligibleNodes(uint32 modelId) external view returns (uint256) {
        return _pools[modelId].size();
    }

    /// @notice Number of nodes drawCommittee could pick for `modelId` while skipping `exclude`.
    /// @dev Lets a caller decide before drawing instead of catching a revert, which a caller
    ///      could force by sending too little gas.
    /// @param modelId The model.
    /// @param exclude Nodes that may not be drawn.
    function eligibleExcluding(uint32 modelId, address[] calldata exclude) external view returns (uint256 eligible) {
        WeightClasses.Pool storage pool = _pools[modelId];
        eligible = pool.size();
        for (uint256 k = 0; k < exclude.length; ++k) {
            if (pool.isListed(exclude[k])) --eligible;
        }
    }

    /// @notice Sum of the selection weights of a model's eligible nodes.
    /// @param modelId The model.
    function totalWeight(uint32 modelId) external view returns (uint256) {
        return _pools[modelId].totalWeight();
    }

    /// @notice Highest slot index ever used: nodeAt(1 .. nodeCount()) lists every registered
    ///         node (a released slot reads as address(0) until reused).
    function nodeCount() external view returns (uint32) {
        return _nodeCount;
    }

    /// @notice The node at a 1-based registration index.
    /// @param index The index.
    function nodeAt(uint256 index) external view returns (address) {
        return _nodeAt[index];
    }

    // --------------------------------------------------------------- internal
    /// @dev Open a draw of `count` seats over the model's pool with `exclude` taken out.
    function _prepareDraw(WeightClasses.Pool storage pool, uint32 modelId, uint256 count, address[] calldata exclude)
        private
        view
        returns (WeightClasses.Draw memory d)
    {
        d = pool.open(stakeCap, exclude.length + count);
        for (uint256 k = 0; k < exclude.length; ++k) {
            // slither-disable-next-line unused-return
            pool.exclude(d, exclude[k]); // an unlisted or repeated node has nothing to take out
        }
        if (d.left < count) revert NodeRegistryNotEnoughNodes(modelId, d.left, count);
    }

    /// @dev Draw one seat: a candidate by capped weight (WeightClasses.propose), kept when its
    ///      weight coin and then its reputation coin (reputation / REP_MAX) say so and otherwise
    ///      drawn again (rejection sampling), so a node is drawn in proportion to
    ///      min(stake, cap) * reputation while the pool holds only min(stake, cap): a reputation
    ///      change writes nothing there. Then take it out of the draw.
    function _drawOne(WeightClasses.Pool storage pool, WeightClasses.Draw memory d, uint256 seed, uint256 k)
        private
        view
        returns (address node)
    {
        uint256 at = 0;
        uint256 pos = 0;
        for (uint256 t = 0; t < MAX_DRAW_TRIES; ++t) {
            (uint256 entropy, uint256 coin) = _entropy(seed, k, t);
            uint256 weightCoin;
            (node, at, pos, weightCoin) = pool.propose(d, entropy % d.total);
            (uint256 weight, uint256 reputation) = _drawFields(_nodes[node]);
            if (weightCoin < weight && coin % REP_MAX < reputation) break;
        }
        pool.takeOut(d, at, pos);
    }

    /// @dev A node's listedWeight and reputation in one SLOAD (the compiler reads the slot once
    ///      for each field): the second slot of Node holds index (bits 0..31), capacity (32..47),
    ///      openJobs (48..63), reputation (64..95), listedWeight (96..191), ejectedAt, id.
    function _drawFields(Node storage n) private view returns (uint256 weight, uint256 reputation) {
        assembly ("memory-safe") {
            let word := sload(add(n.slot, 1))
            reputation := and(shr(64, word), 0xffffffff)
            weight := and(shr(96, word), 0xffffffffffffffffffffffff)
        }
    }

    /// @dev keccak256(abi.encode(seed, k, t)) picks the leaf and keccak256(abi.encode(entropy))
    ///      the reputation coin, hashed in scratch memory: a try allocates nothing.
    function _entropy(uint256 seed, uint256 k, uint256 t) private pure returns (uint256 entropy, uint256 coin) {
        assembly ("memory-safe") {
            let ptr := mload(0x40) // free memory, written past but not claimed
            mstore(ptr, seed)
            mstore(add(ptr, 0x20), k)
            mstore(add(ptr, 0x40), t)
            entropy := keccak256(ptr, 0x60)
            mstore(0x00, entropy)
            coin := keccak256(0x00, 0x20)
        }
    }

    /// @dev Reputation is applied at draw time (_drawOne), not here, so that settling a seat
    ///      changes the pools only when the node crosses its capacity or the ejection line.
    function _targetWeight(Node storage n) private view returns (uint96) {
        uint96 stake = n.stake;
        if (stake < minStake || n.openJobs >= n.capacity || n.reputation < ejectionThreshold) return 0;
        uint96 cap = stakeCap;
        return stake < cap ? stake : cap;
    }

    /// @dev Bring every served model's pool in line with the node's current weight.
    function _syncWeight(address node) private {
        Node storage n = _nodes[node];
        uint96 target = _targetWeight(n);
        uint96 listed = n.listedWeight;
        if (target == listed) return;
        uint32[] storage served = _servedModels[node];
        for (uint256 k = 0; k < served.length; ++k) {
            WeightClasses.Pool storage pool = _pools[served[k]];
            if (listed == 0) pool.insert(node, target);
            else if (target == 0) pool.remove(node, listed);
            else pool.reweigh(node, listed, target);
        }
        n.listedWeight = target;
        emit WeightChanged(node, target);
    }

    /// @dev Unlist the node from all its pools (before its model list changes).
    function _delist(address node) private {
        Node storage n = _nodes[node];
        uint96 listed = n.listedWeight;
        if (listed == 0) return;
        uint32[] storage served = _servedModels[node];
        for (uint256 k = 0; k < served.length; ++k) {
            _pools[served[k]].remove(node, listed);
        }
        n.listedWeight = 0;
    }

    function _applyReputation(address node, Node storage n, int32 delta) private {
        uint32 previous = n.reputation;
        int256 next = int256(uint256(previous)) + delta;
        if (next < 0) next = 0;
        if (next > int256(uint256(REP_MAX))) next = int256(uint256(REP_MAX));
        uint32 current = uint32(uint256(next));
        n.reputation = current;
        emit ReputationChanged(node, previous, current);
        uint32 line = ejectionThreshold;
        if (previous >= line && current < line) {
            n.ejectedAt = uint32(block.timestamp);
            emit NodeEjected(node, current);
        }
    }

    function _slash(address node, Node storage n, uint16 bps) private returns (uint256 amount) {
        uint256 total = uint256(n.stake) + n.unbonding;
        amount = (total * bps) / BPS;
        // One fault never costs more than the stake that counts for selection.
        if (amount > stakeCap) amount = stakeCap;
        // amount <= stake + unbonding, so each branch below leaves non-negative balances.
        uint96 fromStake = amount > n.stake ? n.stake : uint96(amount);
        n.stake -= fromStake;
        n.unbonding -= uint96(amount - fromStake);
        emit NodeSlashed(node, amount, n.stake, n.unbonding);
    }

    /// @dev Once per address ever. Checked: reverts only after 2^32 - 1 distinct addresses.
    function _giveId(address node, Node storage n) private {
        uint32 id = ++_idCount;
        n.id = id;
        _nodeById[id] = node;
    }

    function _takeSlot() private returns (uint32 index) {
        uint256 free = _freeSlots.length;
        if (free != 0) {
            index = _freeSlots[free - 1];
            _freeSlots.pop();
            return index;
        }
        if (_nodeCount >= MAX_NODES) revert NodeRegistryFull(MAX_NODES);
        index = ++_nodeCount;
    }

    /// @dev The node has no stake, so it is listed nowhere; its slot can serve another node.
    function _releaseSlot(address node, Node storage n) private {
        uint32 index = n.index;
        _delist(node);
        delete _servedModels[node];
        _nodeAt[index] = address(0);
        n.index = 0;
        _freeSlots.push(index);
        emit SlotReleased(node, index);
    }

    function _checkModels(uint32[] calldata modelIds) private view {
        if (modelIds.length == 0 || modelIds.length > MAX_MODELS_PER_NODE) {
            revert NodeRegistryInvalidModels(modelIds.length);
        }
        for (uint256 k = 0; k < modelIds.length; ++k) {
            if (!models.exists(modelIds[k])) revert NodeRegistryUnknownModel(modelIds[k]);
            for (uint256 j = 0; j < k; ++j) {
                if (modelIds[j] == modelIds[k]) revert NodeRegistryInvalidModels(modelIds.length);
            }
        }
    }

    function _requireNode(address node) private view returns (Node storage n) {
        n = _nodes[node];
        if (n.index == 0) revert NodeRegistryNotRegistered(node);
    }

    function _setParams(uint96 minStake_, uint64 unbondingPeriod_, uint32 ejectionThreshold_, uint96 stakeCap_)
        private
    {
        if (minStake_ == 0 || ejectionThreshold_ > REP_ONE || stakeCap_ < minStake_) {
            revert NodeRegistryInvalidParams();
        }
        uint256 lifetime = models.maxJobLifetime();
        if (unbondingPeriod_ < lifetime) revert NodeRegistryUnbondingTooShort(unbondingPeriod_, lifetime);
        minStake = minStake_;
        unbondingPeriod = unbondingPeriod_;
        ejectionThreshold = ejectionThreshold_;
        stakeCap = stakeCap_;
        emit StakingParamsChanged(minStake_, unbondingPeriod_, ejectionThreshold_, stakeCap_);
    }
}
