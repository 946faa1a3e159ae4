"""Report-only repair: Emscripten (side modules, built with emcc).

Nothing is written for this family; the report names what would be vendored
(found in ``--lib-path``) and what is missing. Windows repair vendors for real:
``test_rewrite_repair_pe``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.build.finalize import finalize_wheel
from omniwheel.build.pep517 import BuildStepError
from omniwheel.cli.main import main
from omniwheel.platforms import parse_platform
from omniwheel.rewrite.repair import repair_wheel
from toolrun import run

pytestmark = pytest.mark.toolchain

BAR_WASM_C = "int bar_value(int x) { return x * 7; }\n"
FOO_WASM_C = """
extern int bar_value(int);
void *PyInit__ext(void) { return (void *)(long)bar_value(6); }
"""


def _wheel(make_wheel: Callable[..., Path], tag: str, python: str, ext: bytes) -> Path:
    platform = parse_platform(tag, python=python)
    cp = "cp" + python.replace(".", "")
    return make_wheel(
        f"demo-1.0-{cp}-{cp}-{tag}.whl",
        {f"demo/_ext{platform.family.extension_suffixes(platform)[0]}": ext},
        purelib=False,
    )


@pytest.fixture(scope="session")
def side_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("emcc") is None:
        pytest.skip("needs emcc")
    out = tmp_path_factory.mktemp("wasm-repair")
    (out / "bar.c").write_text(BAR_WASM_C)
    (out / "ext.c").write_text(FOO_WASM_C)
    flags = ("-O2", "-sWASM_BIGINT")
    run("emcc", "-sSIDE_MODULE=1", *flags, "bar.c", "-o", "libbar.so", cwd=out)
    run("emcc", "-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=_PyInit__ext", *flags, "ext.c",
        "libbar.so", "-o", "_ext.so", cwd=out)  # fmt: skip
    return out


def test_emscripten_reports_missing_side_modules(
    side_modules: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    ext = (side_modules / "_ext.so").read_bytes()
    source = _wheel(make_wheel, "pyemscripten_2025_0_wasm32", "3.13", ext)
    report = repair_wheel(source, tmp_path / "out")
    assert report.status == "report-only"
    assert [(lib.name, lib.needed_by) for lib in report.missing] == [
        ("libbar.so", ("demo/_ext.cpython-313-wasm32-emscripten.so",))
    ]
    found = repair_wheel(source, tmp_path / "out", lib_path=[side_modules])
    assert [(lib.name, lib.source) for lib in found.vendored] == [
        ("libbar.so", str(side_modules / "libbar.so"))
    ]


def test_report_only_cli_exit_status(
    side_modules: Path, make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ext = (side_modules / "_ext.so").read_bytes()
    source = _wheel(make_wheel, "pyemscripten_2025_0_wasm32", "3.13", ext)
    arguments = ["repair", str(source), "--lib-path", str(side_modules), "--json"]
    assert main([*arguments, "-w", str(tmp_path / "out")]) == 1  # found, yet still needed
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    assert entry["status"] == "report-only" and entry["patched"] == []
    assert [item["library"] for item in entry["vendored"]] == ["libbar.so"]
    assert not (tmp_path / "out").exists()


def test_build_fails_at_repair_on_a_side_module_it_cannot_vendor(
    side_modules: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """Found is not enough where repair only reports: the wheel would still not load."""
    tag = "pyemscripten_2025_0_wasm32"
    source = _wheel(make_wheel, tag, "3.13", (side_modules / "_ext.so").read_bytes())
    with pytest.raises(BuildStepError) as raised:
        finalize_wheel(source, parse_platform(tag, python="3.13"), [side_modules], tmp_path)
    assert raised.value.step == "repair"
    assert str(raised.value) == (
        f"repair: {source.name}: demo/_ext.cpython-313-wasm32-emscripten.so needs libbar.so, "
        f"which was found at {side_modules / 'libbar.so'} but repair cannot vendor into "
        "Emscripten (Pyodide) wheels: link it statically (a static_library recipe in "
        "requirements/host)"
    )
    assert list(tmp_path.rglob("*.whl")) == [source]  # nothing was written
