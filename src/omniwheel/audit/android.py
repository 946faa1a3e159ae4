"""Android: ELF for the ABI's CPU, bionic, and an API level no newer than the tag's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

from omniwheel.audit.allowlists import android_libraries
from omniwheel.audit.base import Subject
from omniwheel.audit.findings import Finding
from omniwheel.audit.linux import ElfRules
from omniwheel.binaries import Binary, ElfFile
from omniwheel.platforms import Platform


class AndroidRules(ElfRules):
    libc = "bionic"

    def expected_arch(self, platform: Platform) -> str:
        return platform.family.platform_machine(platform)

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        yield from super().check_binary(subject)
        elf = cast(ElfFile, subject.binary)
        level = self._level(subject.platform)
        if elf.android_api_level is not None and elf.android_api_level > level:
            yield subject.finding(
                "min-os-too-new",
                f"built for API level {elf.android_api_level}, above the {level} "
                f"that {subject.platform_tag} promises",
                expected=str(level),
                found=f"android_{elf.android_api_level}_{subject.platform.arch}",
            )

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        return android_libraries(self._level(platform))

    def lowest_platforms(self, binaries: Sequence[Binary], claimed: Platform) -> Iterator[Platform]:
        """The newest API level any binary was built for (the NDK records it in a note)."""
        levels = [
            binary.android_api_level
            for binary in binaries
            if isinstance(binary, ElfFile) and binary.android_api_level is not None
        ]
        if levels:
            yield claimed.family.make(claimed.arch, (max(levels),))

    @staticmethod
    def _level(platform: Platform) -> int:
        assert platform.min_os is not None
        return platform.min_os[0]
