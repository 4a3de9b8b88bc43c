// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {WeightClasses} from "../libraries/WeightClasses.sol";

/// @title WeightClassesHarness
/// @notice Test-only: exposes the WeightClasses library so tests can compare it with a reference.
contract WeightClassesHarness {
    using WeightClasses for WeightClasses.Pool;

    WeightClasses.Pool private _pool;

    /// @notice Thrown when the batch arrays differ in length.
    error WeightClassesHarnessBadBatch();

    /// @notice Apply updates in order: each member goes from weight previous[k] to current[k]
    ///         (0 = unlisted), by insert, remove or reweigh.
    /// @param members Members.
    /// @param previous Their listed weights before the update.
    /// @param current Their weights after it.
    function update(address[] calldata members, uint256[] calldata previous, uint256[] calldata current) external {
        if (members.length != previous.length || members.length != current.length) {
            revert WeightClassesHarnessBadBatch();
        }
        for (uint256 k = 0; k < members.length; ++k) {
            if (previous[k] == 0) _pool.insert(members[k], current[k]);
            else if (current[k] == 0) _pool.remove(members[k], previous[k]);
            else _pool.reweigh(members[k], previous[k], current[k]);
        }
    }

    /// @notice Members listed and the sum of their weights.
    function shape() external view returns (uint256 size, uint256 total) {
        return (_pool.size(), _pool.totalWeight());
    }

    /// @notice Whether `member` is listed.
    function isListed(address member) external view returns (bool) {
        return _pool.isListed(member);
    }

    /// @notice Open a draw with weights capped at `cap`, take out `exclude` and then the
    ///         proposals that `takes` name (each taken modulo what is left), and count, for
    ///         every value r below what is left, the member r proposes and whether its coin
    ///         keeps it (`weights[k]` is the weight of `members[k]`, which must list every
    ///         member the pool can propose).
    /// @return kept How many values of r keep members[k].
    /// @return proposed How many values of r propose members[k].
    /// @return left Members left in the draw.
    /// @return total The number of values of r.
    /// @return out The members taken out, in order.
    function tally(
        uint256 cap,
        address[] calldata exclude,
        uint256[] calldata takes,
        address[] calldata members,
        uint256[] calldata weights
    )
        external
        view
        returns (uint256[] memory kept, uint256[] memory proposed, uint256 left, uint256 total, address[] memory out)
    {
        WeightClasses.Draw memory d = _drawAfter(cap, exclude, takes);
        (kept, proposed) = _count(d, members, weights);
        out = new address[](d.outs);
        for (uint256 k = 0; k < d.outs; ++k) {
            out[k] = d.out[k];
        }
        return (kept, proposed, d.left, d.total, out);
    }

    function _drawAfter(uint256 cap, address[] calldata exclude, uint256[] calldata takes)
        private
        view
        returns (WeightClasses.Draw memory d)
    {
        d = _pool.open(cap, exclude.length + takes.length);
        for (uint256 k = 0; k < exclude.length; ++k) {
            // slither-disable-next-line unused-return
            _pool.exclude(d, exclude[k]);
        }
        for (uint256 k = 0; k < takes.length; ++k) {
            (, uint256 at, uint256 pos,) = _pool.propose(d, takes[k] % d.total);
            _pool.takeOut(d, at, pos);
        }
    }

    function _count(WeightClasses.Draw memory d, address[] calldata members, uint256[] calldata weights)
        private
        view
        returns (uint256[] memory kept, uint256[] memory proposed)
    {
        kept = new uint256[](members.length);
        proposed = new uint256[](members.length);
        for (uint256 r = 0; r < d.total; ++r) {
            (address member,,, uint256 coin) = _pool.propose(d, r);
            uint256 k = 0;
            while (members[k] != member) ++k; // out of bounds (a revert) for an unknown member
            ++proposed[k];
            if (coin < weights[k]) ++kept[k];
        }
    }
}
