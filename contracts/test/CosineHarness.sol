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
        _checkLengths(a, b);
        Cosine.Prepared memory pa = Cosine.prepare(a);
        Cosine.Prepared memory pb = Cosine.prepare(b);
        return (Cosine.dot(a, pa, pb), pa.normSq, pb.normSq);
    }

    /// @notice Whether cos(a, b) >= thresholdPpm / 1e6 under the on-chain rule.
    /// @param a Packed int8 vector.
    /// @param b Packed int8 vector.
    /// @param thresholdPpm Threshold, 1.0 == 1e6.
    function agrees(bytes calldata a, bytes calldata b, uint256 thresholdPpm) external pure returns (bool) {
        _checkLengths(a, b);
        Cosine.Prepared memory pa = Cosine.prepare(a);
        Cosine.Prepared memory pb = Cosine.prepare(b);
        return Cosine.agrees(Cosine.dot(a, pa, pb), pa.normSq, pb.normSq, thresholdPpm);
    }

    /// @notice Gas of preparing one vector, and of the dot product plus decision for one pair of
    ///         prepared vectors (what finalize pays per vector and per pair).
    /// @param a Packed int8 vector.
    /// @param b Packed int8 vector.
    function gasUsed(bytes calldata a, bytes calldata b) external view returns (uint256 perVector, uint256 perPair) {
        _checkLengths(a, b);
        uint256 start = gasleft();
        Cosine.Prepared memory pa = Cosine.prepare(a);
        perVector = start - gasleft();
        Cosine.Prepared memory pb = Cosine.prepare(b);
        start = gasleft();
        Cosine.agrees(Cosine.dot(a, pa, pb), pa.normSq, pb.normSq, 999_200);
        perPair = start - gasleft();
    }

    /// @notice Cosine.gram3 of three vectors: |a|^2, |b|^2, |c|^2, a.b, a.c, b.c.
    /// @param a Packed int8 vector.
    /// @param b Packed int8 vector.
    /// @param c Packed int8 vector.
    function gram3(bytes calldata a, bytes calldata b, bytes calldata c)
        external
        pure
        returns (uint256 aa, uint256 bb, uint256 cc, int256 ab, int256 ac, int256 bc)
    {
        _checkLengths(a, b);
        _checkLengths(a, c);
        Cosine.Gram3 memory g = Cosine.gram3(a, b, c);
        return (g.aa, g.bb, g.cc, g.ab, g.ac, g.bc);
    }

    /// @notice Gas of Cosine.gram3 on three vectors (what finalize pays for a committee of three).
    /// @param a Packed int8 vector.
    /// @param b Packed int8 vector.
    /// @param c Packed int8 vector.
    function gram3GasUsed(bytes calldata a, bytes calldata b, bytes calldata c) external view returns (uint256 used) {
        _checkLengths(a, b);
        _checkLengths(a, c);
        uint256 start = gasleft();
        Cosine.gram3(a, b, c);
        used = start - gasleft();
    }

    function _checkLengths(bytes calldata a, bytes calldata b) private pure {
        if (a.length != b.length || a.length % 32 != 0) revert CosineHarnessBadLengths(a.length, b.length);
    }
}
