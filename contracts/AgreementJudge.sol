// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobRegistry} from "./interfaces/IJobRegistry.sol";
import {Agreement} from "./libraries/Agreement.sol";

/// @title AgreementJudge
/// @notice Which revealed vectors of a job agree (libraries/Agreement.sol), and the error a
///         refused single-job call reverts with, as a stateless contract: JobRegistry creates it
///         in its constructor and calls it from finalize() and on refusals, so that this code
///         lives outside JobRegistry's runtime (the 24,576-byte limit). It reads no storage and
///         holds nothing; the registry checks every vector against the digest its seat revealed
///         before asking, and passes what each error reports.
contract AgreementJudge {
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
