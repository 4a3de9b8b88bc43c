// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SumTree
/// @notice A Fenwick (binary indexed) tree of non-negative weights over a fixed index range, for
///         weighted random selection in O(log n) storage reads, independent of how many entries
///         are set.
/// @dev Indices run from 1 to SIZE. `find` can skip a small set of excluded leaves without
///      writing storage: while descending, the weight of every excluded leaf inside the subtree
///      being considered is subtracted from that subtree's sum.
library SumTree {
    /// @notice log2 of the number of leaves.
    uint256 internal constant LOG = 12;
    /// @notice Number of leaves: the most entries one tree can hold.
    uint256 internal constant SIZE = 1 << LOG;

    struct Tree {
        mapping(uint256 index => uint256 sum) sums;
        uint256 total;
    }

    /// @notice Thrown when an index is outside 1..SIZE.
    error SumTreeIndexOutOfRange(uint256 index);
    /// @notice Thrown when the target is not below the (exclusion-adjusted) total weight.
    error SumTreeTargetOutOfRange(uint256 target, uint256 total);

    /// @notice Add `amount` to leaf `index`.
    function add(Tree storage tree, uint256 index, uint256 amount) internal {
        _checkIndex(index);
        tree.total += amount;
        for (uint256 i = index; i <= SIZE; i += _lowBit(i)) {
            tree.sums[i] += amount;
        }
    }

    /// @notice Subtract `amount` from leaf `index`; reverts (underflow) if the leaf holds less.
    function sub(Tree storage tree, uint256 index, uint256 amount) internal {
        _checkIndex(index);
        tree.total -= amount;
        for (uint256 i = index; i <= SIZE; i += _lowBit(i)) {
            tree.sums[i] -= amount;
        }
    }

    /// @notice The leaf whose cumulative range holds `target`, skipping excluded leaves.
    /// @param excludedIndex Leaves to skip (entries of 0 are ignored).
    /// @param excludedWeight The current weight of each excluded leaf in this tree.
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
        for (uint256 step = SIZE; step > 0; step >>= 1) {
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

    function _excludedIn(uint256 low, uint256 high, uint256[] memory idx, uint256[] memory weight)
        private
        pure
        returns (uint256 sum)
    {
        for (uint256 k = 0; k < idx.length; ++k) {
            if (idx[k] > low && idx[k] <= high) sum += weight[k];
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
