"""Real Pyodide under Node, one pinned npm release per Pyodide ABI.

Tests that claim "this loads in Pyodide" run it there. Each release is
installed once with npm into ``${XDG_CACHE_HOME:-~/.cache}/omniwheel/npm/`` so
that CI's fresh clones reuse it; the npm package carries the interpreter and
standard library, not Pyodide's package repository, so tests bring their own
wheels (from the package index or built by the suite).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

#: The npm ``pyodide`` release that runs each Pyodide ABI (PEP 783 names).
PYODIDE_FOR_ABI: dict[str, str] = {
    "2024_0": "0.27.7",
    "2025_0": "0.29.5",
    "2026_0": "314.0.7",
}

#: The CPython minor version inside each of those releases.
PYTHON_FOR_ABI: dict[str, str] = {"2024_0": "3.12", "2025_0": "3.13", "2026_0": "3.14"}


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "omniwheel" / "npm"


def pyodide_dist(abi: str) -> Path:
    """The directory holding ``pyodide.mjs`` for ``abi``, installing it on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run Pyodide")
    version = PYODIDE_FOR_ABI[abi]
    prefix = _cache_root() / f"pyodide-{version}"
    dist = prefix / "node_modules" / "pyodide"
    if not (dist / "pyodide.mjs").is_file():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        # Install beside the final place, then rename: a killed run leaves no half install.
        staging = Path(tempfile.mkdtemp(prefix=f".pyodide-{version}-", dir=prefix.parent))
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(staging),
             f"pyodide@{version}"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        if prefix.exists():
            shutil.rmtree(prefix)
        staging.rename(prefix)
    return dist


def run_pyodide(abi: str, body: str, *, cwd: Path, timeout: float = 180) -> str:
    """Run the JavaScript ``body`` (an async module, ``pyodide`` in scope) and return its stdout.

    ``body`` gets ``loadPyodide`` imported and a ``pyodide`` already loaded unless
    it starts with ``// custom-load``, in which case it calls ``loadPyodide`` itself
    (to pass ``lockFileURL`` or ``packages``). A non-zero exit fails the test with
    Node's stderr, which carries the Python traceback.
    """
    dist = pyodide_dist(abi)
    module = json.dumps((dist / "pyodide.mjs").as_uri())
    prelude = f"import {{ loadPyodide }} from {module};\n"
    if not body.lstrip().startswith("// custom-load"):
        prelude += "const pyodide = await loadPyodide();\n"
    script = cwd / "run-pyodide.mjs"
    script.write_text(prelude + body)
    result = subprocess.run(
        ["node", str(script)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        pytest.fail(f"Pyodide {PYODIDE_FOR_ABI[abi]} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def python_value_in_pyodide(abi: str, wheels: Sequence[Path], code: str, *, cwd: Path) -> str:
    """Load ``wheels`` with ``loadPackage``, run ``code`` and return its last expression's
    value as Pyodide prints it."""
    paths = json.dumps([str(wheel) for wheel in wheels])
    run = f"console.log(pyodide.runPython({json.dumps(code)}));"
    body = f"await pyodide.loadPackage({paths});\n{run}"
    return run_pyodide(abi, body, cwd=cwd).strip().splitlines()[-1]
