// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Cosine
/// @notice Integer cosine agreement on packed int8 vectors, with no floating point and no sqrt.
/// @dev A vector is `bytes` whose every byte is one int8 component (two's complement). Lengths
///      must be a multiple of 32 so that whole calldata words can be read without touching the
///      bytes that follow the vector; the model registry enforces this for every model.
///      `cos(a, b) >= t` is decided as `dot > 0 && dot^2 * PPM^2 >= T^2 * |a|^2 * |b|^2`, where
///      `T = t * PPM`. Bounds: a component is at most 128 in magnitude and a vector at most
///      4,096 components, so `|dot| <= 2^26`, `dot^2 * PPM^2 < 2^93` and
///      `T^2 * |a|^2 * |b|^2 < 2^40 * 2^52 = 2^92`: nothing can overflow 256 bits.
library Cosine {
    /// @notice Fixed-point scale of thresholds: 1.0 == 1_000_000.
    uint256 internal constant PPM = 1_000_000;

    /// @notice Sum of a[i] * b[i] over int8 components of two equally long vectors.
    /// @dev Caller guarantees `a.length == b.length` and `a.length % 32 == 0`.
    function dot(bytes calldata a, bytes calldata b) internal pure returns (int256 sum) {
        assembly ("memory-safe") {
            let end := add(a.offset, a.length)
            let pb := b.offset
            // One 32-byte word of each vector per iteration; byte(i, w) takes byte i counted from
            // the most significant end and signextend(0, x) reads it as int8. The products are
            // exact in 256-bit two's complement, so add() accumulates a correct signed sum.
            for { let pa := a.offset } lt(pa, end) {
                pa := add(pa, 32)
                pb := add(pb, 32)
            } {
                let wa := calldataload(pa)
                let wb := calldataload(pb)
                for { let i := 0 } lt(i, 32) { i := add(i, 4) } {
                    sum := add(sum, mul(signextend(0, byte(i, wa)), signextend(0, byte(i, wb))))
                    let j := add(i, 1)
                    sum := add(sum, mul(signextend(0, byte(j, wa)), signextend(0, byte(j, wb))))
                    j := add(i, 2)
                    sum := add(sum, mul(signextend(0, byte(j, wa)), signextend(0, byte(j, wb))))
                    j := add(i, 3)
                    sum := add(sum, mul(signextend(0, byte(j, wa)), signextend(0, byte(j, wb))))
                }
            }
        }
    }

    /// @notice Squared Euclidean norm |a|^2 of an int8 vector (length a multiple of 32).
    function normSq(bytes calldata a) internal pure returns (uint256) {
        // |a|^2 = dot(a, a) >= 0, so the cast is exact.
        return uint256(dot(a, a));
    }

    /// @notice Whether two vectors, given their dot product and squared norms, agree within
    ///         `thresholdPpm`. A zero vector agrees with nothing, itself included.
    function agrees(int256 d, uint256 na, uint256 nb, uint256 thresholdPpm) internal pure returns (bool) {
        if (d <= 0 || na == 0 || nb == 0) return false;
        uint256 ud = uint256(d);
        return ud * ud * PPM * PPM >= thresholdPpm * thresholdPpm * na * nb;
    }
}
