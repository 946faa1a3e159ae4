"""Cross toolchains, one module per platform family behind ``Toolchain``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from omniwheel.build.toolchains.android import AndroidToolchain
from omniwheel.build.toolchains.base import CrossTarget, Missing, RecipeEnvironment, Toolchain
from omniwheel.build.toolchains.emscripten import EmscriptenToolchain
from omniwheel.build.toolchains.ios import IOSToolchain
from omniwheel.errors import UsageError
from omniwheel.platforms import Platform


def _emscripten(sdk: Path | None) -> Toolchain:
    if sdk is not None:
        raise UsageError(f"--sdk {sdk}: Emscripten's drivers are taken from PATH; drop --sdk")
    return EmscriptenToolchain()


# Each family's toolchain, made for one build run from the SDK given with --sdk (if any).
TOOLCHAINS: dict[str, Callable[[Path | None], Toolchain]] = {
    "emscripten": _emscripten,
    "ios": IOSToolchain,
    "android": AndroidToolchain,
}


def toolchain_for(platform: Platform, sdk: Path | None = None) -> Toolchain:
    """The toolchain that builds for ``platform``'s family; refused up front when there is none.

    ``sdk`` is the platform's SDK: an iOS SDK directory or an Android NDK.
    """
    make = TOOLCHAINS.get(platform.family.name)
    if make is None:
        raise UsageError(
            f"building for {platform.family.name} ({platform.wheel_tag}) is not supported yet: "
            f"omniwheel build has toolchains for {', '.join(TOOLCHAINS)}"
        )
    return make(sdk)


__all__ = [
    "TOOLCHAINS",
    "CrossTarget",
    "Missing",
    "RecipeEnvironment",
    "Toolchain",
    "toolchain_for",
]
