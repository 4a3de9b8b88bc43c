// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRewardsEmitter
/// @notice What the JobRegistry needs from the emission contract: crediting performance points.
interface IRewardsEmitter {
    /// @notice Credit performance points for the current epoch.
    /// @param nodes The nodes to credit.
    /// @param points Points for each node, in the same order.
    function creditPoints(address[] calldata nodes, uint256[] calldata points) external;

    /// @notice Most INFER emitted per INFER of fees earned, in basis points. Self-dealing is
    ///         unprofitable only while emissionPerFeeBps * (BPS - protocolFeeBps) < protocolFeeBps * BPS.
    function emissionPerFeeBps() external view returns (uint256);
}
