// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title SumTree
/// @notice A Fenwick (binary indexed) tree of non-negative weights over a fixed index range, for
///         weighted random selection in O(log n) storage reads, independent of how many entries
///         are set.
/// @dev Indices run from 1 to SIZE. The tree only spans the smallest power of two that holds
///      the highest index written so far and doubles when a higher index arrives, so updates and
///      searches cost log2(highest index) storage accesses rather than log2(SIZE): with a few
///      dozen nodes that is a third of the writes. Doubling is one write: the new root covers
///      (0, 2s] and every leaf above s is still zero, so it equals the old root sums[s].
///      `find` can skip a small set of excluded leaves without writing storage: while descending,
///      the weight of every excluded leaf inside the subtree being considered is subtracted from
///      that subtree's sum.
library SumTree {
    /// @notice log2 of the number of leaves.
    uint256 internal constant LOG = 12;
    /// @notice Number of leaves: the most entries one tree can hold.
    uint256 internal constant SIZE = 1 << LOG;

    /// @dev total and size share a slot: weights are below 2^128 and there are at most SIZE
    ///      of them, so the total stays far below 2^240.
    struct Tree {
        mapping(uint256 index => uint256 sum) sums;
        uint240 total;
        uint16 size; // power of two spanned so far (0 while empty)
    }

    /// @notice Thrown when an index is outside 1..SIZE.
    error SumTreeIndexOutOfRange(uint256 index);
    /// @notice Thrown when the target is not below the (exclusion-adjusted) total weight.
    error SumTreeTargetOutOfRange(uint256 target, uint256 total);

    /// @notice Add `amount` to leaf `index`.
    function add(Tree storage tree, uint256 index, uint256 amount) internal {
        _checkIndex(index);
        uint256 size = _grow(tree, index);
        tree.total += SafeCast.toUint240(amount);
        for (uint256 i = index; i <= size; i += _lowBit(i)) {
            tree.sums[i] += amount;
        }
    }

    /// @notice Subtract `amount` from leaf `index`; reverts (underflow) if the leaf holds less.
    function sub(Tree storage tree, uint256 index, uint256 amount) internal {
        uint256 size = tree.size;
        if (index == 0 || index > size) revert SumTreeIndexOutOfRange(index);
        tree.total -= SafeCast.toUint240(amount);
        for (uint256 i = index; i <= size; i += _lowBit(i)) {
            tree.sums[i] -= amount;
        }
    }

    /// @notice The leaf whose cumulative range holds `target`, skipping excluded leaves.
    /// @param excludedIndex Leaves to skip (entries of 0 are ignored).
    /// @param excludedWeight The current weight of each excluded leaf in this tree; exactly as
    ///        long as `excludedIndex` (the scan reads them side by side, unchecked).
    /// @param total The tree's total minus the excluded weights; `target` must be below it.
    function find(
        Tree storage tree,
        uint256 target,
        uint256 total,
        uint256[] memory excludedIndex,
        uint256[] memory excludedWeight
    ) internal view returns (uint256) {
        if (target >= total) revert SumTreeTargetOutOfRange(target, total);
        uint256 pos = 0;
        uint256 remaining = target;
        for (uint256 step = tree.size; step > 0; step >>= 1) {
            uint256 next = pos + step;
            // During the descent `pos` is a multiple of 2*step, so sums[next] covers (pos, next].
            uint256 sum = tree.sums[next] - _excludedIn(pos, next, excludedIndex, excludedWeight);
            if (sum <= remaining) {
                pos = next;
                remaining -= sum;
            }
        }
        return pos + 1;
    }

    /// @dev Double the spanned range until it holds `index`; returns the new size.
    function _grow(Tree storage tree, uint256 index) private returns (uint256 size) {
        size = tree.size;
        if (size >= index) return size;
        if (size == 0) size = 1;
        while (size < index) {
            tree.sums[size << 1] = tree.sums[size];
            size <<= 1;
        }
        tree.size = uint16(size);
    }

    /// @dev Weight of the excluded leaves in (low, high]. `weight` is as long as `idx` (the
    ///      caller allocates both together); a weight is below 2^128 and there are a few dozen
    ///      at most, so the sum cannot overflow.
    function _excludedIn(uint256 low, uint256 high, uint256[] memory idx, uint256[] memory weight)
        private
        pure
        returns (uint256 sum)
    {
        assembly ("memory-safe") {
            let pi := add(idx, 0x20)
            let end := add(pi, shl(5, mload(idx)))
            let delta := sub(weight, idx)
            let span := sub(high, low)
            // low < i <= high  <=>  i - low - 1 < high - low, in wrapping arithmetic (i = 0 wraps
            // above every span: unused entries are never counted).
            for {} lt(pi, end) { pi := add(pi, 0x20) } {
                if lt(sub(sub(mload(pi), low), 1), span) { sum := add(sum, mload(add(pi, delta))) }
            }
        }
    }

    function _lowBit(uint256 i) private pure returns (uint256) {
        // i is in 1..SIZE, so the two's-complement negation cannot overflow in a meaningful way.
        unchecked {
            return i & (~i + 1);
        }
    }

    function _checkIndex(uint256 index) private pure {
        if (index == 0 || index > SIZE) revert SumTreeIndexOutOfRange(index);
    }
}
