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
///      A calldata word holds 32 components in eight 32-bit lanes of four bytes. Chunk c
///      (c = 0..3) of a word is its bytes 4k + c, one per lane k, after a shift and a mask.
///      `prepare` reverses the order of each word's lanes (not of the bytes inside a lane: three
///      swap steps), which puts byte 4k + c in lane 7 - k of chunk c, and keeps those reversed
///      chunks in memory. In the product `chunk_c(a) * reversedChunk_c(b)` mod 2^256 the top lane
///      (bits 224-255) is exactly `sum_k u_{4k+c} * v_{4k+c}`: the terms with a higher lane fall
///      off the top, and those below never carry into it. Summing such products over a whole
///      vector keeps that true, since no lane ever exceeds `4096 * 255^2 < 2^28`. So a dot
///      product reads a's chunks straight from calldata and costs one MUL and one ADD per 8
///      components, and each vector is prepared (reversed and normed) once however many pairs
///      it is part of.
///      Gas: the lane mask is read into a stack variable before each loop. Written as a constant
///      inside the loop, the optimizer (runs = 200) stores it once in the code and copies it out
///      with CODECOPY at every use, which made a prepare cost 12,400 gas instead of 7,500.
library Cosine {
    /// @notice Fixed-point scale of thresholds: 1.0 == 1_000_000.
    uint256 internal constant PPM = 1_000_000;

    /// @dev 0x80 in every byte: XOR turns int8 two's complement into u = a + 128.
    uint256 private constant OFFSET = 0x8080808080808080808080808080808080808080808080808080808080808080;
    /// @dev The low byte of every 32-bit lane.
    uint256 private constant LANES = 0x000000ff000000ff000000ff000000ff000000ff000000ff000000ff000000ff;
    /// @dev A one in every 32-bit lane: X * ONES has the sum of X's lanes in its top lane.
    uint256 private constant ONES = 0x0000000100000001000000010000000100000001000000010000000100000001;
    /// @dev Masks of the lane-reversal steps (swap 64- and 32-bit halves; 128 needs none).
    uint256 private constant M64 = 0x0000000000000000ffffffffffffffff0000000000000000ffffffffffffffff;
    uint256 private constant M32 = 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;

    /// @notice A vector prepared for dot products: its chunks with their lanes reversed, the sum
    ///         of its offset components and its squared norm.
    struct Prepared {
        uint256[] reversed;
        uint256 sumU;
        uint256 normSq;
    }

    /// @notice Reverse a vector's lanes into memory, and compute its squared norm on the way.
    /// @dev Caller guarantees `a.length % 32 == 0`.
    function prepare(bytes calldata a) internal pure returns (Prepared memory p) {
        uint256[] memory rev = new uint256[](a.length / 8);
        uint256 sumU;
        uint256 sumUU;
        assembly ("memory-safe") {
            // The reversed chunks of calldata word `pa` go to `base + 4 * pa` (wrapping
            // arithmetic, back in range), so the loop carries no second pointer and the masks
            // sit in stack slots: about 185 gas a 384-dim vector less than with both.
            let base := sub(add(rev, 0x20), shl(2, a.offset))
            let mask := LANES
            let m64 := M64
            let m32 := M32
            let lanes := 0
            for {
                let pa := a.offset
                let end := add(a.offset, a.length)
            } lt(pa, end) { pa := add(pa, 32) } {
                let u := xor(calldataload(pa), OFFSET)
                // The word's eight lanes in reverse order: swap its 128-, 64- and 32-bit halves.
                let v := or(shr(128, u), shl(128, u))
                v := or(and(shr(64, v), m64), shl(64, and(v, m64)))
                v := or(and(shr(32, v), m32), shl(32, and(v, m32)))
                let rp := add(base, shl(2, pa))
                let r := and(v, mask)
                let f := and(u, mask)
                mstore(rp, r)
                lanes := add(lanes, f)
                sumUU := add(sumUU, mul(f, r))
                r := and(shr(8, v), mask)
                f := and(shr(8, u), mask)
                mstore(add(rp, 0x20), r)
                lanes := add(lanes, f)
                sumUU := add(sumUU, mul(f, r))
                r := and(shr(16, v), mask)
                f := and(shr(16, u), mask)
                mstore(add(rp, 0x40), r)
                lanes := add(lanes, f)
                sumUU := add(sumUU, mul(f, r))
                r := and(shr(24, v), mask)
                f := and(shr(24, u), mask)
                mstore(add(rp, 0x60), r)
                lanes := add(lanes, f)
                sumUU := add(sumUU, mul(f, r))
            }
            // Every lane of `lanes` is a sum of at most 512 bytes (< 2^17): one MUL by a one in
            // every lane adds them all up in the top lane.
            sumU := shr(224, mul(lanes, ONES))
            sumUU := shr(224, sumUU)
        }
        p.reversed = rev;
        p.sumU = sumU;
        // sum(a^2) = sum(u^2) - 256 * sum(u) + 16384 * n >= 0, and every term is below 2^31.
        p.normSq = sumUU + 16384 * a.length - 256 * sumU;
    }

    /// @notice Sum of a[i] * b[i] over two vectors of equal length: `a` itself (its chunks are
    ///         read from calldata), `pa` and `pb` the two prepared.
    function dot(bytes calldata a, Prepared memory pa, Prepared memory pb) internal pure returns (int256) {
        uint256 acc;
        uint256[] memory rev = pb.reversed;
        assembly ("memory-safe") {
            let rp := add(rev, 0x20)
            let mask := LANES
            let end := add(a.offset, a.length)
            for { let p := a.offset } lt(p, end) { p := add(p, 32) } {
                let u := xor(calldataload(p), OFFSET)
                acc := add(acc, mul(and(u, mask), mload(rp)))
                acc := add(acc, mul(and(shr(8, u), mask), mload(add(rp, 0x20))))
                acc := add(acc, mul(and(shr(16, u), mask), mload(add(rp, 0x40))))
                acc := add(acc, mul(and(shr(24, u), mask), mload(add(rp, 0x60))))
                rp := add(rp, 0x80)
            }
            acc := shr(224, acc)
        }
        // Every term is below 2^31, so the signed arithmetic cannot overflow.
        return int256(acc) + int256(16384 * a.length) - int256(128 * (pa.sumU + pb.sumU));
    }

    /// @notice Whether two vectors, given their dot product and squared norms, agree within
    ///         `thresholdPpm`. A zero vector agrees with nothing, itself included.
    function agrees(int256 d, uint256 na, uint256 nb, uint256 thresholdPpm) internal pure returns (bool) {
        if (d <= 0 || na == 0 || nb == 0) return false;
        uint256 ud = uint256(d);
        return ud * ud * PPM * PPM >= thresholdPpm * thresholdPpm * na * nb;
    }
}
