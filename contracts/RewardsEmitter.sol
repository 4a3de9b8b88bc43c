// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {InferToken} from "./InferToken.sol";
import {IRewardsEmitter} from "./interfaces/IRewardsEmitter.sol";

/// @title RewardsEmitter
/// @notice Emits INFER to nodes per epoch, following paid work: an epoch emits
///         `min(emissionFor(e), totalPoints(e) * emissionPerFeeBps / BPS)`, where a node's points
///         are the INFER fees it was paid for accepted work in that epoch. The epoch's emission is
///         split by points; nodes pull their share after the epoch closes.
/// @dev Schedule: `emissionFor(e) = initialEmission * (decayBps / 10_000)^e`, fixed at deployment
///      and never changeable. It is a ceiling, not a promise: an epoch with little paid work emits
///      only `emissionPerFeeBps` of the fees paid, an epoch with no paid work emits nothing, and the
///      part of the schedule an epoch does not emit is never minted by anyone, ever (it does not
///      roll over). So a self-paid job in a quiet epoch earns `emissionPerFeeBps` of its fee, not
///      the epoch's schedule. The schedule's sum over all epochs, `initialEmission * 10_000 /
///      (10_000 - decayBps)`, must fit under the token's remaining cap (checked at construction).
///      Claims round down, so an epoch never emits more than either bound.
contract RewardsEmitter is IRewardsEmitter, AccessControl {
    // -------------------------------------------------------------- constants
    /// @notice Basis-point denominator.
    uint256 public constant BPS = 10_000;
    uint256 private constant WAD = 1e18;

    // ------------------------------------------------------------- immutables
    /// @notice INFER; this contract needs its MINTER_ROLE.
    InferToken public immutable token;
    /// @notice Start of epoch 0 (unix seconds).
    uint256 public immutable genesis;
    /// @notice Seconds per epoch.
    uint256 public immutable epochLength;
    /// @notice INFER emitted in epoch 0.
    uint256 public immutable initialEmission;
    /// @notice Each epoch emits this share (basis points) of the one before.
    uint256 public immutable decayBps;
    /// @notice Most INFER an epoch emits per INFER of fees earned in it, in basis points, in (0, BPS).
    uint256 public immutable emissionPerFeeBps;

    // ------------------------------------------------------------------ state
    /// @notice The contract that credits points (JobRegistry). Wired once by the admin (the two
    ///         contracts refer to each other) and never changeable, so no admin can ever credit
    ///         points by itself.
    address public creditor;
    mapping(uint256 epoch => uint256) private _totalPoints;
    mapping(uint256 epoch => mapping(address node => uint256)) private _points;
    mapping(uint256 epoch => mapping(address node => bool)) private _claimed;
    mapping(uint256 epoch => uint256) private _emitted;

    // ----------------------------------------------------------------- events
    /// @notice A node earned points in an epoch.
    event PointsCredited(uint256 indexed epoch, address indexed node, uint256 points, uint256 totalPoints);
    /// @notice A node claimed its share of an epoch's emission.
    event RewardsClaimed(uint256 indexed epoch, address indexed node, uint256 amount);
    /// @notice The creditor was wired (once, for good).
    event CreditorWired(address creditor);

    // ----------------------------------------------------------------- errors
    /// @notice Schedule parameters are out of range or the schedule's total does not fit the cap.
    error RewardsInvalidSchedule();
    /// @notice The epoch has not closed yet.
    error RewardsEpochOpen(uint256 epoch, uint256 current);
    /// @notice The node already claimed this epoch.
    error RewardsAlreadyClaimed(uint256 epoch, address node);
    /// @notice Nothing to claim in the given epochs.
    error RewardsNothingToClaim(address node);
    /// @notice The arrays passed have different lengths.
    error RewardsLengthMismatch(uint256 nodes, uint256 points);
    /// @notice Only the wired creditor may credit points.
    error RewardsNotCreditor(address caller);
    /// @notice The creditor is wired already, or the address given is zero.
    error RewardsCreditorWired(address creditor);

    // -------------------------------------------------------------- modifiers
    modifier onlyCreditor() {
        if (msg.sender != creditor) revert RewardsNotCreditor(msg.sender);
        _;
    }

    /// @param token_ INFER.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (wires the creditor, once).
    /// @param genesis_ Start of epoch 0.
    /// @param epochLength_ Seconds per epoch (non-zero).
    /// @param initialEmission_ INFER emitted in epoch 0 (non-zero).
    /// @param decayBps_ Share of the previous epoch's emission, in (0, 10_000).
    /// @param emissionPerFeeBps_ Most emission per fee earned, in (0, 10_000); see IRewardsEmitter
    ///        for the bound that keeps self-dealing unprofitable.
    constructor(
        InferToken token_,
        address admin,
        uint256 genesis_,
        uint256 epochLength_,
        uint256 initialEmission_,
        uint256 decayBps_,
        uint256 emissionPerFeeBps_
    ) {
        if (epochLength_ == 0 || initialEmission_ == 0 || decayBps_ == 0 || decayBps_ >= BPS) {
            revert RewardsInvalidSchedule();
        }
        if (emissionPerFeeBps_ == 0 || emissionPerFeeBps_ >= BPS) revert RewardsInvalidSchedule();
        if ((initialEmission_ * BPS) / (BPS - decayBps_) > token_.cap() - token_.totalSupply()) {
            revert RewardsInvalidSchedule();
        }
        token = token_;
        genesis = genesis_;
        epochLength = epochLength_;
        initialEmission = initialEmission_;
        decayBps = decayBps_;
        emissionPerFeeBps = emissionPerFeeBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // --------------------------------------------------------------- creditor
    /// @inheritdoc IRewardsEmitter
    function creditPoints(address[] calldata nodes, uint256[] calldata points) external onlyCreditor {
        if (nodes.length != points.length) revert RewardsLengthMismatch(nodes.length, points.length);
        uint256 epoch = currentEpoch();
        uint256 total = _totalPoints[epoch];
        for (uint256 i = 0; i < nodes.length; ++i) {
            // JobRegistry credits once per node per call, also nodes whose jobs paid no fee:
            // a zero entry changes nothing, so it writes nothing and claims nothing happened.
            if (points[i] == 0) continue;
            _points[epoch][nodes[i]] += points[i];
            total += points[i];
            emit PointsCredited(epoch, nodes[i], points[i], total);
        }
        _totalPoints[epoch] = total;
    }

    // ------------------------------------------------------------- governance
    /// @notice Wire the creditor (JobRegistry). Callable once; there is no way to change it.
    /// @param creditor_ The JobRegistry.
    function wireCreditor(address creditor_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (creditor != address(0) || creditor_ == address(0)) revert RewardsCreditorWired(creditor);
        creditor = creditor_;
        emit CreditorWired(creditor_);
    }

    // ------------------------------------------------------------------ nodes
    /// @notice Claim the caller's share of closed epochs; mints it to the caller.
    /// @param epochs Closed epochs to claim, each at most once.
    /// @return amount INFER minted.
    function claim(uint256[] calldata epochs) external returns (uint256 amount) {
        uint256 current = currentEpoch();
        for (uint256 i = 0; i < epochs.length; ++i) {
            uint256 epoch = epochs[i];
            if (epoch >= current) revert RewardsEpochOpen(epoch, current);
            if (_claimed[epoch][msg.sender]) revert RewardsAlreadyClaimed(epoch, msg.sender);
            uint256 share = _share(epoch, msg.sender);
            _claimed[epoch][msg.sender] = true;
            _emitted[epoch] += share;
            amount += share;
            emit RewardsClaimed(epoch, msg.sender, share);
        }
        if (amount == 0) revert RewardsNothingToClaim(msg.sender);
        token.mint(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views
    /// @notice The epoch now.
    function currentEpoch() public view returns (uint256) {
        return block.timestamp < genesis ? 0 : (block.timestamp - genesis) / epochLength;
    }

    /// @notice INFER the schedule allots to `epoch`: initialEmission * (decayBps/1e4)^epoch.
    /// @param epoch The epoch.
    function emissionFor(uint256 epoch) public view returns (uint256) {
        return (initialEmission * _rpow((decayBps * WAD) / BPS, epoch)) / WAD;
    }

    /// @notice INFER `epoch` emits in all: `min(emissionFor(epoch), totalPoints(epoch) *
    ///         emissionPerFeeBps / BPS)`, rounded down (claims round down again, per node). Final
    ///         once the epoch closes; while it is open it grows with the fees credited. What an
    ///         epoch does not emit of its schedule is never minted.
    /// @param epoch The epoch.
    function epochEmission(uint256 epoch) public view returns (uint256) {
        uint256 scheduled = emissionFor(epoch);
        uint256 earned = (_totalPoints[epoch] * emissionPerFeeBps) / BPS;
        return earned < scheduled ? earned : scheduled;
    }

    /// @notice What `node` could claim for `epochs` (0 for open or claimed epochs).
    /// @param node The node.
    /// @param epochs Epochs to check.
    function pendingRewards(address node, uint256[] calldata epochs) external view returns (uint256 amount) {
        uint256 current = currentEpoch();
        for (uint256 i = 0; i < epochs.length; ++i) {
            if (epochs[i] < current && !_claimed[epochs[i]][node]) amount += _share(epochs[i], node);
        }
    }

    /// @notice Points of `node` in `epoch`: INFER fees it was paid for accepted work then.
    /// @param epoch The epoch.
    /// @param node The node.
    function pointsOf(uint256 epoch, address node) external view returns (uint256) {
        return _points[epoch][node];
    }

    /// @notice Points of all nodes in `epoch`: INFER fees paid for accepted work then.
    /// @param epoch The epoch.
    function totalPoints(uint256 epoch) external view returns (uint256) {
        return _totalPoints[epoch];
    }

    /// @notice INFER already claimed from `epoch`.
    /// @param epoch The epoch.
    function emitted(uint256 epoch) external view returns (uint256) {
        return _emitted[epoch];
    }

    /// @notice Whether `node` claimed `epoch`.
    /// @param epoch The epoch.
    /// @param node The node.
    function claimed(uint256 epoch, address node) external view returns (bool) {
        return _claimed[epoch][node];
    }

    // --------------------------------------------------------------- internal
    /// @dev Pro-rata share of the epoch's emission, rounding down, so the shares never add up to
    ///      more than `epochEmission` (itself at most both bounds).
    function _share(uint256 epoch, address node) private view returns (uint256) {
        uint256 total = _totalPoints[epoch];
        if (total == 0) return 0;
        // epochEmission rounds the fee bound down before this multiplies by points, on purpose:
        // the shares must sum to no more than that rounded-down total.
        // slither-disable-next-line divide-before-multiply
        return (epochEmission(epoch) * _points[epoch][node]) / total;
    }

    /// @dev x^n in WAD fixed point by repeated squaring, rounding down; x <= WAD so nothing grows.
    function _rpow(uint256 x, uint256 n) private pure returns (uint256 z) {
        z = WAD;
        while (n != 0) {
            // Fixed-point power by squaring: each step rounds down on purpose (emission may
            // only err below the schedule).
            // slither-disable-next-line divide-before-multiply
            if (n & 1 != 0) z = (z * x) / WAD;
            x = (x * x) / WAD;
            n >>= 1;
        }
    }
}
