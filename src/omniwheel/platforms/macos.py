"""macOS: thin and multi-architecture (universal2, intel, ...) targets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from packaging.tags import mac_platforms

from omniwheel.platforms.data import default_minimum, load
from omniwheel.platforms.family import Family
from omniwheel.platforms.model import Platform

_THIN = ("arm64", "x86_64", "i386", "ppc", "ppc64")


@cache
def _multi_arch_formats() -> dict[str, tuple[str, ...]]:
    return {name: tuple(archs) for name, archs in load("macos")["formats"].items()}


def _arch_pattern() -> str:
    return "|".join(sorted((*_THIN, *_multi_arch_formats()), key=len, reverse=True))


_TAG = re.compile(rf"^macosx_(\d+)_(\d+)_({_arch_pattern()})$")
_SYSCONFIG = re.compile(rf"^macosx-(\d+)\.(\d+)-({_arch_pattern()})$")
_TRIPLE = re.compile(r"^(aarch64|arm64|x86_64)-apple-(?:darwin|macos|macosx)$")
_TRIPLE_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}


class MacOS(Family):
    name = "macos"
    title = "macOS"
    sys_platform = "darwin"
    platform_system = "Darwin"
    min_os_meaning = "minimum macOS version"

    def _minimum(self, arch: str) -> tuple[int, ...]:
        return default_minimum("macos_arm64" if arch == "arm64" else "macos_x86_64")

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        match = _TAG.match(tag)
        return self.make(match[3], (int(match[1]), int(match[2]))) if match else None

    def parse_sysconfig(self, text: str) -> Platform | None:
        match = _SYSCONFIG.match(text)
        return self.make(match[3], (int(match[1]), int(match[2]))) if match else None

    def parse_triple(self, text: str) -> Platform | None:
        match = _TRIPLE.match(text)
        if match is None:
            return None
        arch = "arm64" if match[1] == "aarch64" else match[1]
        return self.make(arch, self._minimum(arch))

    @cache  # noqa: B019 - families are process-wide singletons
    def named_platforms(self) -> dict[str, Platform]:
        arm64 = self.make("arm64", self._minimum("arm64"))
        return {
            "macos": arm64,
            "macos-x86_64": self.make("x86_64", self._minimum("x86_64")),
            "macos-universal2": self.make("universal2", self._minimum("universal2")),
            "macos-arm64": arm64,
        }

    def wheel_tag(self, platform: Platform) -> str:
        major, minor = self._version(platform)
        return f"macosx_{major}_{minor}_{platform.arch}"

    def sysconfig_platform(self, platform: Platform) -> str:
        major, minor = self._version(platform)
        return f"macosx-{major}.{minor}-{platform.arch}"

    def uv_triple(self, platform: Platform) -> str | None:
        cpu = _TRIPLE_ARCH.get(platform.arch)
        return f"{cpu}-apple-darwin" if cpu else None

    def architectures(self, platform: Platform) -> tuple[str, ...]:
        return _multi_arch_formats().get(platform.arch, (platform.arch,))

    def platform_tags(self, platform: Platform) -> Iterator[str]:
        # packaging with arch="universal2" yields only universal2 tags: exactly the
        # wheels that carry both slices a universal2 app needs.
        return mac_platforms(self._version(platform), platform.arch)

    def soabi_platform(self, platform: Platform) -> str:
        return "darwin"

    def platform_machine(self, platform: Platform) -> str:
        # A multi-architecture target runs natively on each of its slices; markers
        # are evaluated for the first (arm64 for universal2).
        return self.architectures(platform)[0]

    def platform_release(self, platform: Platform) -> str:
        # platform.release() is the Darwin kernel release of the minimum macOS:
        # 10.x -> x+4, 11..15 -> major+9, and from macOS 26 (Darwin 25) major-1.
        major, minor = self._version(platform)
        if major == 10:
            darwin = minor + 4
        elif major < 26:
            darwin = major + 9
        else:
            darwin = major - 1
        return f"{darwin}.0.0"

    @staticmethod
    def _version(platform: Platform) -> tuple[int, int]:
        assert platform.min_os is not None, "macOS platforms always carry a minimum version"
        return platform.min_os[0], platform.min_os[1]
