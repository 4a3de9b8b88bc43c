"""The benchmark's own arithmetic (the benchmark itself runs in `make bench`, not here)."""

from __future__ import annotations

from benchmarks.embedding import _union


def test_busy_time_counts_overlapping_batches_once() -> None:
    # Four commit batches sent in one tick all start at that tick's first assignment.
    assert _union([(0.0, 1.0), (0.0, 1.1), (0.0, 1.2), (0.0, 1.3), (3.0, 4.0)]) == 2.3
    assert _union([(0.0, 2.0), (1.0, 3.0)]) == 3.0
    assert _union([]) == 0.0
