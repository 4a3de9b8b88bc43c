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
///      `gram3` does the same arithmetic for a committee of three in one pass: 22,500 gas for
///      three 384-dim vectors against 34,600 for three prepares and three dots.
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
    /// @dev The low half of every 32-bit lane.
    uint256 private constant WORDS32 = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;

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

    /// @notice The six inner products of three vectors: their squared norms and pairwise dots.
    struct Gram3 {
        uint256 aa;
        uint256 bb;
        uint256 cc;
        int256 ab;
        int256 ac;
        int256 bc;
    }

    /// @notice |a|^2, |b|^2, |c|^2, a.b, a.c and b.c of three vectors in one pass over their
    ///         words: what `prepare` three times and `dot` three times give, for about two
    ///         thirds of the gas (a committee of three is the common case of a finalize).
    /// @dev Caller guarantees equal lengths, each a multiple of 32 and at most 4,096. Nothing is
    ///      written to memory but twelve scratch words past the free memory pointer. A word of
    ///      each vector is read and lane-reversed once; its products are then taken in three
    ///      groups (a with a, b, c; b with b, c; c with c) so that no more values are live at
    ///      once than the stack can reach. The offset sums `sum u` are kept in 16-bit lanes: a
    ///      lane gains two bytes a word, at most 128 words, so 128 * 510 < 2^16.
    function gram3(bytes calldata a, bytes calldata b, bytes calldata c) internal pure returns (Gram3 memory g) {
        assembly ("memory-safe") {
            // Scratch past the free memory pointer, as words: 0 b's and 1 c's calldata offset
            // from a's, 2 the end of a, 3-5 the byte sums of a, b and c, 6-11 the accumulators
            // aa, bb, cc, ab, ac, bc. A word's products gather on the stack and join their
            // accumulator once a word: with the masks in stack slots (the optimizer would
            // otherwise copy each constant out of the code at every use), nothing else fits.
            let m := mload(0x40)
            mstore(m, sub(b.offset, a.offset))
            mstore(add(m, 0x20), sub(c.offset, a.offset))
            mstore(add(m, 0x40), add(a.offset, a.length))
            calldatacopy(add(m, 0x60), calldatasize(), 0x120) // zeroes: calldata past its end
            let p := a.offset
            let mask := LANES
            let m64 := M64
            let m32 := M32
            let offset := OFFSET
            for {} lt(p, mload(add(m, 0x40))) { p := add(p, 32) } {
                let rb := xor(calldataload(add(p, mload(m))), offset)
                rb := or(shr(128, rb), shl(128, rb))
                rb := or(and(shr(64, rb), m64), shl(64, and(rb, m64)))
                rb := or(and(shr(32, rb), m32), shl(32, and(rb, m32)))
                let rc := xor(calldataload(add(p, mload(add(m, 0x20)))), offset)
                rc := or(shr(128, rc), shl(128, rc))
                rc := or(and(shr(64, rc), m64), shl(64, and(rc, m64)))
                rc := or(and(shr(32, rc), m32), shl(32, and(rc, m32)))
                {
                    let u := xor(calldataload(p), offset)
                    let ra := or(shr(128, u), shl(128, u))
                    ra := or(and(shr(64, ra), m64), shl(64, and(ra, m64)))
                    ra := or(and(shr(32, ra), m32), shl(32, and(ra, m32)))
                    let f := and(u, mask)
                    let aa := mul(f, and(ra, mask))
                    let ab := mul(f, and(rb, mask))
                    let ac := mul(f, and(rc, mask))
                    f := and(shr(8, u), mask)
                    aa := add(aa, mul(f, and(shr(8, ra), mask)))
                    ab := add(ab, mul(f, and(shr(8, rb), mask)))
                    ac := add(ac, mul(f, and(shr(8, rc), mask)))
                    f := and(shr(16, u), mask)
                    aa := add(aa, mul(f, and(shr(16, ra), mask)))
                    ab := add(ab, mul(f, and(shr(16, rb), mask)))
                    ac := add(ac, mul(f, and(shr(16, rc), mask)))
                    f := and(shr(24, u), mask)
                    aa := add(aa, mul(f, and(shr(24, ra), mask)))
                    ab := add(ab, mul(f, and(shr(24, rb), mask)))
                    ac := add(ac, mul(f, and(shr(24, rc), mask)))
                    mstore(add(m, 0xc0), add(mload(add(m, 0xc0)), aa))
                    mstore(add(m, 0x120), add(mload(add(m, 0x120)), ab))
                    mstore(add(m, 0x140), add(mload(add(m, 0x140)), ac))
                    f := or(mask, shl(16, mask)) // the low byte of every 16-bit lane
                    mstore(add(m, 0x60), add(mload(add(m, 0x60)), add(and(u, f), and(shr(8, u), f))))
                }
                {
                    let u := xor(calldataload(add(p, mload(m))), offset)
                    let f := and(u, mask)
                    let bb := mul(f, and(rb, mask))
                    let bc := mul(f, and(rc, mask))
                    f := and(shr(8, u), mask)
                    bb := add(bb, mul(f, and(shr(8, rb), mask)))
                    bc := add(bc, mul(f, and(shr(8, rc), mask)))
                    f := and(shr(16, u), mask)
                    bb := add(bb, mul(f, and(shr(16, rb), mask)))
                    bc := add(bc, mul(f, and(shr(16, rc), mask)))
                    f := and(shr(24, u), mask)
                    bb := add(bb, mul(f, and(shr(24, rb), mask)))
                    bc := add(bc, mul(f, and(shr(24, rc), mask)))
                    mstore(add(m, 0xe0), add(mload(add(m, 0xe0)), bb))
                    mstore(add(m, 0x160), add(mload(add(m, 0x160)), bc))
                    f := or(mask, shl(16, mask)) // the low byte of every 16-bit lane
                    mstore(add(m, 0x80), add(mload(add(m, 0x80)), add(and(u, f), and(shr(8, u), f))))
                }
                {
                    let u := xor(calldataload(add(p, mload(add(m, 0x20)))), offset)
                    let cc := mul(and(u, mask), and(rc, mask))
                    cc := add(cc, mul(and(shr(8, u), mask), and(shr(8, rc), mask)))
                    cc := add(cc, mul(and(shr(16, u), mask), and(shr(16, rc), mask)))
                    cc := add(cc, mul(and(shr(24, u), mask), and(shr(24, rc), mask)))
                    mstore(add(m, 0x100), add(mload(add(m, 0x100)), cc))
                    let f := or(mask, shl(16, mask)) // the low byte of every 16-bit lane
                    mstore(add(m, 0xa0), add(mload(add(m, 0xa0)), add(and(u, f), and(shr(8, u), f))))
                }
            }
            // The byte sums' 16-bit lanes (each below 2^16) added up: pairwise into 32-bit
            // lanes, then all eight into the top lane by one MUL.
            let w32 := WORDS32
            let sa := mload(add(m, 0x60))
            sa := shr(224, mul(add(and(sa, w32), and(shr(16, sa), w32)), ONES))
            let sb := mload(add(m, 0x80))
            sb := shr(224, mul(add(and(sb, w32), and(shr(16, sb), w32)), ONES))
            let sc := mload(add(m, 0xa0))
            sc := shr(224, mul(add(and(sc, w32), and(shr(16, sc), w32)), ONES))
            // Every term below is under 2^31 (see the bounds above), so none can overflow; a
            // dot may come out negative, as two's complement, which is what int256 reads.
            let n := shl(14, a.length)
            mstore(g, sub(add(shr(224, mload(add(m, 0xc0))), n), shl(8, sa)))
            mstore(add(g, 0x20), sub(add(shr(224, mload(add(m, 0xe0))), n), shl(8, sb)))
            mstore(add(g, 0x40), sub(add(shr(224, mload(add(m, 0x100))), n), shl(8, sc)))
            mstore(add(g, 0x60), sub(add(shr(224, mload(add(m, 0x120))), n), shl(7, add(sa, sb))))
            mstore(add(g, 0x80), sub(add(shr(224, mload(add(m, 0x140))), n), shl(7, add(sa, sc))))
            mstore(add(g, 0xa0), sub(add(shr(224, mload(add(m, 0x160))), n), shl(7, add(sb, sc))))
        }
    }

    /// @notice Whether two vectors, given their dot product and squared norms, agree within
    ///         `thresholdPpm`. A zero vector agrees with nothing, itself included.
    function agrees(int256 d, uint256 na, uint256 nb, uint256 thresholdPpm) internal pure returns (bool) {
        if (d <= 0 || na == 0 || nb == 0) return false;
        uint256 ud = uint256(d);
        return ud * ud * PPM * PPM >= thresholdPpm * thresholdPpm * na * nb;
    }
}
