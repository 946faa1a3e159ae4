"""Android (PEP 738): one wheel per ABI, versioned by the minimum API level."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from packaging.tags import android_platforms

from omniwheel.errors import UsageError
from omniwheel.platforms.data import default_minimum, load
from omniwheel.platforms.family import Family
from omniwheel.platforms.model import Platform

# Android ABI -> what os.uname().machine reports and the clang/uv triple's CPU.
_MACHINES = {"arm64_v8a": "aarch64", "x86_64": "x86_64", "armeabi_v7a": "armv7l", "x86": "i686"}
_TRIPLES = {
    "arm64_v8a": "aarch64-linux-android",
    "x86_64": "x86_64-linux-android",
    "armeabi_v7a": "armv7a-linux-androideabi",
    "x86": "i686-linux-android",
}
_UV_KNOWS = {"arm64_v8a", "x86_64"}
# Android ABI -> the platform part of CPython's SOABI (PEP 738).
_SOABI = {
    "arm64_v8a": "aarch64-linux-android",
    "x86_64": "x86_64-linux-android",
    "armeabi_v7a": "arm-linux-androideabi",
    "x86": "i686-linux-android",
}
_ABIS = "|".join(_MACHINES)
_TAG = re.compile(rf"^android_(\d+)_({_ABIS})$")
_SYSCONFIG = re.compile(rf"^android-(\d+)-({_ABIS})$")
_TRIPLE = re.compile(r"^(aarch64|x86_64|armv7a|i686)-linux-android(?:eabi)?(\d+)?$")
MIN_API_LEVEL = 16  # packaging's floor: the oldest level CPython runs on unpatched


class Android(Family):
    name = "android"
    title = "Android"
    sys_platform = "android"
    platform_system = "Android"
    min_os_meaning = "minimum API level"

    def _platform(self, api_level: int, abi: str, text: str) -> Platform:
        if api_level < MIN_API_LEVEL:
            raise UsageError(
                f"platform {text!r}: API level {api_level} is below {MIN_API_LEVEL}, "
                "the oldest Android that CPython supports"
            )
        return self.make(abi, (api_level,))

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        match = _TAG.match(tag)
        return self._platform(int(match[1]), match[2], tag) if match else None

    def parse_sysconfig(self, text: str) -> Platform | None:
        match = _SYSCONFIG.match(text)
        return self._platform(int(match[1]), match[2], text) if match else None

    def parse_triple(self, text: str) -> Platform | None:
        match = _TRIPLE.match(text)
        if match is None:
            return None
        abi = next(abi for abi, triple in _TRIPLES.items() if triple.startswith(match[1]))
        level = int(match[2]) if match[2] else default_minimum("android")[0]
        return self._platform(level, abi, text)

    @cache  # noqa: B019 - families are process-wide singletons
    def named_platforms(self) -> dict[str, Platform]:
        level = default_minimum("android")
        arm64 = self.make("arm64_v8a", level)
        return {
            "android": arm64,
            "android-x86_64": self.make("x86_64", level),
            "android-armv7": self.make("armeabi_v7a", level),
            "android-x86": self.make("x86", level),
            "android-arm64": arm64,
        }

    def normalise_min_os(self, version: tuple[int, ...]) -> tuple[int, ...]:
        return version[:1]

    def wheel_tag(self, platform: Platform) -> str:
        return f"android_{self._level(platform)}_{platform.arch}"

    def sysconfig_platform(self, platform: Platform) -> str:
        return f"android-{self._level(platform)}-{platform.arch}"

    def uv_triple(self, platform: Platform) -> str | None:
        return _TRIPLES[platform.arch] if platform.arch in _UV_KNOWS else None

    def platform_tags(self, platform: Platform) -> Iterator[str]:
        return android_platforms(self._level(platform), platform.arch)

    def soabi_platform(self, platform: Platform) -> str:
        return _SOABI[platform.arch]

    def platform_machine(self, platform: Platform) -> str:
        return _MACHINES[platform.arch]

    def platform_release(self, platform: Platform) -> str:
        # platform.release() is the Android release of the API level (API 24 -> "7.0").
        releases: dict[str, str] = load("defaults")["android_release"]
        return releases.get(str(self._level(platform)), "")

    @staticmethod
    def _level(platform: Platform) -> int:
        assert platform.min_os is not None, "Android platforms always carry an API level"
        return platform.min_os[0]
