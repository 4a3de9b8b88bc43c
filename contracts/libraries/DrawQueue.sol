// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title DrawQueue
/// @notice A first-in, first-out queue of committee draws waiting for a block hash.
/// @dev A request made in block n is drawn from blockhash(n), which no transaction of block n
///      can read. Requests are drawn strictly in queue order, and NodeRegistry refuses every
///      weight change while the head is due, so the state a draw reads is the state at the end
///      of its draw block: nobody can change it after seeing the hash. A batch submission is one
///      entry (consecutive job ids), so queueing costs one storage slot per transaction.
///      After 256 blocks blockhash() returns 0; then `floor` moves to the current block and every
///      queued request is drawn from the hash of that block instead (also unknown when it is set).
library DrawQueue {
    /// @dev One slot: consecutive jobs that each need `seats` nodes, drawn from `drawBlock`.
    struct Request {
        uint64 firstJob;
        uint16 count;
        uint8 seats;
        uint64 drawBlock;
    }

    struct Queue {
        uint64 head; // index of the next request to draw
        uint64 tail; // index the next request is stored at
        uint64 floor; // no request is drawn from a block before this one
        mapping(uint256 index => Request) items;
    }

    /// @notice Queue draws for `count` consecutive jobs from `firstJob`, each needing `seats`.
    function push(Queue storage q, uint256 firstJob, uint256 count, uint8 seats) internal {
        // Job ids and batch sizes are bounded by the registry (ids < 2^64, batches <= 64).
        q.items[q.tail] =
            Request({firstJob: uint64(firstJob), count: uint16(count), seats: seats, drawBlock: uint64(block.number)});
        q.tail += 1;
    }

    /// @notice The block whose hash draws the head request, or 0 if the queue is empty.
    function headBlock(Queue storage q) internal view returns (uint256) {
        if (q.head == q.tail) return 0;
        uint256 drawBlock = q.items[q.head].drawBlock;
        return drawBlock > q.floor ? drawBlock : q.floor;
    }

    /// @notice Whether the head request's block hash exists (its block is in the past).
    function due(Queue storage q) internal view returns (bool) {
        return q.head != q.tail && headBlock(q) < block.number;
    }

    /// @notice Take the head's next job; returns it and its seat count (see headBlock for the
    ///         block it is drawn from).
    function pop(Queue storage q) internal returns (uint256 jobId, uint8 seats) {
        Request storage r = q.items[q.head];
        (jobId, seats) = (r.firstJob, r.seats);
        if (r.count == 1) {
            delete q.items[q.head];
            q.head += 1;
        } else {
            r.firstJob += 1;
            r.count -= 1;
        }
    }

    /// @notice Draw every queued request from the current block's hash (their own hashes expired).
    function reschedule(Queue storage q) internal {
        q.floor = uint64(block.number);
    }

    /// @notice Number of queue entries (a batch counts once).
    function length(Queue storage q) internal view returns (uint256) {
        return q.tail - q.head;
    }
}
