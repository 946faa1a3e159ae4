"""The system-library allowlists and manylinux policies, loaded from ``data/``."""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from omniwheel.datafiles import load_table
from omniwheel.platforms.data import parse_version


def _load(filename: str) -> dict[str, Any]:
    return load_table("omniwheel.audit", filename)


def system_libraries(section: str) -> tuple[str, ...]:
    """The fnmatch patterns of ``[section]`` in ``system_libraries.toml``."""
    return tuple(_load("system_libraries.toml")[section]["libraries"])


def android_libraries(api_level: int) -> tuple[str, ...]:
    """Android's NDK system libraries at ``api_level`` (later levels add a few)."""
    table = _load("system_libraries.toml")["android"]
    added = (names for level, names in table["since"].items() if int(level) <= api_level)
    return (*table["libraries"], *(name for names in added for name in names))


class ManylinuxPolicy(NamedTuple):
    name: str
    glibc: tuple[int, ...]
    libraries: tuple[str, ...]
    #: arch -> symbol-version prefix (GLIBC, GLIBCXX, CXXABI, GCC, ...) -> newest allowed
    symbol_versions: dict[str, dict[str, tuple[int, ...]]]


@cache
def manylinux_policies() -> tuple[ManylinuxPolicy, ...]:
    """Oldest first."""
    policies = [
        ManylinuxPolicy(
            name=name,
            glibc=parse_version(row["glibc"]),
            libraries=tuple(row["libraries"]),
            symbol_versions={
                arch: {prefix: parse_version(v) for prefix, v in caps.items()}
                for arch, caps in row.get("symbol_versions", {}).items()
            },
        )
        for name, row in _load("manylinux.json")["policies"].items()
    ]
    return tuple(sorted(policies, key=lambda policy: policy.glibc))


@cache
def manylinux_policy(glibc: tuple[int, ...]) -> ManylinuxPolicy | None:
    """The newest policy a ``manylinux_{glibc}`` tag promises, None below manylinux1."""
    fitting = [policy for policy in manylinux_policies() if policy.glibc <= glibc]
    return fitting[-1] if fitting else None


def architecture_floors(apple_platform: str) -> dict[str, tuple[int, ...]]:
    """arch -> the first release of ``apple_platform`` (macos, ios-simulator) on it."""
    floors = _load("apple.toml")["architecture_floor"].get(apple_platform, {})
    return {arch: parse_version(version) for arch, version in floors.items()}
