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
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.cli.main import main
from omniwheel.rewrite.codesign import verify_page_hashes
from omniwheel.rewrite.repair import repair_wheel
from test_rewrite_repair_macho import (
    BAR_C,
    BAR_INSTALL_NAME,
    BAZ_C,
    EXT_C,
    LC_ID_DYLIB,
    SIGN,
    TARGETS,
    Built,
    _link,
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

    assert re.fullmatch(r"demo/\.dylibs/libbar-[0-9a-f]{8}\.dylib", bar.member)
    # Named without the copies' content hash, so device and simulator frameworks pair up.
    frameworks = {
        name: f"Frameworks/{name}.framework/{name}"
        for name in (MODULE, "demo.dylibs.libbar", "demo.dylibs.libbaz")
    }
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


SIMULATOR_TAG = "ios_13_0_arm64_iphonesimulator"


@pytest.fixture(scope="module")
def simulator_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ext -> libbar -> libbaz chain again, linked for the arm64 simulator."""
    out = tmp_path_factory.mktemp("simulator")
    target = "arm64-apple-ios13.0-simulator"
    for name, text in (("baz.c", BAZ_C), ("bar.c", BAR_C), ("ext.c", EXT_C)):
        (out / name).write_text(text)
    pad = ("-Wl,-headerpad_max_install_names", *SIGN["ios"])
    baz = _link(out / "libbaz.dylib", target, "-dynamiclib", out / "baz.c",
                "-Wl,-install_name,@rpath/libbaz.dylib", *pad)  # fmt: skip
    bar = _link(out / "libbar.dylib", target, "-dynamiclib", out / "bar.c", baz,
                f"-Wl,-install_name,{BAR_INSTALL_NAME}", f"-Wl,-rpath,{out}", *pad)  # fmt: skip
    _link(out / "_ext.so", target, "-dynamiclib", out / "ext.c", bar, *pad)
    return out


def test_device_and_simulator_libraries_pair_up_in_xcframeworks(
    built: Built, simulator_chain: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    for tag, suffix, ext, libraries in (
        (TARGETS["ios"][2], "iphoneos", built["ios/ext"], built["ios/dir"]),
        (SIMULATOR_TAG, "iphonesimulator", simulator_chain / "_ext.so", simulator_chain),
    ):
        source = make_wheel(
            f"demo-1.0-cp313-cp313-{tag}.whl",
            {"demo/__init__.py": b"", f"demo/_ext.cpython-313-{suffix}.so": ext.read_bytes()},
            purelib=False,
        )
        repair_wheel(source, wheels, lib_path=[libraries])
    app = tmp_path / "app"
    command = ["install", "demo", "--find-links", str(wheels), "--no-index",
               "--platform", "ios", "--platform", "ios-simulator", "--python", "3.13",
               "--cache-dir", str(tmp_path / "cache"), "--into", str(app)]  # fmt: skip
    assert main(command) == 0
    for name in (MODULE, "demo.dylibs.libbar", "demo.dylibs.libbaz"):
        root = app / "Frameworks" / f"{name}.xcframework"
        info = plistlib.loads((root / "Info.plist").read_bytes())
        slices = sorted(library["LibraryIdentifier"] for library in info["AvailableLibraries"])
        assert slices == ["ios-arm64", "ios-arm64-simulator"], name
        for identifier in slices:
            binary = root / identifier / f"{name}.framework" / name
            assert verify_page_hashes(binary.read_bytes()) == [], binary
    # In each slice the module reaches libbar's framework as Xcode embeds it, side by side.
    for identifier in ("ios-arm64", "ios-arm64-simulator"):
        module = app / "Frameworks" / f"{MODULE}.xcframework" / identifier / f"{MODULE}.framework"
        [[to_bar]] = _macholib_names(module / MODULE)
        assert to_bar == "@loader_path/../demo.dylibs.libbar.framework/demo.dylibs.libbar"
