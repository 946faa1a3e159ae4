"""All families, and turning any platform spelling into a Platform."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from omniwheel.errors import UsageError
from omniwheel.platforms.android import Android
from omniwheel.platforms.emscripten import Emscripten
from omniwheel.platforms.family import Family
from omniwheel.platforms.ios import IOS
from omniwheel.platforms.macos import MacOS
from omniwheel.platforms.manylinux import ManyLinux
from omniwheel.platforms.model import Platform
from omniwheel.platforms.musllinux import MuslLinux
from omniwheel.platforms.python import PythonTarget
from omniwheel.platforms.windows import Windows

FAMILIES: tuple[Family, ...] = (
    IOS(),
    Android(),
    Emscripten(),
    MacOS(),
    ManyLinux(),
    MuslLinux(),
    Windows(),
)


def family_named(name: str) -> Family:
    for family in FAMILIES:
        if family.name == name:
            return family
    names = ", ".join(family.name for family in FAMILIES)
    raise UsageError(f"unknown platform family {name!r}: choose one of {names}")


def _parsers(family: Family) -> tuple[Callable[[str], Platform | None], ...]:
    return (
        family.parse_short_name,
        family.parse_wheel_tag,
        family.parse_sysconfig,
        family.parse_triple,
    )


def parse_platform(text: str, python: PythonTarget | str | None = None) -> Platform:
    """Any spelling: short name, wheel tag, ``sysconfig`` string or uv triple.

    ``python`` replaces the platform's default Python (and is refused where the
    platform fixes it, as each Pyodide ABI does).
    """
    spelling = text.strip().lower()
    for family in FAMILIES:
        for parser in _parsers(family):
            platform = parser(spelling)
            if platform is not None:
                if python is None:
                    return platform
                target = python if isinstance(python, PythonTarget) else PythonTarget.parse(python)
                return platform.with_python(target)
    raise UsageError(_unknown_message(text))


@cache
def known_spellings() -> tuple[str, ...]:
    """Every short name plus each named platform's tag, sysconfig string and triple."""
    spellings: dict[str, None] = {}
    for family in FAMILIES:
        for name, platform in family.named_platforms().items():
            spellings[name] = None
            for other in (platform.wheel_tag, platform.sysconfig_platform, platform.uv_triple):
                if other:
                    spellings[other] = None
    return tuple(spellings)


def _unknown_message(text: str) -> str:
    import difflib  # only on this error path: every command parses platforms

    close = difflib.get_close_matches(text.strip().lower(), known_spellings(), n=4, cutoff=0.6)
    if not close:
        close = [next(iter(family.named_platforms())) for family in FAMILIES]
    return (
        f"unknown platform {text!r}: closest valid names are {', '.join(close)} "
        "(`omniwheel platforms` lists them all)"
    )
