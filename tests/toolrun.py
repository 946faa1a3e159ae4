"""Running the real tools tests build and judge with (compilers, linkers, readelf, otool...)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; a failure fails the test with the command and its stderr."""
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd
    )
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result
