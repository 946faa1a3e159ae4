"""``check`` knows where Pyodide looks for a side module's needed library.

Real emcc side modules (``_ext.so`` needing ``libbar.so``) in wheels that place
the library in each way that matters; the audit's verdict per ABI is compared
with what real Pyodide under Node does with the very same wheels: 0.27.7
(ABI 2024_0) loads every ``.so`` of a wheel and finds a library loaded before,
or in ``<dist>.libs``, site-packages and the module's directory tree; 0.29.5
(ABI 2025_0, and 314.0.7 alike) looks only in site-packages and RUNTIME_PATH.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.audit import check_wheel
from omniwheel.rewrite.wasm_edit import WasmChanges, edit_wasm
from pyodide_runtime import PYTHON_FOR_ABI, pyodide_dist
from toolrun import run

pytestmark = pytest.mark.toolchain

TAGS = {
    "2024_0": "pyodide_2024_0_wasm32",
    "2025_0": "pyemscripten_2025_0_wasm32",
    "2026_0": "pyemscripten_2026_0_wasm32",
}
EXT = "demo/_ext.cpython-{py}-wasm32-emscripten.so"
SITE = "/lib/python{dotted}/site-packages"

# name: (members in archive order, the extension's RUNTIME_PATH, ABIs that cannot load it)
LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], set[str]]] = {
    "beside, library first": (("demo/libbar.so", EXT), (), {"2025_0", "2026_0"}),
    "beside": ((EXT, "demo/libbar.so"), (), {"2025_0", "2026_0"}),
    "below the module": ((EXT, "demo/sub/libbar.so"), (), {"2025_0", "2026_0"}),
    "dist.libs": ((EXT, "demo.libs/libbar.so"), (), {"2025_0", "2026_0"}),
    "site-packages": ((EXT, "libbar.so"), (), set()),
    "elsewhere, library first": (("vendor/libbar.so", EXT), (), {"2025_0", "2026_0"}),
    "elsewhere": ((EXT, "vendor/libbar.so"), (), {"2024_0", "2025_0", "2026_0"}),
    "elsewhere, RUNTIME_PATH": ((EXT, "vendor/libbar.so"), ("$ORIGIN/../vendor",), {"2024_0"}),
    "beside, RUNTIME_PATH": ((EXT, "demo/libbar.so"), ("$ORIGIN",), set()),
    "absolute RUNTIME_PATH": ((EXT, "vendor/libbar.so"), (f"{SITE}/vendor",), {"2024_0"}),
}  # fmt: skip


@pytest.fixture(scope="session")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """``libbar.so`` and ``_ext.so`` needing it, built by emcc."""
    if shutil.which("emcc") is None:
        pytest.skip("needs emcc (apt-get install emscripten)")
    out = tmp_path_factory.mktemp("wasm-reach")
    (out / "bar.c").write_text("int bar_value(int x) { return x * 7; }\n")
    (out / "ext.c").write_text(
        "extern int bar_value(int);\nint PyInit__ext(void) { return bar_value(6); }\n"
    )
    flags = ("-O2", "-sWASM_BIGINT")
    run("emcc", "-sSIDE_MODULE=1", *flags, "bar.c", "-o", "libbar.so", cwd=out)
    run("emcc", "-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=_PyInit__ext", *flags, "ext.c",
        "libbar.so", "-o", "_ext.so", cwd=out)  # fmt: skip
    return {
        "libbar.so": (out / "libbar.so").read_bytes(),
        "_ext.so": (out / "_ext.so").read_bytes(),
    }


def _wheel(
    make_wheel: Callable[..., Path], modules: dict[str, bytes], layout: str, abi: str
) -> tuple[Path, str]:
    """The wheel of ``layout`` for ``abi``, and its extension module's member name."""
    members, runtime_path, _ = LAYOUTS[layout]
    dotted = PYTHON_FOR_ABI[abi]
    py = dotted.replace(".", "")
    ext = EXT.format(py=py)
    extension = modules["_ext.so"]
    if runtime_path:
        paths = [entry.format(dotted=dotted) for entry in runtime_path]
        extension = edit_wasm(extension, WasmChanges(runtime_path=paths))
    files = {"demo/__init__.py": b""}
    for member in members:
        files[ext if member == EXT else member] = (
            extension if member == EXT else modules["libbar.so"]
        )
    name = f"demo-1.0-cp{py}-cp{py}-{TAGS[abi]}.whl"
    return make_wheel(name, files, purelib=False), ext


@pytest.mark.parametrize("abi", sorted(TAGS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_check_flags_a_library_pyodide_does_not_search(
    make_wheel: Callable[..., Path], modules: dict[str, bytes], layout: str, abi: str
) -> None:
    wheel, ext = _wheel(make_wheel, modules, layout, abi)
    report = check_wheel(wheel)
    found = [f for f in report.findings if f.code == "unreachable-side-module"]
    if abi not in LAYOUTS[layout][2]:
        assert found == [] and not report.has_errors, report.findings
        return
    (finding,) = found
    assert finding.severity == "error" and finding.member == ext
    (copy,) = [m for m in LAYOUTS[layout][0] if m != EXT]
    assert f"needs libbar.so, which the wheel ships as {copy}, where Pyodide" in finding.message
    if abi == "2024_0":
        assert finding.hint.startswith("ship libbar.so in demo.libs/, at the top of the wheel")
    else:
        relative = {"demo": "", "demo/sub": "/sub", "demo.libs": "/../demo.libs"}
        entry = "$ORIGIN" + relative.get(copy.rsplit("/", 1)[0], "/../vendor")
        assert finding.hint.startswith(f"add {entry} to the module's dylink.0 RUNTIME_PATH")


def test_a_library_not_shipped_is_external_not_unreachable(
    make_wheel: Callable[..., Path], modules: dict[str, bytes]
) -> None:
    wheel = make_wheel(f"demo-1.0-cp313-cp313-{TAGS['2025_0']}.whl",
                       {EXT.format(py="313"): modules["_ext.so"]}, purelib=False)  # fmt: skip
    assert [f.code for f in check_wheel(wheel).findings] == ["external-library"]


def _loads_in_pyodide(abi: str, wheel: Path, tmp_path: Path) -> tuple[bool, str]:
    """Whether Pyodide installs the wheel (loading every .so in it), and what it said."""
    module = (pyodide_dist(abi) / "pyodide.mjs").as_uri()
    script = tmp_path / "load.mjs"
    script.write_text(
        f"import {{ loadPyodide }} from {json.dumps(module)};\n"
        "const pyodide = await loadPyodide();\n"
        "const errors = [];\n"
        f"await pyodide.loadPackage({json.dumps(str(wheel))},"
        " { messageCallback: () => {}, errorCallback: (m) => errors.push(m) });\n"
        "console.log(errors.length ? 'FAILED ' + errors.join(' | ') : 'LOADED');\n"
    )
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=180)
    output = result.stdout + result.stderr
    return result.returncode == 0 and result.stdout.strip().endswith("LOADED"), output


@pytest.mark.parametrize("abi", ["2024_0", "2025_0"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_verdict_is_what_real_pyodide_does(
    make_wheel: Callable[..., Path], modules: dict[str, bytes], layout: str, abi: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    wheel, _ = _wheel(make_wheel, modules, layout, abi)
    flagged = any(f.code == "unreachable-side-module" for f in check_wheel(wheel).findings)
    loads, output = _loads_in_pyodide(abi, wheel, tmp_path)
    assert loads is not flagged, output[-2000:]
    if flagged and abi == "2025_0":
        assert 'Failed to find dynamic library "libbar.so"' in output
