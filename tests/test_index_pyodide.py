"""micropip inside real Pyodide under Node installs from ``omniwheel serve`` over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import realwheels
from indexserver import serve
from omniwheel.index import PackageIndex
from omniwheel.platforms import parse_platform
from pyodide_runtime import python_value_in_pyodide, run_pyodide

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


def test_micropip_on_pyodide_027_accepts_the_tag_we_give_abi_2024_0(tmp_path: Path) -> None:
    """Pyodide 0.27 predates PEP 783: its micropip takes ``pyodide_2024_0``, not ``pyemscripten_``.

    So wheels omniwheel builds or repairs for ABI 2024_0 carry the legacy tag.
    """
    ours = parse_platform("pyodide-2024.0").wheel_tag
    names = {tag: f"demo-1.0-cp312-cp312-{tag}.whl" for tag in (ours, "pyemscripten_2024_0_wasm32")}
    wheels = [str(realwheels.fetch(key)) for key in ("micropip", "packaging-pure")]
    code = (
        "import json\nfrom micropip._utils import check_compatible\nverdicts = {}\n"
        f"for tag, name in {names!r}.items():\n"
        "    try:\n        check_compatible(name)\n        verdicts[tag] = 'ok'\n"
        "    except ValueError as error:\n        verdicts[tag] = str(error)\n"
        "json.dumps(verdicts)"
    )
    verdicts = json.loads(python_value_in_pyodide("2024_0", wheels, code, cwd=tmp_path))
    assert ours == "pyodide_2024_0_wasm32"
    assert verdicts[ours] == "ok"
    # micropip 0.7.2's own words: "Wheel was built with Emscripten vpyemscripten.2024.0 but
    # Pyodide was built with Emscripten v3.1.58".
    assert "but Pyodide was built with" in verdicts["pyemscripten_2024_0_wasm32"]
