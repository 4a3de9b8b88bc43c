// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {Cosine} from "../libraries/Cosine.sol";

/// @title VectorSet
/// @notice A fixed set of packed int8 vectors of one length (reference embeddings, prototypes),
///         stored as the code of a data contract, and the nearest of them to a given vector by
///         the project's integer cosine (libraries/Cosine.sol).
/// @dev Why code and not storage: a consumer reads its set inside the registry's callback gas
///      limit. 4 vectors of 384 components are 48 storage slots, 100,800 gas of cold SLOADs;
///      as code they are one EXTCODECOPY, 2,600 gas plus 3 per word. Scoring is the rest: about
///      13,000 gas per 384-dim vector, mostly Cosine.prepare (7,500), then dot and decision. Writing is cheaper too
///      (200 gas a byte against 20,000 a slot). The data contract's code starts with a STOP
///      byte, so calling it does nothing; a set is never changed, only replaced by a new one.
library VectorSet {
    /// @dev Creation code of a data contract after its first three bytes (PUSH2 runtime size):
    ///      DUP1, PUSH1 0x0a, RETURNDATASIZE (0), CODECOPY (the runtime, from byte 10 of
    ///      this code, to memory 0), RETURNDATASIZE (0), RETURN, and the runtime's first byte
    ///      STOP. The runtime is that STOP followed by the data.
    bytes8 private constant _TAIL = 0x80600a3d393df300;

    /// @dev Largest runtime code (EIP-170), less the STOP byte.
    uint256 internal constant MAX_BYTES = 24_575;

    /// @dev Deploy `data` as a data contract and return its address. The caller checks `data`'s
    ///      length (at most MAX_BYTES); a failed deployment returns the zero address.
    function write(bytes memory data) internal returns (address pointer) {
        bytes memory init = abi.encodePacked(bytes1(0x61), uint16(data.length + 1), _TAIL, data);
        // create(value, offset, size) with the init code built above; 0 when it fails.
        assembly ("memory-safe") {
            pointer := create(0, add(init, 0x20), mload(init))
        }
    }

    /// @dev The data stored at `pointer` by `write` (empty for an address without code).
    function read(address pointer) internal view returns (bytes memory data) {
        uint256 size = pointer.code.length;
        if (size == 0) return data;
        unchecked {
            size -= 1; // size > 0: drop the STOP byte
        }
        data = new bytes(size);
        // Copy the code after the STOP byte into the new bytes' body.
        assembly ("memory-safe") {
            extcodecopy(pointer, add(data, 0x20), 1, size)
        }
    }

    /// @dev The vector of `set` (a concatenation of vectors as long as `vector`) nearest to
    ///      `vector` by cosine: its index, its cosine in parts per million (rounded towards zero,
    ///      within -1e6 .. 1e6; 0 against a zero vector), and whether any vector of the set is
    ///      within `thresholdPpm` by Cosine.agrees (the exact integer test, not the rounded
    ///      figure). Ties go to the lower index. Caller guarantees `vector.length % 32 == 0`,
    ///      `vector.length > 0` and `set.length % vector.length == 0`.
    function nearest(bytes calldata vector, bytes calldata set, uint256 thresholdPpm)
        internal
        pure
        returns (uint256 index, int256 similarityPpm, bool anyWithin)
    {
        uint256 n = vector.length;
        uint256 count = set.length / n;
        Cosine.Prepared memory a = Cosine.prepare(vector);
        similarityPpm = type(int256).min;
        for (uint256 i = 0; i < count; ++i) {
            // i < count = set.length / n, so (i + 1) * n <= set.length.
            Cosine.Prepared memory b = Cosine.prepare(set[i * n:(i + 1) * n]);
            int256 d = Cosine.dot(vector, a, b);
            if (!anyWithin && Cosine.agrees(d, a.normSq, b.normSq, thresholdPpm)) anyWithin = true;
            int256 s = _ppm(d, a.normSq, b.normSq);
            if (s > similarityPpm) {
                similarityPpm = s;
                index = i;
            }
        }
    }

    /// @dev d / sqrt(na * nb) in parts per million, rounded towards zero and clamped to +-1e6
    ///      (the floor of the square root can push a near-parallel pair a hair above 1).
    ///      |d| < 2^26 and na * nb < 2^52 (Cosine's bounds), so nothing overflows.
    function _ppm(int256 d, uint256 na, uint256 nb) private pure returns (int256 s) {
        uint256 root = Math.sqrt(na * nb);
        if (root == 0) return 0;
        s = (d * int256(Cosine.PPM)) / int256(root);
        if (s > int256(Cosine.PPM)) s = int256(Cosine.PPM);
        else if (s < -int256(Cosine.PPM)) s = -int256(Cosine.PPM);
    }
}
