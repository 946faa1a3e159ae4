"""Cross toolchains, one module per platform family behind ``Toolchain``."""

from __future__ import annotations

from omniwheel.build.toolchains.base import CrossTarget, Missing, RecipeEnvironment, Toolchain
from omniwheel.build.toolchains.emscripten import EmscriptenToolchain
from omniwheel.errors import UsageError
from omniwheel.platforms import Platform

TOOLCHAINS: dict[str, Toolchain] = {"emscripten": EmscriptenToolchain()}


def toolchain_for(platform: Platform) -> Toolchain:
    """The toolchain that builds for ``platform``'s family; refused up front when there is none."""
    toolchain = TOOLCHAINS.get(platform.family.name)
    if toolchain is None:
        raise UsageError(
            f"building for {platform.family.name} ({platform.wheel_tag}) is not supported yet: "
            f"omniwheel build has toolchains for {', '.join(TOOLCHAINS)}"
        )
    return toolchain


__all__ = [
    "TOOLCHAINS",
    "CrossTarget",
    "Missing",
    "RecipeEnvironment",
    "Toolchain",
    "toolchain_for",
]
