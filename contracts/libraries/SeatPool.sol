// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title SeatPool
/// @notice The seat keys of ended jobs, free for new jobs: JobRegistry keeps a job's seats under
///         a key, so that a new job overwrites the seat slots of a job that has ended instead of
///         writing fresh ones.
/// @dev Why: a seat is one slot, and writing a slot from zero costs 22,100 gas where
///      overwriting a used one costs 5,000 (cold). A job's seats live under its own id unless it
///      was submitted while an ended job's key was free: then it takes that key (claim), which
///      JobRegistry stores in the job's slot. When a job ends (accepted or refunded) its key
///      goes back on the free stack (release); the ended job keeps no seats.
///      The stack is KEYS_PER_WORD keys a slot. Popped keys are not cleared, so a push writes a
///      fresh slot only while the stack is higher than it ever was; `top` is the height plus
///      one once anything was pushed, so it never returns to zero (which would make the next
///      push write it from zero again).
///      Keys are job ids below 2^KEY_BITS; a job with a higher id that found no free key keeps
///      its own slots and never frees them. The stack never loses a key, so the pool holds as
///      many keys as jobs were ever live at once (until job 2^KEY_BITS).
///      A key is held by at most one live job: it is on the stack only between its holder's end
///      and the next claim, and a job ends once (JobRegistry's phases check the status first).
library SeatPool {
    struct Pool {
        mapping(uint256 word => uint256) words; // the free keys, KEYS_PER_WORD a slot
        uint256 top; // 0 before the first push, else the stack's height + 1
    }

    /// @notice Bits of a key: the largest key is 2^KEY_BITS - 1.
    uint256 internal constant KEY_BITS = 24;
    uint256 private constant KEYS_PER_WORD = 10;
    uint256 private constant MASK = (1 << KEY_BITS) - 1;

    /// @notice Take the top free key; 0 when none is free.
    function claim(Pool storage pool) internal returns (uint256 key) {
        uint256 top = pool.top;
        if (top <= 1) return 0;
        pool.top = top - 1;
        uint256 at = top - 2;
        key = (pool.words[at / KEYS_PER_WORD] >> ((at % KEYS_PER_WORD) * KEY_BITS)) & MASK;
    }

    /// @notice Free `key` (an ended job's) for the next job; a key too large to store is dropped.
    function release(Pool storage pool, uint256 key) internal {
        if (key > MASK) return;
        uint256 top = pool.top;
        if (top == 0) top = 1;
        uint256 at = top - 1;
        uint256 shift = (at % KEYS_PER_WORD) * KEY_BITS;
        uint256 word = pool.words[at / KEYS_PER_WORD];
        pool.words[at / KEYS_PER_WORD] = (word & ~(MASK << shift)) | (key << shift);
        pool.top = top + 1;
    }
}
