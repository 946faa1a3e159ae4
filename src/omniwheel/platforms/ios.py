"""iOS (PEP 730): one wheel per architecture and SDK, device or simulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from packaging.tags import ios_platforms

from omniwheel.errors import UsageError
from omniwheel.platforms.data import default_minimum
from omniwheel.platforms.family import Family
from omniwheel.platforms.model import Platform

DEVICE, SIMULATOR = "iphoneos", "iphonesimulator"
# The (arch, sdk) pairs PEP 730 defines; there are no x86_64 devices.
_SLICES = {("arm64", DEVICE), ("arm64", SIMULATOR), ("x86_64", SIMULATOR)}
_TAG = re.compile(r"^ios_(\d+)_(\d+)_(arm64|x86_64)_(iphoneos|iphonesimulator)$")
_SYSCONFIG = re.compile(r"^ios-(\d+)\.(\d+)-(arm64|x86_64)-(iphoneos|iphonesimulator)$")
_TRIPLE = re.compile(r"^(arm64|aarch64|x86_64)-apple-ios(-simulator)?$")


class IOS(Family):
    name = "ios"
    title = "iOS"
    sys_platform = "ios"
    platform_system = "iOS"
    min_os_meaning = "minimum iOS version"

    def _platform(self, major: str, minor: str, arch: str, sdk: str, text: str) -> Platform:
        if (arch, sdk) not in _SLICES:
            raise UsageError(
                f"platform {text!r}: there are no {arch} iOS devices; "
                f"use {arch} with iphonesimulator, or arm64 with iphoneos"
            )
        return self.make(arch, (int(major), int(minor)), sdk)

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        match = _TAG.match(tag)
        return self._platform(match[1], match[2], match[3], match[4], tag) if match else None

    def parse_sysconfig(self, text: str) -> Platform | None:
        match = _SYSCONFIG.match(text)
        return self._platform(match[1], match[2], match[3], match[4], text) if match else None

    def parse_triple(self, text: str) -> Platform | None:
        match = _TRIPLE.match(text)
        if match is None:
            return None
        arch = "arm64" if match[1] == "aarch64" else match[1]
        minimum = default_minimum("ios")
        sdk = SIMULATOR if match[2] else DEVICE
        return self._platform(str(minimum[0]), str(minimum[1]), arch, sdk, text)

    @cache  # noqa: B019 - families are process-wide singletons
    def named_platforms(self) -> dict[str, Platform]:
        minimum = default_minimum("ios")
        device = self.make("arm64", minimum, DEVICE)
        simulator = self.make("arm64", minimum, SIMULATOR)
        return {
            "ios": device,
            "ios-simulator": simulator,
            "ios-simulator-x86_64": self.make("x86_64", minimum, SIMULATOR),
            "ios-arm64": device,
            "ios-simulator-arm64": simulator,
        }

    def wheel_tag(self, platform: Platform) -> str:
        major, minor = self._version(platform)
        return f"ios_{major}_{minor}_{platform.arch}_{platform.variant}"

    def sysconfig_platform(self, platform: Platform) -> str:
        major, minor = self._version(platform)
        return f"ios-{major}.{minor}-{platform.arch}-{platform.variant}"

    def uv_triple(self, platform: Platform) -> str:
        suffix = "-simulator" if platform.variant == SIMULATOR else ""
        return f"{platform.arch}-apple-ios{suffix}"

    def platform_tags(self, platform: Platform) -> Iterator[str]:
        return ios_platforms(self._version(platform), f"{platform.arch}_{platform.variant}")

    def soabi_platform(self, platform: Platform) -> str:
        return str(platform.variant)

    def platform_machine(self, platform: Platform) -> str:
        # A device reports its model (iPhone14,3) in os.uname().machine; markers are
        # written against the CPU architecture, which is what uv reports too.
        return platform.arch

    def platform_release(self, platform: Platform) -> str:
        # platform.release() is the iOS version; the minimum is the only one known statically.
        major, minor = self._version(platform)
        return f"{major}.{minor}"

    @staticmethod
    def _version(platform: Platform) -> tuple[int, int]:
        assert platform.min_os is not None, "iOS platforms always carry a minimum version"
        return platform.min_os[0], platform.min_os[1]
