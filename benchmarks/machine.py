"""The machine and the code a run measured: read at run time, written into the results."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from infera.paths import project_root


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def ram_gib() -> float:
    """Physical memory in GiB (MemTotal on Linux, else sysconf)."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)


def git_commit() -> str:
    """The checked-out commit, with `-dirty` when the work tree has uncommitted changes."""
    root = str(project_root())
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def machine() -> dict[str, object]:
    """Cores, CPU, memory and the versions that decide embedding speed."""
    import sentence_transformers
    import torch

    return {
        "cores": os.cpu_count() or 0,
        "cpu_model": cpu_model(),
        "ram_gib": ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torch_threads": torch.get_num_threads(),
        "sentence_transformers": str(sentence_transformers.__version__),
        "cuda": bool(torch.cuda.is_available()),
    }


def meta() -> dict[str, object]:
    """What `meta` in latest.json holds: commit, time and machine."""
    return {
        "git_commit": git_commit(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
