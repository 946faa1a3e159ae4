"""The interface each platform family implements, one module per family.

A family owns every spelling of its platforms (wheel tags, ``sysconfig``
strings, uv triples, short names), the platform tags its installers accept,
and the OS-level marker values its interpreter reports. Shared logic (short
names with ``@version`` suffixes, the Python check) lives here once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from typing import ClassVar

from omniwheel.errors import UsageError
from omniwheel.platforms.data import default_python, format_version, parse_version
from omniwheel.platforms.model import Platform
from omniwheel.platforms.python import PythonTarget

_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


class Family(ABC):
    """Rules for one family of platforms (iOS, Android, Emscripten, ...)."""

    name: ClassVar[str]
    title: ClassVar[str]
    sys_platform: ClassVar[str]
    platform_system: ClassVar[str]
    os_name: ClassVar[str] = "posix"
    #: What ``min_os`` means for this family, for help and tables.
    min_os_meaning: ClassVar[str]

    def __repr__(self) -> str:
        return f"<family {self.name}>"

    # -- spellings --------------------------------------------------------------------
    @abstractmethod
    def parse_wheel_tag(self, tag: str) -> Platform | None:
        """The platform a wheel platform tag names, or None if the tag is not this family's."""

    @abstractmethod
    def parse_sysconfig(self, text: str) -> Platform | None:
        """The platform a ``sysconfig.get_platform()`` string names, or None."""

    def parse_triple(self, text: str) -> Platform | None:
        """The platform a uv ``--python-platform`` triple names, or None."""
        return None

    @abstractmethod
    def named_platforms(self) -> dict[str, Platform]:
        """Short names, first the canonical one of each platform, then aliases."""

    @abstractmethod
    def wheel_tag(self, platform: Platform) -> str:
        """The wheel platform tag of exactly this platform (its minimum OS)."""

    @abstractmethod
    def sysconfig_platform(self, platform: Platform) -> str:
        """What ``sysconfig.get_platform()`` returns on this platform."""

    def uv_triple(self, platform: Platform) -> str | None:
        """uv's ``--python-platform`` value, where uv has one."""
        return None

    def short_name(self, platform: Platform) -> str:
        """The canonical short name, with ``@min_os`` when it is not the default."""
        for name, named in self.named_platforms().items():
            if (named.arch, named.variant, named.abi) == (
                platform.arch,
                platform.variant,
                platform.abi,
            ):
                if named.min_os == platform.min_os:
                    return name
                if platform.min_os is not None and self.accepts_min_os_suffix:
                    return f"{name}@{format_version(platform.min_os)}"
        return self.wheel_tag(platform)

    #: Whether ``name@version`` may override the minimum OS of a short name.
    accepts_min_os_suffix: ClassVar[bool] = True

    def parse_short_name(self, text: str) -> Platform | None:
        """``ios``, ``android-arm64@30``, ``manylinux-aarch64@2.34``, ..."""
        name, _, version = text.partition("@")
        named = self.named_platforms().get(name)
        if named is None:
            return None
        if not version:
            return named
        if not self.accepts_min_os_suffix:
            raise UsageError(f"platform {text!r}: {name} takes no @version suffix")
        if not _VERSION.match(version):
            raise UsageError(
                f"platform {text!r}: {version!r} is not a version; "
                f"write the {self.min_os_meaning} like {name}@{self.example_min_os}"
            )
        return replace(named, min_os=self.normalise_min_os(parse_version(version)))

    @property
    def example_min_os(self) -> str:
        first = next(iter(self.named_platforms().values()))
        return format_version(first.min_os or (1, 0))

    def normalise_min_os(self, version: tuple[int, ...]) -> tuple[int, ...]:
        """Pad or check a user-given minimum (``@15`` → ``(15, 0)`` for Apple versions)."""
        return (*version, 0) if len(version) == 1 else version[:2]

    # -- tags and markers ---------------------------------------------------------------
    @abstractmethod
    def platform_tags(self, platform: Platform) -> Iterator[str]:
        """Platform tags an installer on this platform accepts, most preferred first."""

    def architectures(self, platform: Platform) -> tuple[str, ...]:
        return (platform.arch,)

    @abstractmethod
    def platform_machine(self, platform: Platform) -> str:
        """``platform.machine()`` as the target reports it."""

    def platform_release(self, platform: Platform) -> str:
        """``platform.release()`` on the target; empty where it cannot be known statically."""
        return ""

    def platform_version(self, platform: Platform) -> str:
        """``platform.version()`` on the target: a kernel build string nobody can predict."""
        return ""

    @abstractmethod
    def soabi_platform(self, platform: Platform) -> str:
        """The platform part of the target's SOABI (``x86_64-linux-gnu``, ``iphoneos``)."""

    def extension_suffixes(self, platform: Platform) -> tuple[str, ...]:
        """``importlib.machinery.EXTENSION_SUFFIXES`` of the target interpreter, best first.

        Free-threaded builds before the 3.15 ``abi3t`` ABI load no stable-ABI modules.
        """
        python = platform.python
        version = f"{python.version[0]}{python.version[1]}{'t' if python.free_threaded else ''}"
        stable = () if python.free_threaded else (".abi3.so",)
        return (f".cpython-{version}-{self.soabi_platform(platform)}.so", *stable, ".so")

    # -- Python ---------------------------------------------------------------------------
    def default_python(self, arch: str, abi: str | None) -> PythonTarget:
        return default_python()

    def check_python(self, platform: Platform, python: PythonTarget) -> None:
        """Refuse a Python the platform cannot run; most families run any CPython."""
        return None

    def make(
        self,
        arch: str,
        min_os: tuple[int, ...] | None,
        variant: str | None = None,
        abi: str | None = None,
    ) -> Platform:
        """A platform of this family with its default Python."""
        return Platform(self, arch, min_os, self.default_python(arch, abi), variant, abi)
