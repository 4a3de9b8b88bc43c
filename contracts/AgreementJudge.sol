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
///         passes what each error reports. Only whySeatless reads anything: the seats of the
///         registry that created it, through its getSeats view.
contract AgreementJudge {
    /// @notice The JobRegistry that created this judge.
    IJobRegistry public immutable registry;

    /// @dev What a refused call's error reports (see IJobRegistry.Skip and its errors).
    struct Refusal {
        IJobRegistry.Skip skip;
        uint256 jobId;
        address caller;
        uint256 detail;
        IJobRegistry.JobStatus status;
        uint40 deadline;
        IJobRegistry.SeatState seatState;
        uint16 dimension;
        uint8 seatCount;
    }

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

    /// @notice Revert with the IJobRegistry error that names `r.skip` (never returns).
    /// @param r The refusal and what its error reports.
    function refuse(Refusal calldata r) external pure {
        IJobRegistry.Skip skip = r.skip;
        uint256 jobId = r.jobId;
        if (skip == IJobRegistry.Skip.WrongStatus) revert IJobRegistry.JobRegistryWrongStatus(jobId, r.status);
        if (skip == IJobRegistry.Skip.DeadlinePassed) revert IJobRegistry.JobRegistryDeadlinePassed(jobId, r.deadline);
        if (skip == IJobRegistry.Skip.DeadlineNotReached) {
            revert IJobRegistry.JobRegistryDeadlineNotReached(jobId, r.deadline);
        }
        if (skip == IJobRegistry.Skip.RevealPending) revert IJobRegistry.JobRegistryRevealPending(jobId, r.deadline);
        if (skip == IJobRegistry.Skip.NotAssigned) revert IJobRegistry.JobRegistryNotAssigned(jobId, r.caller);
        if (skip == IJobRegistry.Skip.WrongSeatState) {
            revert IJobRegistry.JobRegistryWrongSeatState(jobId, r.caller, r.seatState);
        }
        if (skip == IJobRegistry.Skip.ZeroCommitment) revert IJobRegistry.JobRegistryZeroCommitment();
        if (skip == IJobRegistry.Skip.InvalidVectorLength) {
            revert IJobRegistry.JobRegistryInvalidVectorLength(r.detail, r.dimension);
        }
        if (skip == IJobRegistry.Skip.CommitmentMismatch) {
            revert IJobRegistry.JobRegistryCommitmentMismatch(jobId, r.caller);
        }
        if (skip == IJobRegistry.Skip.VectorCountMismatch) {
            revert IJobRegistry.JobRegistryVectorCountMismatch(r.detail, r.seatCount);
        }
        revert IJobRegistry.JobRegistryVectorMismatch(jobId, r.detail);
    }
}
