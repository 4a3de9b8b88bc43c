// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title PolicyBounds
/// @notice The bounds of JobRegistry's settlement policy, shared by JobRegistry (its public
///         constants) and AgreementJudge (which checks a new policy against them, outside
///         JobRegistry's runtime).
library PolicyBounds {
    /// @dev Basis-point denominator.
    uint16 internal constant BPS = 10_000;
    /// @dev Largest share of a node's stake one fault can cost.
    uint16 internal constant MAX_SLASH_BPS = 5_000;
    /// @dev Upper bound of the callback gas limit.
    uint32 internal constant MAX_CALLBACK_GAS = 2_000_000;
    /// @dev Largest reputation change one job can cause (1.0 in NodeRegistry's units).
    uint32 internal constant MAX_REPUTATION_STEP = 10_000;
}
