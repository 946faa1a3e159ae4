"""The pinned Pyodide releases really are the Python each ABI names."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniwheel.platforms import parse_platform
from pyodide_runtime import PYTHON_FOR_ABI, run_pyodide

pytestmark = pytest.mark.network


@pytest.mark.parametrize("abi", sorted(PYTHON_FOR_ABI))
def test_runtime_matches_platform_model(abi: str, tmp_path: Path) -> None:
    """Our model of each Pyodide ABI (Python version, sysconfig platform) matches the runtime."""
    out = run_pyodide(
        abi,
        "console.log(pyodide.runPython("
        "'import sys, sysconfig; f\"{sys.version_info[0]}.{sys.version_info[1]} "
        "{sysconfig.get_platform()}\"'));",
        cwd=tmp_path,
    )
    version, sysconfig_platform = out.split()
    platform = parse_platform(f"pyemscripten_{abi}_wasm32")
    assert version == PYTHON_FOR_ABI[abi] == platform.python.dotted
    assert sysconfig_platform.startswith("emscripten-") and sysconfig_platform.endswith("-wasm32")
    # The Emscripten version inside the runtime is the one our ABI table pins.
    assert sysconfig_platform == platform.sysconfig_platform
