// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SumTree} from "../libraries/SumTree.sol";

/// @title SumTreeHarness
/// @notice Test-only: exposes the SumTree library so tests can compare it with a reference.
contract SumTreeHarness {
    using SumTree for SumTree.Tree;

    SumTree.Tree private _tree;

    /// @notice Thrown when the batch arrays differ in length.
    error SumTreeHarnessBadBatch();

    /// @notice Apply a batch of updates in order: amounts[k] added to (or, when subtract[k],
    ///         taken from) leaf indices[k].
    /// @param indices Leaves, 1..SumTree.SIZE.
    /// @param amounts Amounts.
    /// @param subtract Whether each update subtracts.
    function update(uint256[] calldata indices, uint256[] calldata amounts, bool[] calldata subtract) external {
        if (indices.length != amounts.length || indices.length != subtract.length) revert SumTreeHarnessBadBatch();
        for (uint256 k = 0; k < indices.length; ++k) {
            if (subtract[k]) _tree.sub(indices[k], amounts[k]);
            else _tree.add(indices[k], amounts[k]);
        }
    }

    /// @notice The tree's total and the power of two it spans.
    function shape() external view returns (uint256 total, uint256 size) {
        return (_tree.total, _tree.size);
    }

    /// @notice The leaf holding `target`, skipping `excluded` leaves whose weights are given.
    /// @param target Below the total minus the excluded weights.
    /// @param excluded Leaves to skip.
    /// @param weights Their current weights.
    function find(uint256 target, uint256[] memory excluded, uint256[] memory weights) external view returns (uint256) {
        uint256 total = _tree.total;
        for (uint256 k = 0; k < weights.length; ++k) {
            total -= weights[k];
        }
        return _tree.find(target, total, excluded, weights);
    }
}
