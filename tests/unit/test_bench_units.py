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


def test_cpu_sampler_charges_a_busy_child_to_its_own_part() -> None:
    import subprocess
    import sys
    import time

    import pytest

    from benchmarks.cpu import CpuSampler

    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with CpuSampler({"spin": spin.pid, "idle": idle.pid}, split_threads_of=("spin",)) as sampler:
            time.sleep(0.3)  # past the interpreters' start-up
            start = time.time()
            time.sleep(0.6)
            end = time.time()
            time.sleep(0.1)
        share = sampler.share(start, end)
    finally:
        for p in (spin, idle):
            p.kill()
            p.wait()
    used = share.by_part
    # Loose bounds: the machine may be busy with other tests, but a sleeping process uses
    # (almost) nothing and a spinning one gets a real share, all of it on its main thread.
    assert used["idle"] < 0.05 < used["spin"] <= share.wall_s + 0.1
    assert used["spin.main_thread"] == pytest.approx(used["spin"], abs=0.02)
    assert used["machine"] >= used["spin"] - 0.02
    with pytest.raises(ValueError, match="no CPU samples"):
        sampler.share(start - 60, end)
