"""Linux with musl: PEP 656 ``musllinux_X_Y`` tags."""

from __future__ import annotations

import re
from collections.abc import Iterator

from omniwheel.platforms.linux import LinuxFamily, arch_pattern
from omniwheel.platforms.model import Platform

_TAG = re.compile(rf"^musllinux_(\d+)_(\d+)_({arch_pattern()})$")


class MuslLinux(LinuxFamily):
    name = "linux-musl"
    title = "Linux (musl)"
    min_os_meaning = "minimum musl version"
    tag_prefix = "musllinux"
    triple_abi = "musl"
    libc = "musl"
    defaults_key = "musl"

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        match = _TAG.match(tag)
        return self.make(match[3], (int(match[1]), int(match[2]))) if match else None

    def libc_tags(self, arch: str, libc: tuple[int, int]) -> Iterator[str]:
        """Newest minor first, down to X.0, as packaging's ``_musllinux`` orders them."""
        major, newest_minor = libc
        for minor in range(newest_minor, -1, -1):
            yield f"musllinux_{major}_{minor}_{arch}"
