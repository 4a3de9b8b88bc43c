// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobRegistry} from "../interfaces/IJobRegistry.sol";

/// @title Seats
/// @notice How JobRegistry stores a committee seat: one storage slot, converted to the ABI's
///         IJobRegistry.Seat (node address, state, 32-byte digest) only in views.
/// @dev Why one slot: assign() writes it from zero once (22,100 gas); commit and reveal then
///      overwrite a slot that is already non-zero (2,900 gas each) instead of writing a second
///      slot from zero at commit. The node is NodeRegistry's permanent node id (NodeRegistry.idOf,
///      given at registration), never its slot index: a slot is recycled when its node
///      fully exits, which a node whose seat was already settled (dropped, or on a finished job)
///      may do while the job stays readable, and a recycled index would then name another node.
///      `digest` is the first 216 bits of the node's tag (keccak256 of its address) while the seat
///      is assigned, then of the commitment until reveal, then of keccak256 of the revealed
///      vector. The tag lets commit recognise the caller's seat without asking NodeRegistry for
///      the caller's id; reveal recognises it by the commitment, which binds the caller's
///      address. Forging either means a 216-bit collision with another node's tag or
///      commitment. A node picks both openings of its own commitment, so what binds it is
///      collision resistance: 108 bits for a 216-bit truncation (a birthday search of about
///      2^108 hashes), as for the revealed-vector digest that finalize() checks calldata
///      vectors against. The accepted result's hash (JobAccepted, Job.resultHash) is the full
///      keccak256 of the vector.
library Seats {
    /// @dev Fields in slot order, low bits first: 32 + 8 + 216 = 256 bits.
    struct Packed {
        uint32 node; // NodeRegistry.idOf, 1-based
        IJobRegistry.SeatState state;
        bytes27 digest; // first 27 bytes of tag(node), then of the commitment, then of keccak256(vector)
    }

    /// @dev What an assigned seat holds as its digest: the first 216 bits of keccak256 of the
    ///      node's address.
    function tag(address node) internal pure returns (bytes27) {
        return bytes27(keccak256(abi.encode(node)));
    }
}
