// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Cosine} from "./Cosine.sol";

/// @title Agreement
/// @notice Which revealed vectors of a job agree: the medoid of the current round and every
///         revealed seat within the cosine threshold of it, as seat bitmasks.
/// @dev Runs in AgreementJudge, a stateless contract JobRegistry creates in its constructor (the
///      cosine code would not fit JobRegistry's 24,576-byte limit). Seats are at most MAX_ROUNDS * MAX_QUORUM (48) per job, so a uint256 bitmask holds them.
library Agreement {
    /// @notice Find the medoid: the current round's revealed vector agreeing with the most others
    ///         of the current round (lowest seat wins a tie). Returns the medoid, every revealed
    ///         seat within the threshold of it (earlier rounds included) and how many of those
    ///         are of the current round. `mismatch` is 1 + the first seat whose vector is not
    ///         the one it revealed (then nothing else is decided), or 0.
    function decide(uint256 from, uint256 thresholdPpm, uint256 revealedMask, bytes[] calldata vectors)
        internal
        pure
        returns (uint256 medoid, uint256 bestMask, uint256 bestVotes)
    {
        uint256[] memory masks = _isWholeTriple(from, revealedMask, vectors)
            ? _masks3(thresholdPpm, vectors)
            : _masks(from, thresholdPpm, revealedMask, vectors);
        uint256 currentRound = type(uint256).max << from;
        for (uint256 i = from; i < masks.length; ++i) {
            uint256 votes = popcount(masks[i] & currentRound);
            if (votes > bestVotes) {
                (medoid, bestMask, bestVotes) = (i, masks[i], votes);
            }
        }
    }

    /// @notice Number of set bits.
    function popcount(uint256 x) internal pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }

    /// @dev A committee of three in its first round, all revealed, with vectors of one length:
    ///      the common case, decided by Cosine.gram3 in one pass.
    function _isWholeTriple(uint256 from, uint256 revealedMask, bytes[] calldata vectors)
        private
        pure
        returns (bool)
    {
        return from == 0 && revealedMask == 7 && vectors.length == 3 && vectors[0].length == vectors[1].length
            && vectors[0].length == vectors[2].length;
    }

    /// @dev What _masks gives for a whole triple (see _isWholeTriple).
    function _masks3(uint256 threshold, bytes[] calldata vectors) private pure returns (uint256[] memory masks) {
        Cosine.Gram3 memory g = Cosine.gram3(vectors[0], vectors[1], vectors[2]);
        masks = new uint256[](3);
        if (g.aa != 0) masks[0] = 1;
        if (g.bb != 0) masks[1] = 2;
        if (g.cc != 0) masks[2] = 4;
        if (Cosine.agrees(g.ab, g.aa, g.bb, threshold)) (masks[0], masks[1]) = (masks[0] | 2, masks[1] | 1);
        if (Cosine.agrees(g.ac, g.aa, g.cc, threshold)) (masks[0], masks[2]) = (masks[0] | 4, masks[2] | 1);
        if (Cosine.agrees(g.bc, g.bb, g.cc, threshold)) (masks[1], masks[2]) = (masks[1] | 4, masks[2] | 2);
    }

    /// @dev masks[i] has bit j set when seats i and j both revealed (revealedMask; their vectors
    ///      were checked against the stored digests by the caller) and agree (bit i itself unless
    ///      the vector is zero). Two seats of earlier rounds are never compared: the medoid is of
    ///      the current round. Each vector is prepared (lanes reversed, normed) once, not once
    ///      per pair.
    function _masks(uint256 from, uint256 threshold, uint256 revealedMask, bytes[] calldata vectors)
        private
        pure
        returns (uint256[] memory masks)
    {
        uint256 n = vectors.length;
        Cosine.Prepared[] memory prepared = new Cosine.Prepared[](n);
        masks = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            if (revealedMask & (1 << i) == 0) continue;
            prepared[i] = Cosine.prepare(vectors[i]);
            if (prepared[i].normSq != 0) masks[i] |= 1 << i;
        }
        for (uint256 i = 0; i < n; ++i) {
            if (revealedMask & (1 << i) == 0) continue;
            for (uint256 j = i + 1 > from ? i + 1 : from; j < n; ++j) {
                if (revealedMask & (1 << j) == 0) continue;
                int256 d = Cosine.dot(vectors[i], prepared[i], prepared[j]);
                if (Cosine.agrees(d, prepared[i].normSq, prepared[j].normSq, threshold)) {
                    masks[i] |= 1 << j;
                    masks[j] |= 1 << i;
                }
            }
        }
    }
}
