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
///
///      Eight lanes per multiplication. Each component is offset to an unsigned byte
///      `u = a + 128` (an XOR with 0x80), so `a.b = sum(u*v) - 128 * (sum u + sum v) + 16384 * n`.
///      `prepare` places every 8 components of a vector in 32-bit lanes, once in order
///      (`F = sum u_k * 2^(32k)`) and once reversed (`R = sum u_k * 2^(32(7-k))`). In the product
///      `F_a * R_b` mod 2^256 the top lane (bits 224-255) is exactly `sum_k u_k * v_k`: the terms
///      with a higher lane fall off the top, and those below never carry into it. Summing such
///      products over a whole vector keeps that true, since a lane never exceeds
///      `4096 * 255^2 < 2^28`. So a dot product of two prepared vectors costs one MUL and one ADD
///      per 8 components, and each vector is prepared once however many pairs it is part of.
library Cosine {
    /// @notice Fixed-point scale of thresholds: 1.0 == 1_000_000.
    uint256 internal constant PPM = 1_000_000;

    /// @dev 0x80 in every byte: XOR turns int8 two's complement into u = a + 128.
    uint256 private constant OFFSET = 0x8080808080808080808080808080808080808080808080808080808080808080;
    /// @dev The low byte of every 32-bit lane.
    uint256 private constant LANES = 0x000000ff000000ff000000ff000000ff000000ff000000ff000000ff000000ff;
    /// @dev A one in every 32-bit lane: X * ONES has the sum of X's lanes in its top lane.
    uint256 private constant ONES = 0x0000000100000001000000010000000100000001000000010000000100000001;
    /// @dev Masks of the byte-reversal steps (swap 64-, 32-, 16- and 8-bit halves).
    uint256 private constant M64 = 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff;
    uint256 private constant M32 = 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;
    uint256 private constant M16 = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
    uint256 private constant M8 = 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;

    /// @notice A vector prepared for dot products: its lanes in order and reversed, the sum of
    ///         its offset components, its squared norm and its length.
    struct Prepared {
        uint256[] forward;
        uint256[] reversed;
        uint256 sumU;
        uint256 normSq;
        uint256 length;
    }

    /// @notice Spread a vector into lanes, and compute its squared norm on the way.
    /// @dev Caller guarantees `a.length % 32 == 0`.
    function prepare(bytes calldata a) internal pure returns (Prepared memory p) {
        uint256 chunks = a.length / 8;
        p.forward = new uint256[](chunks);
        p.reversed = new uint256[](chunks);
        p.length = a.length;
        uint256 sumU;
        uint256 sumUU;
        uint256 sumF;
        uint256[] memory fwd = p.forward;
        uint256[] memory rev = p.reversed;
        assembly ("memory-safe") {
            let fp := add(fwd, 0x20)
            let rp := add(rev, 0x20)
            let end := add(a.offset, a.length)
            // One calldata word (32 components) per iteration, in four chunks: chunk c takes the
            // bytes 4k + c (k = 0..7, from the low end), which already sit one per 32-bit lane
            // after a shift and a mask. The reversed chunk takes the same bytes from the
            // byte-reversed word, where byte 4k + c lands in lane 7 - k. Which component lands in
            // which chunk does not matter: a vector's forward and reversed forms agree.
            for { let pa := a.offset } lt(pa, end) { pa := add(pa, 32) } {
                let u := xor(calldataload(pa), OFFSET)
                let ur := or(shr(128, u), shl(128, u))
                ur := or(and(shr(64, ur), M64), shl(64, and(ur, M64)))
                ur := or(and(shr(32, ur), M32), shl(32, and(ur, M32)))
                ur := or(and(shr(16, ur), M16), shl(16, and(ur, M16)))
                ur := or(and(shr(8, ur), M8), shl(8, and(ur, M8)))
                let f := and(u, LANES)
                let r := and(shr(24, ur), LANES)
                mstore(fp, f)
                mstore(rp, r)
                sumF := add(sumF, f)
                sumUU := add(sumUU, mul(f, r))
                f := and(shr(8, u), LANES)
                r := and(shr(16, ur), LANES)
                mstore(add(fp, 0x20), f)
                mstore(add(rp, 0x20), r)
                sumF := add(sumF, f)
                sumUU := add(sumUU, mul(f, r))
                f := and(shr(16, u), LANES)
                r := and(shr(8, ur), LANES)
                mstore(add(fp, 0x40), f)
                mstore(add(rp, 0x40), r)
                sumF := add(sumF, f)
                sumUU := add(sumUU, mul(f, r))
                f := and(shr(24, u), LANES)
                r := and(ur, LANES)
                mstore(add(fp, 0x60), f)
                mstore(add(rp, 0x60), r)
                sumF := add(sumF, f)
                sumUU := add(sumUU, mul(f, r))
                fp := add(fp, 0x80)
                rp := add(rp, 0x80)
            }
            // Every lane of sumF is a sum of at most 512 bytes (< 2^17): one MUL by a one in
            // every lane adds them all up in the top lane.
            sumU := shr(224, mul(sumF, ONES))
            sumUU := shr(224, sumUU)
        }
        p.sumU = sumU;
        // sum(a^2) = sum(u^2) - 256 * sum(u) + 16384 * n >= 0, and every term is below 2^31.
        p.normSq = sumUU + 16384 * a.length - 256 * sumU;
    }

    /// @notice Sum of a[i] * b[i] over the components of two prepared vectors of equal length.
    function dot(Prepared memory a, Prepared memory b) internal pure returns (int256) {
        uint256 acc;
        uint256[] memory fwd = a.forward;
        uint256[] memory rev = b.reversed;
        assembly ("memory-safe") {
            let fp := add(fwd, 0x20)
            let rp := add(rev, 0x20)
            let end := add(fp, mul(mload(fwd), 0x20))
            // Four chunks (32 components) per iteration; the chunk count is a multiple of 4.
            for {} lt(fp, end) {
                fp := add(fp, 0x80)
                rp := add(rp, 0x80)
            } {
                acc := add(acc, mul(mload(fp), mload(rp)))
                acc := add(acc, mul(mload(add(fp, 0x20)), mload(add(rp, 0x20))))
                acc := add(acc, mul(mload(add(fp, 0x40)), mload(add(rp, 0x40))))
                acc := add(acc, mul(mload(add(fp, 0x60)), mload(add(rp, 0x60))))
            }
            acc := shr(224, acc)
        }
        // Every term is below 2^31, so the signed arithmetic cannot overflow.
        return int256(acc) + int256(16384 * a.length) - int256(128 * (a.sumU + b.sumU));
    }

    /// @notice Whether two vectors, given their dot product and squared norms, agree within
    ///         `thresholdPpm`. A zero vector agrees with nothing, itself included.
    function agrees(int256 d, uint256 na, uint256 nb, uint256 thresholdPpm) internal pure returns (bool) {
        if (d <= 0 || na == 0 || nb == 0) return false;
        uint256 ud = uint256(d);
        return ud * ud * PPM * PPM >= thresholdPpm * thresholdPpm * na * nb;
    }
}
