// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IInferaConsumer
/// @notice Implemented by a contract that submits jobs with `callback = true` to receive results.
/// @dev The call carries a fixed gas limit set by governance; if it reverts or runs out of gas the
///      job is still accepted and the nodes are still paid (the failure is only recorded in an
///      event). Check `msg.sender` against the JobRegistry you submitted to.
interface IInferaConsumer {
    /// @notice Delivers an accepted result.
    /// @param jobId The job's id, as returned by `submit`.
    /// @param resultHash keccak256 of the accepted packed int8 vector.
    /// @param vector The accepted vector: one int8 component per byte.
    function onInferaResult(uint256 jobId, bytes32 resultHash, bytes calldata vector) external;
}
