"""A repaired iOS wheel (copies in ``<package>/.dylibs``) installed in the ``ios-app`` layout.

iOS loads code only from frameworks, so the copies move to frameworks of their
own and the references of the moved module and libraries follow them. The
binaries are the clang-14/ld64.lld-14 chain of ``test_rewrite_repair_macho``
(extension → libbar → libbaz), vendored by ``repair``; llvm-otool-14 reads the
result, and every page hash of the re-signed files holds.
"""

from __future__ import annotations

import plistlib
import posixpath
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.cli.main import main
from omniwheel.rewrite.codesign import verify_page_hashes
from omniwheel.rewrite.repair import repair_wheel
from test_rewrite_repair_macho import (
    BAR_INSTALL_NAME,
    LC_ID_DYLIB,
    TARGETS,
    Built,
    _macholib_names,
    _otool_names,
)
from test_rewrite_repair_macho import built as built  # the session fixture, shared

pytestmark = pytest.mark.toolchain
MODULE = "demo._ext"


def _install(wheel: Path, app: Path, cache: Path) -> None:
    command = ["install", str(wheel), "--platform", "ios", "--python", "3.13", "--no-index",
               "--cache-dir", str(cache), "--into", str(app),
               "--app-id", "org.example.app"]  # fmt: skip
    assert main(command) == 0


def _resolve(app: Path, binary: str, name: str) -> str:
    """Where dyld finds ``name`` (``@loader_path/…``) loaded from ``binary`` (app-relative)."""
    assert name.startswith("@loader_path/"), name
    return posixpath.normpath(
        posixpath.join(posixpath.dirname(binary), name.removeprefix("@loader_path/"))
    )


def test_vendored_libraries_become_frameworks_the_module_still_reaches(
    built: Built, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    _, _, tag = TARGETS["ios"]
    member = "demo/_ext.cpython-313-iphoneos.so"
    source = make_wheel(
        f"demo-1.0-cp313-cp313-{tag}.whl",
        {"demo/__init__.py": b"", member: built["ios/ext"].read_bytes()},
        purelib=False,
    )
    report = repair_wheel(source, tmp_path / "repaired", lib_path=[built["ios/dir"]])
    bar, baz = report.vendored
    assert bar.name == BAR_INSTALL_NAME and bar.member and baz.member
    app = tmp_path / "app"
    _install(Path(report.output or ""), app, tmp_path / "cache")

    frameworks = {
        name: f"Frameworks/{name}.framework/{name}"
        for name in (MODULE, *(m.removesuffix(".dylib").replace("/.dylibs/", ".dylibs.")
                               for m in (bar.member, baz.member)))
    }  # fmt: skip
    module, bar_binary, baz_binary = frameworks.values()
    files = sorted(p.relative_to(app).as_posix() for p in app.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith((".dylib", ".so"))]  # all binaries moved
    for name, binary in frameworks.items():
        assert binary in files
        info = plistlib.loads((app / binary).parent.joinpath("Info.plist").read_bytes())
        assert info["CFBundleExecutable"] == name
        assert info["CFBundleIdentifier"] == f"org.example.app.{name}".replace("_", "-")
        assert verify_page_hashes((app / binary).read_bytes()) == [], binary
    # The module reaches libbar, libbar reaches libbaz, each through its framework.
    [[to_bar]] = _macholib_names(app / module)
    assert _resolve(app, module, to_bar) == bar_binary
    [[to_baz]] = _macholib_names(app / bar_binary)
    assert _resolve(app, bar_binary, to_baz) == baz_binary
    for library in (bar_binary, baz_binary):  # ids name the framework, as Xcode's do
        [[identity]] = _macholib_names(app / library, LC_ID_DYLIB)
        assert identity == "@rpath/" + library.removeprefix("Frameworks/")
    # llvm-otool-14 reads the edited files the same way.
    assert _otool_names(app / bar_binary)[1:] == [to_baz]
    # The module's .fwork still points CPython's loader at its framework.
    fwork = app / "app_packages" / member.replace(".so", ".fwork")
    assert fwork.read_text() == f"{module}\n"

    # Installing again (from the cached image) replaces the earlier install, files and all.
    _install(Path(report.output or ""), app, tmp_path / "cache")
    again = sorted(p.relative_to(app).as_posix() for p in app.rglob("*") if p.is_file())
    assert again == files
