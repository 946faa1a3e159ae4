"""The pyodide layout under real Pyodide (Node), one pinned release per ABI.

Each tree holds a binary wheel from the index where one exists for the ABI
(no ``pyemscripten_2024_0`` wheel is published: the index accepts these tags
only since 2026, after Pyodide 0.27), and pure dependencies Pyodide's npm
package does not ship.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniwheel.cli.main import main
from pyodide_runtime import PYODIDE_FOR_ABI, run_pyodide

pytestmark = pytest.mark.network

TREES = {
    "2024_0": (["attrs"], "import attrs; print(attrs.define.__module__)", "attr._next_gen"),
    "2025_0": (
        ["msgpack", "attrs"],
        "import msgpack, attrs; print(msgpack.unpackb(msgpack.packb([1, 'x'])))",
        "[1, 'x']",
    ),
    "2026_0": (
        ["pydantic", "msgpack"],
        "import pydantic, msgpack\n"
        "class M(pydantic.BaseModel):\n    x: int\n"
        "print(M(x='3').x + msgpack.unpackb(msgpack.packb(4)))",
        "7",
    ),
}


@pytest.mark.parametrize("abi", sorted(TREES))
def test_pyodide_loads_the_tree(served_index: tuple[str, object], tmp_path: Path, abi: str) -> None:
    url, _ = served_index
    requirements, code, expected = TREES[abi]
    packages = tmp_path / "packages"
    assert (
        main(
            [
                "install",
                *requirements,
                "--platform",
                f"pyodide-{abi.replace('_', '.')}",
                "--index-url",
                url,
                "--cache-dir",
                str(tmp_path / "cache"),
                "--into",
                str(packages),
                "--pyodide-version",
                PYODIDE_FOR_ABI[abi],
            ]
        )
        == 0
    )
    lock = json.loads((packages / "pyodide-lock.json").read_text())
    assert lock["info"]["abi_version"] == abi
    assert {entry["file_name"] for entry in lock["packages"].values()} == {
        path.name for path in packages.glob("*.whl")
    }
    lock_url = json.dumps(str(packages / "pyodide-lock.json"))
    body = f"""// custom-load
const pyodide = await loadPyodide({{lockFileURL: {lock_url},
                                   packageCacheDir: {json.dumps(str(packages))}}});
await pyodide.loadPackage({json.dumps(requirements)});
pyodide.runPython({json.dumps(code)});
"""
    out = run_pyodide(abi, body, cwd=tmp_path)
    assert out.strip().splitlines()[-1] == expected
    loaded = [line for line in out.splitlines() if line.startswith("Loaded ")]
    assert loaded and set(loaded[-1].removeprefix("Loaded ").split(", ")) == set(lock["packages"])
