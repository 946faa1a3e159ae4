"""Timing helpers shared by the benchmarks: one child process, its wall time and peak RSS."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def measure(command: list[str], cwd: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB of this child alone (wait4), exit code."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def warm(path: Path) -> None:
    """Read a file once so every tool measured after finds it in the page cache."""
    with path.open("rb") as handle:
        while handle.read(1 << 20):  # in chunks: a child inherits our peak RSS
            pass
