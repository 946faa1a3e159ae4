"""The platform value every other part of omniwheel is written against."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from omniwheel.platforms.data import format_version
from omniwheel.platforms.python import PythonTarget

if TYPE_CHECKING:
    from omniwheel.platforms.family import Family


@dataclass(frozen=True)
class Platform:
    """A target: OS family, architecture, minimum OS, variant and the Python it runs.

    ``min_os`` is the iOS version, Android API level, macOS version, glibc or musl
    version, or Emscripten version, depending on the family; ``None`` where the
    spelling did not say (``linux_x86_64``) or the family has none (Windows).
    ``abi`` is the Pyodide platform ABI (``"2026_0"``) for Emscripten targets.
    """

    family: Family
    arch: str
    min_os: tuple[int, ...] | None
    python: PythonTarget
    variant: str | None = None
    abi: str | None = None

    def with_python(self, python: PythonTarget) -> Platform:
        """The same platform for another Python; refused where the platform fixes it."""
        self.family.check_python(self, python)
        return replace(self, python=python)

    @property
    def architectures(self) -> tuple[str, ...]:
        """The CPU slices a binary needs here (two for a universal2 macOS target)."""
        return self.family.architectures(self)

    @property
    def wheel_tag(self) -> str:
        return self.family.wheel_tag(self)

    @property
    def sysconfig_platform(self) -> str:
        return self.family.sysconfig_platform(self)

    @property
    def uv_triple(self) -> str | None:
        return self.family.uv_triple(self)

    @property
    def short_name(self) -> str:
        return self.family.short_name(self)

    def __str__(self) -> str:
        return self.short_name

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.short_name,
            "family": self.family.name,
            "arch": self.arch,
            "architectures": list(self.architectures),
            "min_os": None if self.min_os is None else format_version(self.min_os),
            "variant": self.variant,
            "abi": self.abi,
            "python": str(self.python),
            "wheel_tag": self.wheel_tag,
            "sysconfig_platform": self.sysconfig_platform,
            "uv_triple": self.uv_triple,
        }
