"""Where the cores went while a node worked: CPU time per process (and per thread of the node),
sampled in the background and read back over a window of wall-clock time, so a figure bounded by
the machine says what took the cores instead of guessing."""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Self

import psutil

SAMPLE_INTERVAL_S = 0.05


@dataclass(frozen=True)
class CpuShare:
    """CPU seconds each part used inside one window of `wall_s` seconds on `cores` cores."""

    wall_s: float
    cores: int
    by_part: dict[str, float]  # a process (its descendants included), or "machine" for every process

    def as_json(self) -> dict[str, object]:
        parts = {name: round(seconds, 3) for name, seconds in self.by_part.items()}
        return {"wall_s": round(self.wall_s, 3), "cores": self.cores, "core_seconds": round(self.wall_s * self.cores, 3),
                "cpu_s": parts}


def _tree_cpu(process: psutil.Process) -> float:
    """User plus system time of a process and its live descendants (npm's anvil may be a
    launcher with the node binary below it)."""
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _thread_groups(process: psutil.Process) -> dict[str, float]:
    """A process's CPU split into its main thread and all its others (torch's intra-op pool,
    asyncio.to_thread's workers): the main thread runs the node's event loop."""
    try:
        threads = process.threads()
    except psutil.NoSuchProcess:
        return {}
    main = sum(t.user_time + t.system_time for t in threads if t.id == process.pid)
    others = sum(t.user_time + t.system_time for t in threads if t.id != process.pid)
    return {"main_thread": main, "other_threads": others}


@dataclass
class CpuSampler:
    """Samples every SAMPLE_INTERVAL_S, on a daemon thread, the cumulative CPU time of the named
    processes, the node's threads and the whole machine, stamped with time.time() (the clock the
    nodes' JSON logs use). Use as a context manager; `share` then reads any window."""

    processes: dict[str, int]  # part name -> pid
    split_threads_of: tuple[str, ...] = ()  # parts whose main thread and other threads are told apart
    _samples: list[tuple[float, dict[str, float]]] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def __enter__(self) -> Self:
        handles = {name: psutil.Process(pid) for name, pid in self.processes.items()}
        self._sample(handles)  # one before any window the caller starts after this returns
        self._thread = threading.Thread(target=self._run, args=(handles,), name="cpu-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self, handles: dict[str, psutil.Process]) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._sample(handles)
        self._sample(handles)  # one after any window the caller ended before leaving

    def _sample(self, handles: dict[str, psutil.Process]) -> None:
        at = time.time()
        machine = psutil.cpu_times()
        sample = {name: _tree_cpu(p) for name, p in handles.items()}
        sample["machine"] = machine.user + machine.system + machine.nice + machine.irq + machine.softirq
        for name in self.split_threads_of:
            sample.update({f"{name}.{k}": v for k, v in _thread_groups(handles[name]).items()})
        self._samples.append((at, sample))

    def share(self, start: float, end: float) -> CpuShare:
        """CPU seconds each part used from `start` to `end` (epoch seconds), interpolated
        linearly between the samples around each end."""
        if len(self._samples) < 2 or not self._samples[0][0] <= start < end <= self._samples[-1][0]:
            raise ValueError(f"no CPU samples cover {start:.3f} .. {end:.3f}")
        at_start, at_end = self._at(start), self._at(end)
        return CpuShare(end - start, psutil.cpu_count() or 1,
                        {name: at_end[name] - at_start.get(name, 0.0) for name in at_end})

    def _at(self, when: float) -> dict[str, float]:
        """Every part's cumulative CPU seconds at `when`, between the two samples around it."""
        i = min(max(bisect.bisect_left([at for at, _ in self._samples], when), 1), len(self._samples) - 1)
        (t0, s0), (t1, s1) = self._samples[i - 1], self._samples[i]
        f = (when - t0) / (t1 - t0) if t1 > t0 else 0.0
        return {name: s0.get(name, 0.0) + (s1.get(name, 0.0) - s0.get(name, 0.0)) * f for name in s1}
