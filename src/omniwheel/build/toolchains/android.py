"""Android: wheels built with the Android NDK's clang, when one is installed.

The NDK comes from ``--sdk``, ``$ANDROID_NDK_HOME`` or ``$ANDROID_NDK_ROOT``;
none can be installed from the registries this project uses, so without one a
build is refused up front. Extensions link ``libpython3.X.so`` as CPython's
Android build links them, through a stub library built at prepare time that
defines the C API the build interpreter's libpython exports.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from omniwheel.build.pythons import BuildPython, python_exports, python_library
from omniwheel.build.toolchains.base import Missing
from omniwheel.build.toolchains.clang import ClangToolchain
from omniwheel.errors import UsageError
from omniwheel.platforms import Platform


def ndk_bin(ndk: Path) -> Path | None:
    """``toolchains/llvm/prebuilt/<host>/bin`` of an NDK, if it has one."""
    found = sorted((ndk / "toolchains" / "llvm" / "prebuilt").glob("*/bin/clang"))
    return found[0].parent if found else None


class AndroidToolchain(ClangToolchain):
    family = "android"
    links_python = True

    def __init__(self, sdk: Path | None = None) -> None:
        source, ndk = "--sdk", sdk
        for variable in self.settings["ndk_variables"]:
            if ndk is None and os.environ.get(variable):
                source, ndk = variable, Path(os.environ[variable])
        if ndk is not None and ndk_bin(ndk) is None:
            raise UsageError(
                f"{source} {ndk}: not an Android NDK (no toolchains/llvm/prebuilt/*/bin/clang)"
            )
        self.ndk = ndk

    def drivers(self, platform: Platform) -> dict[str, str]:
        names = super().drivers(platform)
        bin_dir = ndk_bin(self.ndk) if self.ndk is not None else None
        if bin_dir is None:
            return names
        return {role: str(bin_dir / name) for role, name in names.items()}

    def missing_drivers(self, platform: Platform) -> list[Missing]:
        if self.ndk is None:  # every driver is the NDK's: say so once
            return [Missing("the Android NDK", self.settings["hint"])]
        return super().missing_drivers(platform)

    def missing_sdk(self, platform: Platform) -> list[Missing]:
        if platform.arch in self.settings["triples"]:
            return []
        return [Missing(f"{platform.wheel_tag}: a 32-bit Android ABI", "not supported yet")]

    def _triple(self, platform: Platform) -> str:
        return str(self.settings["triples"][platform.arch])

    def target_flags(self, platform: Platform, root: Path) -> list[str]:
        api = platform.min_os[0] if platform.min_os else 24
        return [f"--target={self._triple(platform)}{api}"]

    def format_fields(self, platform: Platform, python: BuildPython) -> dict[str, str]:
        return {**super().format_fields(platform, python), "triple": self._triple(platform)}

    def sysconfig_values(self, platform: Platform, python: BuildPython) -> dict[str, Any]:
        level = platform.min_os[0] if platform.min_os else 24
        return {**super().sysconfig_values(platform, python), "ANDROID_API_LEVEL": level}

    def shared_ldflags(self, platform: Platform, root: Path) -> list[str]:
        return [f"-L{root / 'lib'}", f"-lpython{platform.python.dotted}"]

    def write_platform_files(self, platform: Platform, python: BuildPython, root: Path) -> None:
        """``lib/libpython3.X.so``: a stub defining the C API, for extensions to link."""
        library = python_library(python)
        assert library is not None  # missing() reported it otherwise
        drivers = self.drivers(platform)
        symbols = python_exports(library, drivers["nm"])
        source = root / "libpython-stub.c"
        source.write_text("".join(f"void {symbol}(void) {{}}\n" for symbol in symbols))
        name = f"libpython{python.dotted}.so"
        subprocess.run(
            [drivers["cc"], *self.target_flags(platform, root), "-shared", "-nostdlib",
             f"-Wl,-soname,{name}", str(source), "-o", str(root / "lib" / name)],
            check=True, capture_output=True,
        )  # fmt: skip
