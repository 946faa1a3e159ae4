"""iOS: wheels for iPhone devices and simulators, built with clang and ld64.lld.

Without Xcode, the SDK's missing pieces come from pip's ``ziglang`` wheel:
Apple's C headers and libSystem's text stub, rewritten to state the target
(ld64.lld refuses a stub for another platform). Extensions link the app's
Python.framework by ``@rpath`` as real iOS wheels do, through a text stub
listing the C API the build interpreter's libpython exports (the same minor
version exports the same API on every platform).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from omniwheel.build.pythons import BuildPython, python_exports, python_library
from omniwheel.build.toolchains.base import Missing
from omniwheel.build.toolchains.clang import ClangToolchain
from omniwheel.errors import UsageError
from omniwheel.platforms import Platform
from omniwheel.platforms.data import format_version

SIMULATOR = "iphonesimulator"
_TBD_TARGETS = re.compile(r"targets:(\s*)\[[^\]]*\]")


def triple(platform: Platform) -> str:
    """The target triple without a version: ``arm64-apple-ios``, ``…-ios-simulator``."""
    suffix = "-simulator" if platform.variant == SIMULATOR else ""
    return f"{platform.arch}-apple-ios{suffix}"


def tbd_target(platform: Platform) -> str:
    """The platform as a text stub (.tbd v4) names it: ``arm64-ios``, ``x86_64-ios-simulator``."""
    suffix = "-simulator" if platform.variant == SIMULATOR else ""
    return f"{platform.arch}-ios{suffix}"


def retarget_tbd(text: str, target: str) -> str:
    """A text stub whose every ``targets:`` list names ``target`` alone, symbols kept."""
    return _TBD_TARGETS.sub(lambda match: f"targets:{match[1]}[ {target} ]", text)


def guard_float16(text: str) -> str:
    """``text`` with each run of lines naming ``_Float16`` declared only where clang has it.

    Apple's headers declare half-precision functions unconditionally, for a clang
    that has ``_Float16`` on every target; clang-14 lacks it on x86_64, and defines
    ``__FLT16_MAX__`` exactly where it has it.
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    inside = False
    for line in lines:
        uses = "_Float16" in line
        if uses and not inside:
            out.append("#ifdef __FLT16_MAX__\n")
        elif inside and not uses:
            out.append("#endif\n")
        inside = uses
        out.append(line)
    if inside:
        out.append("#endif\n")
    return "".join(out)


def python_tbd(symbols: list[str], install_name: str, target: str) -> str:
    """A text stub of the target's Python: ``install_name`` exporting ``symbols`` (C names)."""
    listed = ", ".join(f"'_{symbol}'" for symbol in symbols)
    return (
        "--- !tapi-tbd\ntbd-version: 4\n"
        f"targets: [ {target} ]\ninstall-name: '{install_name}'\n"
        f"exports:\n  - targets: [ {target} ]\n    symbols: [ {listed} ]\n...\n"
    )


def ziglang_home() -> Path | None:
    """The installed ``ziglang`` package's directory, if any."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


class IOSToolchain(ClangToolchain):
    family = "ios"
    links_python = True

    def __init__(self, sdk: Path | None = None) -> None:
        variable = self.settings["sdk_variable"]
        given = sdk or (Path(os.environ[variable]) if os.environ.get(variable) else None)
        if given is not None and not (given / "usr" / "include").is_dir():
            source = "--sdk" if sdk is not None else variable
            raise UsageError(
                f"{source} {given}: not an iOS SDK (no usr/include); pass an iPhoneOS.sdk "
                "or iPhoneSimulator.sdk directory"
            )
        self.sdk = given

    def drivers(self, platform: Platform) -> dict[str, str]:
        return {**super().drivers(platform), "ld": self.settings["ld"]}

    def _xcode_sdk(self, platform: Platform) -> Path | None:
        """Xcode's SDK for the platform's variant, when ``xcrun`` knows one."""
        if shutil.which("xcrun") is None:
            return None
        found = subprocess.run(
            ["xcrun", "--sdk", platform.variant or "iphoneos", "--show-sdk-path"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        path = Path(found.stdout.strip())
        return path if found.returncode == 0 and path.is_dir() else None

    def real_sdk(self, platform: Platform) -> Path | None:
        """An SDK given or found (Xcode's); ``None`` means one is assembled from ziglang."""
        return self.sdk or self._xcode_sdk(platform)

    def sysroot(self, platform: Platform, root: Path) -> Path:
        return self.real_sdk(platform) or root / "sdk"

    def missing_sdk(self, platform: Platform) -> list[Missing]:
        if self.real_sdk(platform) is not None or ziglang_home() is not None:
            return []
        return [Missing("an iOS SDK", self.settings["sdk_hint"])]

    def target_flags(self, platform: Platform, root: Path) -> list[str]:
        assert platform.min_os is not None
        version = format_version(platform.min_os)
        clang_target = triple(platform).replace("-ios", f"-ios{version}", 1)
        return ["-target", clang_target, "-isysroot", str(self.sysroot(platform, root))]

    def shared_ldflags(self, platform: Platform, root: Path) -> list[str]:
        return [*super().shared_ldflags(platform, root), str(root / "lib" / "Python.tbd")]

    def identity_parts(self, platform: Platform) -> list[str]:
        parts = super().identity_parts(platform)
        sdk = self.real_sdk(platform)
        if sdk is not None:
            parts.append(f"sdk {sdk.resolve()}")
        else:
            home = ziglang_home()
            assert home is not None  # missing_sdk() reported it otherwise
            parts.append(f"ziglang {metadata.version('ziglang')} {home}")
        return parts

    def format_fields(self, platform: Platform, python: BuildPython) -> dict[str, str]:
        return {**super().format_fields(platform, python), "triple": triple(platform)}

    def write_platform_files(self, platform: Platform, python: BuildPython, root: Path) -> None:
        target = tbd_target(platform)
        library = python_library(python)
        assert library is not None  # missing() reported it otherwise
        symbols = python_exports(library, self.settings["nm"])
        stub = python_tbd(symbols, self.settings["python_install_name"], target)
        (root / "lib" / "Python.tbd").write_text(stub)
        if self.real_sdk(platform) is None:
            self._assemble_sdk(root / "sdk", target)

    def _assemble_sdk(self, sdk: Path, target: str) -> None:
        """An SDK of ziglang's Apple headers and a libSystem stub stating ``target``."""
        home = ziglang_home()
        assert home is not None  # missing_sdk() reported it otherwise
        if sdk.exists():
            shutil.rmtree(sdk)
        (sdk / "usr" / "lib").mkdir(parents=True)
        include = sdk / "usr" / "include"
        include.mkdir()
        headers = home / self.settings["ziglang_headers"]
        guarded = self.settings["float16_guarded"]
        for entry in headers.iterdir():
            if entry.name in guarded:
                (include / entry.name).write_text(guard_float16(entry.read_text()))
            else:
                (include / entry.name).symlink_to(entry)
        libsystem = (home / self.settings["ziglang_libsystem"]).read_text()
        (sdk / "usr" / "lib" / "libSystem.tbd").write_text(retarget_tbd(libsystem, target))
