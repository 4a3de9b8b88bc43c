// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {Agreement} from "./libraries/Agreement.sol";
import {PolicyBounds} from "./libraries/PolicyBounds.sol";

/// @title AgreementJudge
/// @notice Which revealed vectors of a job agree (libraries/Agreement.sol), and the error a
///         refused single-job call reverts with, as a stateless contract: JobRegistry creates it
///         in its constructor and calls it from finalize() and on refusals, so that this code
///         lives outside JobRegistry's runtime (the 24,576-byte limit). It holds nothing; the
///         registry checks every vector against the digest its seat revealed before asking, and
///         reads what each error reports from the registry's views (getJob, getSeats): only
///         the registry that created it, never storage of its own.
contract AgreementJudge {
    /// @notice The JobRegistry that created this judge.
    IJobRegistry public immutable registry;

    constructor() {
        registry = IJobRegistry(msg.sender);
    }

    /// @notice Why `caller` holds no seat of `jobId` in state `expected` that its commit or
    ///         reveal matches (the registry's refusal path only): NotAssigned without a live
    ///         seat in the job, WrongSeatState with the seat's index when its seat is in another
    ///         state, else CommitmentMismatch (a reveal that does not open the seat's commitment).
    /// @param jobId The job.
    /// @param caller The node that called commit or reveal.
    /// @param expected The seat state the call needs.
    /// @return skip Why the call was refused.
    /// @return index The seat's index, for WrongSeatState.
    function whySeatless(uint256 jobId, address caller, IJobRegistry.SeatState expected)
        external
        view
        returns (IJobRegistry.Skip skip, uint256 index)
    {
        IJobRegistry.Seat[] memory seats = registry.getSeats(jobId);
        for (uint256 i = 0; i < seats.length; ++i) {
            if (seats[i].node != caller || seats[i].state == IJobRegistry.SeatState.Dropped) continue;
            if (seats[i].state != expected) return (IJobRegistry.Skip.WrongSeatState, i);
            return (IJobRegistry.Skip.CommitmentMismatch, 0);
        }
        return (IJobRegistry.Skip.NotAssigned, 0);
    }

    /// @notice The medoid of the current round (seats `from` on), every revealed seat within
    ///         the threshold of it, and how many of those are of the current round.
    /// @param from First seat of the current round.
    /// @param thresholdPpm Cosine threshold, parts per million.
    /// @param revealedMask Seats whose vector was revealed and checked, as a bitmask.
    /// @param vectors One packed int8 vector per seat (empty for seats not in revealedMask).
    /// @return medoid The medoid seat.
    /// @return agreeingMask Revealed seats within the threshold of the medoid.
    /// @return votes Seats of agreeingMask from the current round.
    function decide(uint256 from, uint256 thresholdPpm, uint256 revealedMask, bytes[] calldata vectors)
        external
        pure
        returns (uint256 medoid, uint256 agreeingMask, uint256 votes)
    {
        return Agreement.decide(from, thresholdPpm, revealedMask, vectors);
    }

    /// @notice Revert with JobRegistryInvalidPolicy unless `p` is within JobRegistry's bounds.
    /// @param p The policy.
    /// @param emissionPerFeeBps RewardsEmitter's emission per unit of fee paid.
    function checkPolicy(IJobRegistry.Policy calldata p, uint256 emissionPerFeeBps) external pure {
        uint16 bps = PolicyBounds.BPS;
        uint32 step = PolicyBounds.MAX_REPUTATION_STEP;
        if (
            p.treasury == address(0) || p.protocolFeeBps > bps / 2 || p.slashBps > PolicyBounds.MAX_SLASH_BPS
                || p.slashRewardBps > bps || p.callbackGasLimit == 0
                || p.callbackGasLimit > PolicyBounds.MAX_CALLBACK_GAS || p.reputationGain > step
                || p.disagreementPenalty > step || p.livenessPenalty > step
        ) revert IJobRegistry.JobRegistryInvalidPolicy();
        // Self-dealing for emission must lose money: a requester whose own nodes take every seat
        // gets back fee * (1 - protocolFee) * (1 + emissionPerFee), which must stay below fee.
        if (emissionPerFeeBps * (bps - p.protocolFeeBps) >= uint256(p.protocolFeeBps) * bps) {
            revert IJobRegistry.JobRegistryInvalidPolicy();
        }
    }

    /// @notice Revert with the IJobRegistry error that names `skip` (never returns), reading
    ///         what it reports from the registry's views.
    /// @param skip Why the registry refused the call.
    /// @param jobId The job.
    /// @param caller Who called the registry.
    /// @param detail What the refusal found: a seat index for WrongSeatState, a vector length
    ///        for InvalidVectorLength, a count for VectorCountMismatch, a seat for VectorMismatch.
    function refuse(IJobRegistry.Skip skip, uint256 jobId, address caller, uint256 detail) external view {
        IJobRegistry.Job memory job = _jobOrNone(jobId);
        if (skip == IJobRegistry.Skip.WrongStatus) revert IJobRegistry.JobRegistryWrongStatus(jobId, job.status);
        if (skip == IJobRegistry.Skip.DeadlinePassed) revert IJobRegistry.JobRegistryDeadlinePassed(jobId, job.deadline);
        if (skip == IJobRegistry.Skip.DeadlineNotReached) {
            revert IJobRegistry.JobRegistryDeadlineNotReached(jobId, job.deadline);
        }
        if (skip == IJobRegistry.Skip.RevealPending) revert IJobRegistry.JobRegistryRevealPending(jobId, job.deadline);
        if (skip == IJobRegistry.Skip.NotAssigned) revert IJobRegistry.JobRegistryNotAssigned(jobId, caller);
        if (skip == IJobRegistry.Skip.WrongSeatState) {
            revert IJobRegistry.JobRegistryWrongSeatState(jobId, caller, registry.getSeats(jobId)[detail].state);
        }
        if (skip == IJobRegistry.Skip.ZeroCommitment) revert IJobRegistry.JobRegistryZeroCommitment();
        if (skip == IJobRegistry.Skip.InvalidVectorLength) {
            revert IJobRegistry.JobRegistryInvalidVectorLength(detail, job.dimension);
        }
        if (skip == IJobRegistry.Skip.CommitmentMismatch) {
            revert IJobRegistry.JobRegistryCommitmentMismatch(jobId, caller);
        }
        if (skip == IJobRegistry.Skip.VectorCountMismatch) {
            revert IJobRegistry.JobRegistryVectorCountMismatch(detail, job.seatCount);
        }
        revert IJobRegistry.JobRegistryVectorMismatch(jobId, detail);
    }

    /// @dev The job's record, or all zero (status None) for an id the registry never gave,
    ///      whose getJob would revert with another error than the refusal's.
    function _jobOrNone(uint256 jobId) private view returns (IJobRegistry.Job memory job) {
        if (jobId != 0 && jobId <= registry.jobCount()) job = registry.getJob(jobId);
    }
}
