// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @dev The few JobRegistry and NodeRegistry calls the attack needs, declared here so the same
///      attacker compiles against any version of the registries (seat states read as uint8).
interface IGrindedJobs {
    struct Seat {
        address node;
        uint8 state;
        bytes32 digest;
    }

    function submit(uint32 modelId, string[] calldata inputs, uint96 maxFeePerJob, bool callback)
        external
        returns (uint256);
    function assign(uint256 maxJobs) external returns (uint256);
    function getSeats(uint256 jobId) external view returns (Seat[] memory);
}

interface IGrindedNodes {
    function register(uint96 stake, uint32[] calldata modelIds, uint16 capacity) external;
    function addStake(uint96 amount) external;
}

/// @title CommitteeGrinder
/// @notice Test-only attacker: wants `wanted` (its sybils plus a victim) to be the committee of
///         its job, and retries every way it can inside one transaction, reverting each attempt
///         whose draw it dislikes. It is itself one of the sybil nodes, so it can also move its own
///         stake between attempts.
contract CommitteeGrinder {
    IGrindedJobs public immutable jobs;
    IGrindedNodes public immutable nodes;
    IERC20 public immutable token;

    error NotTheCommitteeWanted();

    constructor(IGrindedJobs jobs_, IGrindedNodes nodes_, IERC20 token_) {
        jobs = jobs_;
        nodes = nodes_;
        token = token_;
        token_.approve(address(jobs_), type(uint256).max);
        token_.approve(address(nodes_), type(uint256).max);
    }

    /// @notice Register this contract as a node (one of the sybils).
    function registerAsNode(uint96 stake, uint32[] calldata modelIds, uint16 capacity) external {
        nodes.register(stake, modelIds, capacity);
    }

    /// @notice Submit a job for `modelId`, retrying up to `tries` times with a fresh job id each
    ///         time until its committee, read in the same transaction, is `wanted`. When no try
    ///         succeeds, submit one plain job anyway. Returns the job id and whether it is rigged.
    function grindSubmit(uint32 modelId, address[] calldata wanted, uint256 tries, uint96 fee)
        external
        returns (uint256 jobId, bool rigged)
    {
        for (uint256 i = 0; i < tries; ++i) {
            try this.submitAndCheck(modelId, i + 1, wanted, fee) returns (uint256 id) {
                return (id, true);
            } catch {}
        }
        return (jobs.submit(modelId, _inputs(1), fee, false), false);
    }

    /// @notice After the job was queued, try to draw it only if the committee suits: first as it
    ///         is, then after moving this node's stake by 1, 2, ... wei (which shifts every stake-
    ///         weighted pick). Returns whether a rigged draw went through.
    function grindAssign(uint256 jobId, address[] calldata wanted, uint256 tries) external returns (bool rigged) {
        for (uint256 i = 0; i < tries; ++i) {
            try this.assignAndCheck(jobId, wanted, i) {
                return true;
            } catch {}
        }
        return false;
    }

    /// @dev One attempt: submit `count` jobs (each attempt a new last id, so a new seed) and keep
    ///      them only if the last one's committee is `wanted`.
    function submitAndCheck(uint32 modelId, uint256 count, address[] calldata wanted, uint96 fee)
        external
        returns (uint256 jobId)
    {
        require(msg.sender == address(this), "self only");
        jobId = jobs.submit(modelId, _inputs(count), fee, false) + count - 1;
        if (!_isCommittee(jobId, wanted)) revert NotTheCommitteeWanted();
    }

    /// @dev One attempt: move this node's stake by `nudge` wei, draw the queue head (the job just
    ///      submitted), keep it only if its committee is `wanted`.
    function assignAndCheck(uint256 jobId, address[] calldata wanted, uint256 nudge) external {
        require(msg.sender == address(this), "self only");
        if (nudge != 0) nodes.addStake(uint96(nudge));
        jobs.assign(1);
        if (!_isCommittee(jobId, wanted)) revert NotTheCommitteeWanted();
    }

    function _isCommittee(uint256 jobId, address[] calldata wanted) private view returns (bool) {
        IGrindedJobs.Seat[] memory seats = jobs.getSeats(jobId);
        if (seats.length != wanted.length) return false;
        for (uint256 w = 0; w < wanted.length; ++w) {
            bool found = false;
            for (uint256 k = 0; k < seats.length; ++k) {
                if (seats[k].node == wanted[w]) found = true;
            }
            if (!found) return false;
        }
        return true;
    }

    function _inputs(uint256 count) private pure returns (string[] memory inputs) {
        inputs = new string[](count);
        for (uint256 i = 0; i < count; ++i) {
            inputs[i] = "grind";
        }
    }
}
