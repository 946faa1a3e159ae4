"""``repair`` makes a side module reach the library its wheel ships where Pyodide does not look.

The wheels are those of ``test_audit_emscripten`` (real emcc side modules, the
library placed each way that matters). For every layout ``check`` flags on an ABI
whose Pyodide reads RUNTIME_PATH, repair adds the ``$ORIGIN`` entry the audit's
hint names and the result passes ``check``; real Pyodide 0.29.5 under Node then
loads one of them. Pyodide 0.27 ignores RUNTIME_PATH, so there repair refuses
(the library would have to move).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.audit import check_wheel
from omniwheel.binaries.wasm import WasmModule, parse_wasm
from omniwheel.rewrite.repair import RepairError, repair_wheel
from omniwheel.wheel import Wheel
from test_audit_emscripten import LAYOUTS, _loads_in_pyodide, _wheel
from test_audit_emscripten import modules as modules  # the session fixture, shared

pytestmark = pytest.mark.toolchain

# layout -> the RUNTIME_PATH entry repair writes (from demo/, where the extension lives)
ENTRIES = {
    "beside, library first": "$ORIGIN",
    "beside": "$ORIGIN",
    "below the module": "$ORIGIN/sub",
    "dist.libs": "$ORIGIN/../demo.libs",
    "elsewhere, library first": "$ORIGIN/../vendor",
    "elsewhere": "$ORIGIN/../vendor",
}


def _flagged(abi: str) -> list[str]:
    return [layout for layout, (_, _, abis) in LAYOUTS.items() if abi in abis]


@pytest.mark.parametrize(
    ("abi", "layout"), [(abi, layout) for abi in ("2025_0", "2026_0") for layout in _flagged(abi)]
)
def test_repair_adds_the_runtime_path_check_asks_for(
    make_wheel: Callable[..., Path], modules: dict[str, bytes], abi: str, layout: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    wheel, ext = _wheel(make_wheel, modules, layout, abi)
    assert {f.code for f in check_wheel(wheel).findings} == {"unreachable-side-module"}
    report = repair_wheel(wheel, tmp_path / "out")
    assert report.status == "repaired" and report.vendored == []
    assert report.check is not None and report.check.findings == []
    (rewrite,) = report.rewritten
    assert (rewrite.member, rewrite.references, rewrite.search_path) == (ext, {}, ENTRIES[layout])
    assert report.output is not None
    repaired = Path(report.output)
    assert check_wheel(repaired).findings == []  # read back from disk, judged afresh
    with Wheel.open(repaired) as result:
        module = parse_wasm(result.read_bytes(ext))
    assert isinstance(module, WasmModule) and module.dylink is not None
    assert module.needed == ("libbar.so",)
    assert module.dylink.runtime_path == (ENTRIES[layout],)


def test_repair_refuses_what_only_moving_the_library_fixes_on_pyodide_027(
    make_wheel: Callable[..., Path], modules: dict[str, bytes], tmp_path: Path
) -> None:
    wheel, _ = _wheel(make_wheel, modules, "elsewhere", "2024_0")
    with pytest.raises(RepairError, match=r"would fail check \(unreachable-side-module in demo/"):
        repair_wheel(wheel, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_real_pyodide_029_loads_the_repaired_wheel(
    make_wheel: Callable[..., Path], modules: dict[str, bytes], tmp_path: Path
) -> None:
    wheel, _ = _wheel(make_wheel, modules, "elsewhere", "2025_0")
    loads, output = _loads_in_pyodide("2025_0", wheel, tmp_path)
    assert not loads and 'Failed to find dynamic library "libbar.so"' in output
    report = repair_wheel(wheel, tmp_path / "out")
    assert report.output is not None
    loads, output = _loads_in_pyodide("2025_0", Path(report.output), tmp_path)
    assert loads, output[-2000:]
