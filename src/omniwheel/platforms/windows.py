"""Windows: one platform tag per architecture, no OS minimum in the tag."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from omniwheel.platforms.family import Family
from omniwheel.platforms.model import Platform

# arch (the wheel tag's spelling) -> (wheel tag, sysconfig, uv triple, platform.machine())
_ARCHES = {
    "amd64": ("win_amd64", "win-amd64", "x86_64-pc-windows-msvc", "AMD64"),
    "arm64": ("win_arm64", "win-arm64", "aarch64-pc-windows-msvc", "ARM64"),
    "win32": ("win32", "win32", "i686-pc-windows-msvc", "x86"),
}
_WHEEL_TAG, _SYSCONFIG, _TRIPLE, _MACHINE = range(4)


class Windows(Family):
    name = "windows"
    title = "Windows"
    sys_platform = "win32"
    platform_system = "Windows"
    os_name = "nt"
    min_os_meaning = "(none: Windows tags carry no version)"
    accepts_min_os_suffix = False

    def _lookup(self, column: int, text: str) -> Platform | None:
        for arch, spellings in _ARCHES.items():
            if spellings[column] == text:
                return self.make(arch, None)
        return None

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        return self._lookup(_WHEEL_TAG, tag)

    def parse_sysconfig(self, text: str) -> Platform | None:
        return self._lookup(_SYSCONFIG, text)

    def parse_triple(self, text: str) -> Platform | None:
        return self._lookup(_TRIPLE, text)

    @cache  # noqa: B019 - families are process-wide singletons
    def named_platforms(self) -> dict[str, Platform]:
        amd64 = self.make("amd64", None)
        return {
            "windows": amd64,
            "windows-arm64": self.make("arm64", None),
            "windows-x86": self.make("win32", None),
            "win-amd64": amd64,
            "windows-x86_64": amd64,
            "win-arm64": self.make("arm64", None),
            "win32": self.make("win32", None),
        }

    def wheel_tag(self, platform: Platform) -> str:
        return _ARCHES[platform.arch][_WHEEL_TAG]

    def sysconfig_platform(self, platform: Platform) -> str:
        return _ARCHES[platform.arch][_SYSCONFIG]

    def uv_triple(self, platform: Platform) -> str:
        return _ARCHES[platform.arch][_TRIPLE]

    def platform_tags(self, platform: Platform) -> Iterator[str]:
        yield self.wheel_tag(platform)

    def soabi_platform(self, platform: Platform) -> str:
        return self.wheel_tag(platform)

    def extension_suffixes(self, platform: Platform) -> tuple[str, ...]:
        python = platform.python
        version = f"{python.version[0]}{python.version[1]}{'t' if python.free_threaded else ''}"
        return (f".cp{version}-{self.soabi_platform(platform)}.pyd", ".pyd")

    def platform_machine(self, platform: Platform) -> str:
        return _ARCHES[platform.arch][_MACHINE]
