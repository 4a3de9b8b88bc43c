// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title InferaTimelock
/// @notice Holds every admin and parameter role of Infera's contracts after deployment:
///         OpenZeppelin's TimelockController, unchanged. A change is scheduled by a proposer,
///         announced on-chain (CallScheduled), and executable only after `getMinDelay()` seconds,
///         so node operators can see it coming and leave (unbonding) before it takes effect.
/// @dev The deploy script gives it DEFAULT_ADMIN_ROLE and PARAMS_ROLE on JobRegistry and
///      NodeRegistry, DEFAULT_ADMIN_ROLE and MODEL_ADMIN_ROLE on ModelRegistry, and
///      DEFAULT_ADMIN_ROLE on RewardsEmitter and InferToken, then the deployer renounces its own.
///      The timelock administers itself (no separate admin): its roles change only through
///      its own delayed proposals.
contract InferaTimelock is TimelockController {
    /// @param minDelay Seconds between scheduling and executing an operation.
    /// @param proposers Accounts that may schedule and cancel operations.
    /// @param executors Accounts that may execute ready operations (address(0) = anyone).
    /// @param admin Optional extra admin of the timelock's own roles; address(0) for none.
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
