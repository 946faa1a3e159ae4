"""What the two Linux families share: architectures, triples, markers, ``linux_*`` tags."""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterator
from functools import cache
from typing import ClassVar

from omniwheel.platforms.data import default_minimum, load
from omniwheel.platforms.family import Family
from omniwheel.platforms.model import Platform


@cache
def triples() -> dict[str, str]:
    """Linux arch → its glibc target triple (the musl one swaps ``gnu`` for ``musl``)."""
    return {arch: row["triple"] for arch, row in load("linux")["arch"].items()}


def arch_pattern() -> str:
    return "|".join(sorted(triples(), key=len, reverse=True))


SYSCONFIG = re.compile(rf"^linux-({arch_pattern()})$")


class LinuxFamily(Family):
    """Base of manylinux (glibc) and musllinux: they differ in libc and tag names."""

    sys_platform = "linux"
    platform_system = "Linux"
    #: The wheel-tag prefix (``manylinux``/``musllinux``) and the triple's ABI word.
    tag_prefix: ClassVar[str]
    triple_abi: ClassVar[str]
    #: The libc word of the target's multiarch triplet (``x86_64-linux-gnu``).
    libc: ClassVar[str]
    defaults_key: ClassVar[str]

    @property
    def _triple(self) -> re.Pattern[str]:
        cpus = "|".join(re.escape(t.split("-")[0]) for t in triples().values())
        return re.compile(rf"^({cpus})-unknown-linux-{self.triple_abi}(?:eabihf)?$")

    def parse_triple(self, text: str) -> Platform | None:
        match = self._triple.match(text)
        if match is None:
            return None
        arch = next(a for a, t in triples().items() if t.split("-")[0] == match[1])
        return self.make(arch, default_minimum(self.defaults_key))

    def parse_sysconfig(self, text: str) -> Platform | None:
        # linux-x86_64 says nothing of the libc: it is owned by the glibc family.
        return None

    @cache  # noqa: B019 - families are process-wide singletons
    def named_platforms(self) -> dict[str, Platform]:
        minimum = default_minimum(self.defaults_key)
        per_arch = {f"{self.tag_prefix}-{arch}": self.make(arch, minimum) for arch in triples()}
        return {self.tag_prefix: per_arch[f"{self.tag_prefix}-x86_64"], **per_arch}

    def wheel_tag(self, platform: Platform) -> str:
        if platform.min_os is None:
            return f"linux_{platform.arch}"
        major, minor = platform.min_os[:2]
        return f"{self.tag_prefix}_{major}_{minor}_{platform.arch}"

    def sysconfig_platform(self, platform: Platform) -> str:
        return f"linux-{platform.arch}"

    def uv_triple(self, platform: Platform) -> str | None:
        return triples()[platform.arch].replace("-gnu", f"-{self.triple_abi}")

    def platform_tags(self, platform: Platform) -> Iterator[str]:
        # packaging (since 26.3) ranks a plain linux_* wheel, built for this very
        # machine, above the portable ones.
        yield f"linux_{platform.arch}"
        if platform.min_os is not None:
            yield from self.libc_tags(platform.arch, (platform.min_os[0], platform.min_os[1]))

    @abstractmethod
    def libc_tags(self, arch: str, libc: tuple[int, int]) -> Iterator[str]:
        """The ``manylinux_*``/``musllinux_*`` tags a libc of this version accepts."""

    def soabi_platform(self, platform: Platform) -> str:
        return str(load("linux")["arch"][platform.arch]["multiarch"]).replace(
            "-gnu", f"-{self.libc}"
        )

    def platform_machine(self, platform: Platform) -> str:
        return platform.arch
