"""The benchmark's own arithmetic (the benchmark itself runs in `make bench`, not here)."""

from __future__ import annotations

from benchmarks.embedding import _union


def test_busy_time_counts_overlapping_batches_once() -> None:
    # Four commit batches sent in one tick all start at that tick's first assignment.
    assert _union([(0.0, 1.0), (0.0, 1.1), (0.0, 1.2), (0.0, 1.3), (3.0, 4.0)]) == 2.3
    assert _union([(0.0, 2.0), (1.0, 3.0)]) == 3.0
    assert _union([]) == 0.0


def test_relayer_figures_keys_and_rows() -> None:
    from benchmarks.relayer import LoadResult, RelayerRun
    from benchmarks.report import relayer_rows
    from benchmarks.results import relayer_baseline, relayer_headline

    submit = LoadResult("submit", 100, 0, 2.0, [0.01] * 99 + [0.5])
    health = LoadResult("health", 100, 0, 1.0, [0.005] * 100)
    run = RelayerRun(submit, health, 8)
    head = relayer_headline(run)
    assert head["relayer_requests_per_s"] == 50.0 and 0.01 < head["relayer_p99_s"] <= 0.5
    base = relayer_baseline(run)
    assert base["relayer_submit_vs_health"]["ratio"] == 0.5
    assert [r[0] for r in relayer_rows(base)] == ["relayer submissions accepted/s", "relayer submission p99"]
    assert relayer_headline(None) == {"relayer_requests_per_s": None, "relayer_p99_s": None}
    assert relayer_rows({}) == []  # a results file from before the relayer figures still renders
