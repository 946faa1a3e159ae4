"""Report-only repair: Windows (PE, built with MinGW-w64).

Nothing is written for this family; the report names what would be vendored
(found in ``--lib-path``) and what is missing, system DLLs never among them.
Emscripten side modules are vendored: tests/test_rewrite_repair_wasm.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.cli.main import main
from omniwheel.platforms import parse_platform
from omniwheel.rewrite.repair import repair_wheel
from toolrun import run

pytestmark = pytest.mark.toolchain

FOO_C = "__declspec(dllexport) int foo_value(void) { return 42; }\n"
EXT_C = """
#include <windows.h>
extern int foo_value(void);
__declspec(dllexport) void *PyInit__ext(void) {
    return (void *)(long long)(foo_value() + GetTickCount());
}
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
def mingw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("x86_64-w64-mingw32-gcc") is None:
        pytest.skip("needs gcc-mingw-w64-x86-64")
    out = tmp_path_factory.mktemp("pe-repair")
    (out / "foo.c").write_text(FOO_C)
    (out / "ext.c").write_text(EXT_C)
    gcc = "x86_64-w64-mingw32-gcc"
    run(gcc, "-O2", "-s", "-shared", "foo.c", "-o", "Foo.dll", "-Wl,--out-implib,libfoo.a", cwd=out)
    run(gcc, "-O2", "-s", "-shared", "ext.c", "-o", "_ext.pyd", "-L.", "-lfoo", cwd=out)
    return out


def test_windows_reports_what_would_be_vendored(
    mingw: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    source = _wheel(make_wheel, "win_amd64", "3.13", (mingw / "_ext.pyd").read_bytes())
    report = repair_wheel(source, tmp_path / "out", lib_path=[mingw])
    assert report.status == "report-only" and report.output is None
    # The import says Foo.dll; the finder matches it case-insensitively, as Windows does.
    assert [(lib.name, lib.source, lib.member) for lib in report.vendored] == [
        ("Foo.dll", str(mingw / "Foo.dll"), None)
    ]
    assert report.missing == []
    assert not (tmp_path / "out").exists()

    elsewhere = repair_wheel(source, tmp_path / "out", lib_path=[tmp_path])
    assert [lib.name for lib in elsewhere.missing] == ["Foo.dll"]  # KERNEL32, msvcrt: system


def test_windows_cli_exit_status(
    mingw: Path, make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source = _wheel(make_wheel, "win_amd64", "3.13", (mingw / "_ext.pyd").read_bytes())
    assert main(["repair", str(source), "--lib-path", str(mingw), "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    assert entry["status"] == "report-only"
    assert [item["library"] for item in entry["vendored"]] == ["Foo.dll"]
