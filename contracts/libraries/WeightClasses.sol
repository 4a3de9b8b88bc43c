// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title WeightClasses
/// @notice Weighted random selection whose cost does not depend on how many members a pool
///         holds: members are grouped in power-of-two weight classes, a draw picks a class by
///         its count times a bound on its weights, then a member uniformly inside it, and keeps
///         it with probability weight / bound (composition and rejection). Every try reads one
///         member slot, and the classes are read once a draw, whatever the pool's size.
/// @dev Class c holds weights in [2^c, 2^(c+1)). Its bound is the largest weight ever listed in
///      it (never lowered, so it always covers every member), capped at the draw by the caller's
///      `cap`, so a member keeps a try with probability min(weight, cap) / min(bound, cap) >= 1/2.
///      A try is exact: the number r in [0, sum of count * bound) names a class, a member
///      (r / bound inside the class) and a coin (r % bound), and exactly min(weight, cap) of the
///      bound's values of r keep each member, so a kept member is drawn in proportion to
///      min(weight, cap).
///      A class is a dense array: removing a member moves the class's last member into its
///      place (swap-remove), so insert and remove write a constant number of slots. Removed
///      slots are not cleared and an entry never returns to zero, so a member coming back
///      overwrites used slots (5,000 gas cold) instead of writing fresh ones (22,100).
///      A draw takes members out (the already drawn, the excluded) without writing storage: the
///      same swap-remove applied to an overlay in memory (`Draw`).
library WeightClasses {
    /// @notice Weights are below 2^WEIGHT_BITS, so there are WEIGHT_BITS classes.
    uint256 internal constant WEIGHT_BITS = 96;
    /// @notice The most members one pool can hold.
    uint256 internal constant MAX_MEMBERS = (1 << 16) - 1;

    uint256 private constant MASK16 = 0xffff;
    uint256 private constant CLASS_MASK = (1 << WEIGHT_BITS) - 1;
    uint256 private constant COUNT_SHIFT = 96;
    uint256 private constant TOTAL_SHIFT = 112;
    uint256 private constant LISTED = 1 << 24;
    uint256 private constant SEEN = 1 << 25; // keeps a removed member's entry non-zero
    uint256 private constant DEAD = type(uint256).max; // an overlay key no position has

    /// @dev header: bits 0..95 the classes holding members, 96..111 the member count, 112..255
    ///      the sum of the members' weights (below 2^16 * 2^96). classes[c]: bits 0..15 the
    ///      class's member count, 16..111 its bound. members[c << 16 | i]: the class's i-th
    ///      member. entries[m]: bits 0..15 m's position, 16..23 its class, LISTED, SEEN.
    struct Pool {
        uint256 header;
        mapping(uint256 cls => uint256) classes;
        mapping(uint256 key => address) members;
        mapping(address member => uint256) entries;
    }

    /// @dev One draw's view of a pool: the classes holding members, with their counts and
    ///      bounds as the draw has taken members out, and the overlay of positions the
    ///      draw's swap-removes rewrote.
    struct Draw {
        uint256[] cls;
        uint256[] count;
        uint256[] bound;
        uint256 total; // sum of count * bound: r is drawn below it
        uint256 left; // members not taken out
        uint256[] movedKey; // class << 16 | position, or DEAD
        address[] movedMember; // who sits there now
        uint256 moves;
        address[] out; // members taken out, in order
        uint256 outs;
    }

    /// @notice The weight is zero or does not fit WEIGHT_BITS.
    error WeightClassesInvalidWeight(uint256 weight);
    /// @notice The member is listed already.
    error WeightClassesListed(address member);
    /// @notice The member is not listed, or with another weight's class.
    error WeightClassesNotListed(address member);
    /// @notice The pool holds MAX_MEMBERS members.
    error WeightClassesFull();

    // ------------------------------------------------------------------ updates
    /// @notice List `member` with `weight` (1 .. 2^96 - 1).
    function insert(Pool storage pool, address member, uint256 weight) internal {
        uint256 cls = classOf(weight);
        if (pool.entries[member] & LISTED != 0) revert WeightClassesListed(member);
        uint256 header = pool.header;
        if ((header >> COUNT_SHIFT) & MASK16 == MAX_MEMBERS) revert WeightClassesFull();
        uint256 word = pool.classes[cls];
        uint256 pos = word & MASK16;
        uint256 bound = word >> 16;
        pool.classes[cls] = ((weight > bound ? weight : bound) << 16) | (pos + 1);
        pool.members[(cls << 16) | pos] = member;
        pool.entries[member] = pos | (cls << 16) | LISTED | SEEN;
        pool.header = (header | (1 << cls)) + (1 << COUNT_SHIFT) + (weight << TOTAL_SHIFT);
    }

    /// @notice Unlist `member`, listed with `weight`.
    function remove(Pool storage pool, address member, uint256 weight) internal {
        uint256 entry = pool.entries[member];
        uint256 cls = classOf(weight);
        if (entry & LISTED == 0 || (entry >> 16) & 0xff != cls) revert WeightClassesNotListed(member);
        uint256 pos = entry & MASK16;
        uint256 word = pool.classes[cls];
        uint256 last = (word & MASK16) - 1;
        if (pos != last) {
            address moved = pool.members[(cls << 16) | last];
            pool.members[(cls << 16) | pos] = moved;
            pool.entries[moved] = pos | (cls << 16) | LISTED | SEEN;
        }
        pool.classes[cls] = word - 1;
        pool.entries[member] = SEEN;
        uint256 header = pool.header - (1 << COUNT_SHIFT) - (weight << TOTAL_SHIFT);
        pool.header = last == 0 ? header & ~(1 << cls) : header;
    }

    /// @notice Change a listed member's weight from `previous` to `current` (both non-zero).
    function reweigh(Pool storage pool, address member, uint256 previous, uint256 current) internal {
        if (classOf(previous) != classOf(current)) {
            remove(pool, member, previous);
            insert(pool, member, current);
            return;
        }
        uint256 entry = pool.entries[member];
        uint256 cls = (entry >> 16) & 0xff;
        if (entry & LISTED == 0 || cls != classOf(previous)) revert WeightClassesNotListed(member);
        uint256 word = pool.classes[cls];
        if (current > word >> 16) pool.classes[cls] = (current << 16) | (word & MASK16);
        pool.header = pool.header - (previous << TOTAL_SHIFT) + (current << TOTAL_SHIFT);
    }

    // -------------------------------------------------------------------- views
    /// @notice Whether `member` is listed.
    function isListed(Pool storage pool, address member) internal view returns (bool) {
        return pool.entries[member] & LISTED != 0;
    }

    /// @notice Number of members listed.
    function size(Pool storage pool) internal view returns (uint256) {
        return (pool.header >> COUNT_SHIFT) & MASK16;
    }

    /// @notice Sum of the listed members' weights.
    function totalWeight(Pool storage pool) internal view returns (uint256) {
        return pool.header >> TOTAL_SHIFT;
    }

    /// @notice The class of a weight: the position of its highest set bit.
    function classOf(uint256 weight) internal pure returns (uint256) {
        if (weight == 0 || weight > CLASS_MASK) revert WeightClassesInvalidWeight(weight);
        return Math.log2(weight);
    }

    // -------------------------------------------------------------------- draws
    /// @notice Start a draw over the pool, with weights counted up to `cap` (non-zero), room
    ///         to take out `maxOut` members.
    function open(Pool storage pool, uint256 cap, uint256 maxOut) internal view returns (Draw memory d) {
        uint256 header = pool.header;
        uint256 classes = header & CLASS_MASK;
        uint256 n = 0;
        for (uint256 bits = classes; bits != 0; bits &= bits - 1) ++n;
        d.cls = new uint256[](n);
        d.count = new uint256[](n);
        d.bound = new uint256[](n);
        d.left = (header >> COUNT_SHIFT) & MASK16;
        d.movedKey = new uint256[](maxOut);
        d.movedMember = new address[](maxOut);
        d.out = new address[](maxOut);
        uint256 s = 0;
        for (uint256 bits = classes; bits != 0; bits &= bits - 1) {
            uint256 cls = Math.log2(bits & (~bits + 1));
            uint256 word = pool.classes[cls];
            uint256 bound = word >> 16;
            if (bound > cap) bound = cap;
            d.cls[s] = cls;
            d.count[s] = word & MASK16;
            d.bound[s] = bound;
            d.total += (word & MASK16) * bound;
            ++s;
        }
    }

    /// @notice The member the number `r` (below `d.total`) names, its class's place `at` in
    ///         the draw and its position. The try keeps it when `coin < weight`: the coin is
    ///         below the class's capped bound, so that holds for min(weight, cap) of its values.
    function propose(Pool storage pool, Draw memory d, uint256 r)
        internal
        view
        returns (address member, uint256 at, uint256 pos, uint256 coin)
    {
        uint256 span = d.count[0] * d.bound[0];
        while (r >= span) {
            r -= span;
            ++at;
            span = d.count[at] * d.bound[at];
        }
        uint256 bound = d.bound[at];
        pos = r / bound;
        coin = r % bound;
        member = _memberAt(pool, d, d.cls[at], pos);
    }

    /// @notice Take the member at position `pos` of the draw's class `at` out of the draw.
    function takeOut(Pool storage pool, Draw memory d, uint256 at, uint256 pos) internal view {
        uint256 cls = d.cls[at];
        uint256 last = d.count[at] - 1;
        d.out[d.outs++] = _memberAt(pool, d, cls, pos);
        if (pos != last) _setMoved(d, (cls << 16) | pos, _memberAt(pool, d, cls, last));
        _killMoved(d, (cls << 16) | last);
        d.count[at] = last;
        d.total -= d.bound[at];
        --d.left;
    }

    /// @notice Take `member` out of the draw; false when it is not listed or out already.
    function exclude(Pool storage pool, Draw memory d, address member) internal view returns (bool) {
        uint256 entry = pool.entries[member];
        if (entry & LISTED == 0) return false;
        for (uint256 k = 0; k < d.outs; ++k) {
            if (d.out[k] == member) return false;
        }
        uint256 cls = (entry >> 16) & 0xff;
        uint256 pos = entry & MASK16;
        // A member the draw moved sits where the overlay says.
        for (uint256 k = 0; k < d.moves; ++k) {
            if (d.movedMember[k] == member && d.movedKey[k] != DEAD) pos = d.movedKey[k] & MASK16;
        }
        uint256 at = 0;
        while (d.cls[at] != cls) ++at;
        takeOut(pool, d, at, pos);
        return true;
    }

    function _memberAt(Pool storage pool, Draw memory d, uint256 cls, uint256 pos) private view returns (address) {
        uint256 key = (cls << 16) | pos;
        for (uint256 k = 0; k < d.moves; ++k) {
            if (d.movedKey[k] == key) return d.movedMember[k];
        }
        return pool.members[key];
    }

    function _setMoved(Draw memory d, uint256 key, address member) private pure {
        for (uint256 k = 0; k < d.moves; ++k) {
            if (d.movedKey[k] == key) {
                d.movedMember[k] = member;
                return;
            }
        }
        d.movedKey[d.moves] = key;
        d.movedMember[d.moves++] = member;
    }

    function _killMoved(Draw memory d, uint256 key) private pure {
        for (uint256 k = 0; k < d.moves; ++k) {
            if (d.movedKey[k] == key) d.movedKey[k] = DEAD;
        }
    }
}
