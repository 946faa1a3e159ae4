"""micropip inside real Pyodide under Node installs from ``omniwheel serve`` over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import realwheels
from indexserver import serve
from omniwheel.index import PackageIndex
from pyodide_runtime import run_pyodide

pytestmark = pytest.mark.network


def test_micropip_installs_from_the_index(tmp_path: Path) -> None:
    root = tmp_path / "index"
    index = PackageIndex(root)
    # micropip 0.7.2 (the newest the package index has) runs in Pyodide 0.27 (ABI 2024_0).
    rows = {key: index.add_path(realwheels.fetch(key)) for key in ("micropip", "packaging-pure",
                                                                    "pure")}  # fmt: skip
    index.close()
    with serve(root) as server:
        loader = [f"{server.url}/files/{row.project}/{row.filename}"
                  for key, row in rows.items() if key != "pure"]  # fmt: skip
        body = f"""
await pyodide.loadPackage({json.dumps(loader)});
const result = await pyodide.runPythonAsync(`
import json, micropip
await micropip.install("iniconfig", index_urls=["{server.url}/simple"])
import iniconfig, importlib.metadata
json.dumps([importlib.metadata.version("iniconfig"), iniconfig.__file__])
`);
console.log("RESULT " + result);
"""
        output = run_pyodide("2024_0", body, cwd=tmp_path)
        log = server.log.read_text()
    result = json.loads(output.split("RESULT ", 1)[1])
    # Pyodide 0.27's own distribution has iniconfig 2.0.0: 2.1.0 can only come from the index.
    assert result == ["2.1.0", "/lib/python3.12/site-packages/iniconfig/__init__.py"]
    assert '"GET /simple/iniconfig/ HTTP/1.1" 200' in log
    assert f'"GET /files/iniconfig/{rows["pure"].filename} HTTP/1.1" 200' in log
    assert f'"GET /files/micropip/{rows["micropip"].filename} HTTP/1.1" 200' in log
