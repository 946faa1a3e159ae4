"""Linux with glibc: PEP 600 ``manylinux_X_Y`` tags and their legacy aliases."""

from __future__ import annotations

import re
from collections.abc import Iterator

from omniwheel.platforms.data import load, parse_version
from omniwheel.platforms.linux import SYSCONFIG, LinuxFamily, arch_pattern
from omniwheel.platforms.model import Platform

_TAG = re.compile(rf"^manylinux_(\d+)_(\d+)_({arch_pattern()})$")
_LEGACY_TAG = re.compile(rf"^(manylinux1|manylinux2010|manylinux2014)_({arch_pattern()})$")
_PLAIN_TAG = re.compile(rf"^linux_({arch_pattern()})$")
_UV_TRIPLE = re.compile(rf"^({arch_pattern()})-manylinux_(\d+)_(\d+)$")


class ManyLinux(LinuxFamily):
    name = "linux-glibc"
    title = "Linux (glibc)"
    min_os_meaning = "minimum glibc version"
    tag_prefix = "manylinux"
    triple_abi = "gnu"
    libc = "gnu"
    defaults_key = "glibc"

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        if match := _TAG.match(tag):
            return self.make(match[3], (int(match[1]), int(match[2])))
        if match := _LEGACY_TAG.match(tag):
            return self.make(match[2], parse_version(load("linux")["legacy_manylinux"][match[1]]))
        if match := _PLAIN_TAG.match(tag):
            return self.make(match[1], None)
        return None

    def parse_sysconfig(self, text: str) -> Platform | None:
        match = SYSCONFIG.match(text)
        return self.make(match[1], None) if match else None

    def parse_triple(self, text: str) -> Platform | None:
        if match := _UV_TRIPLE.match(text):
            return self.make(match[1], (int(match[2]), int(match[3])))
        return super().parse_triple(text)

    def uv_triple(self, platform: Platform) -> str | None:
        if platform.min_os is None:
            return super().uv_triple(platform)
        major, minor = platform.min_os[:2]
        return f"{platform.arch}-manylinux_{major}_{minor}"

    def libc_tags(self, arch: str, libc: tuple[int, int]) -> Iterator[str]:
        """Newest first down to the oldest glibc of the arch, each legacy alias after its twin.

        The same order as packaging's ``_manylinux.platform_tags``, but for a target
        glibc rather than the running interpreter's.
        """
        oldest = load("linux")["oldest_glibc"]
        floor = parse_version(oldest.get(arch, oldest["default"]))
        aliases = {parse_version(v): name for name, v in load("linux")["legacy_manylinux"].items()}
        major, newest_minor = libc
        if major != floor[0]:
            return
        for minor in range(newest_minor, floor[1] - 1, -1):
            yield f"manylinux_{major}_{minor}_{arch}"
            if alias := aliases.get((major, minor)):
                yield f"{alias}_{arch}"
