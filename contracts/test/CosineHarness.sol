// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Cosine} from "../libraries/Cosine.sol";

/// @title CosineHarness
/// @notice Test-only: exposes the Cosine library so tests can compare it with a reference.
contract CosineHarness {
    /// @notice Thrown when the vectors cannot be compared (lengths differ or not a multiple of 32).
    error CosineHarnessBadLengths(uint256 a, uint256 b);

    /// @notice dot(a, b), |a|^2 and |b|^2.
    /// @param a Packed int8 vector.
    /// @param b Packed int8 vector.
    function stats(bytes calldata a, bytes calldata b) external pure returns (int256 d, uint256 na, uint256 nb) {
        if (a.length != b.length || a.length % 32 != 0) revert CosineHarnessBadLengths(a.length, b.length);
        return (Cosine.dot(a, b), Cosine.normSq(a), Cosine.normSq(b));
    }

    /// @notice Whether cos(a, b) >= thresholdPpm / 1e6 under the on-chain rule.
    /// @param a Packed int8 vector.
    /// @param b Packed int8 vector.
    /// @param thresholdPpm Threshold, 1.0 == 1e6.
    function agrees(bytes calldata a, bytes calldata b, uint256 thresholdPpm) external pure returns (bool) {
        if (a.length != b.length || a.length % 32 != 0) revert CosineHarnessBadLengths(a.length, b.length);
        return Cosine.agrees(Cosine.dot(a, b), Cosine.normSq(a), Cosine.normSq(b), thresholdPpm);
    }
}
