// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IRewardsEmitter
/// @notice What the JobRegistry needs from the emission contract: crediting the fees nodes earned,
///         and the emission rate that bounds what those fees can earn.
interface IRewardsEmitter {
    /// @notice Credit points for the current epoch. Points are INFER fees earned: for each
    ///         agreeing node of an accepted job, the fee (wei of INFER) that node was paid for it.
    ///         Only the wired creditor may call this.
    /// @param nodes The nodes to credit.
    /// @param points Points for each node, in the same order.
    function creditPoints(address[] calldata nodes, uint256[] calldata points) external;

    /// @notice Most INFER an epoch emits per INFER of fees earned in it, in basis points (BPS =
    ///         10_000): an epoch emits at most `totalPoints * emissionPerFeeBps / BPS`, and at most
    ///         its schedule. A self-dealer paying fee F to its own nodes gets back at most
    ///         `F * (BPS - protocolFeeBps) / BPS` in fees plus `emissionPerFeeBps` of that in
    ///         emission, so self-dealing is unprofitable only while
    ///         `emissionPerFeeBps * (BPS - protocolFeeBps) < protocolFeeBps * BPS`.
    ///         The JobRegistry enforces that relation whenever its policy is set.
    /// @return The rate, in (0, BPS), fixed at deployment.
    function emissionPerFeeBps() external view returns (uint256);
}
