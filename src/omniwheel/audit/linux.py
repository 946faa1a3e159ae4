"""manylinux and musllinux: ELF for the right CPU and libc, within the policy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

from omniwheel.audit.allowlists import (
    ManylinuxPolicy,
    manylinux_policies,
    manylinux_policy,
    system_libraries,
)
from omniwheel.audit.base import FamilyRules, Subject
from omniwheel.audit.findings import Finding
from omniwheel.binaries import Binary, ElfFile
from omniwheel.platforms import Platform
from omniwheel.platforms.data import format_version


def _elf(subject: Subject) -> ElfFile:
    return cast(ElfFile, subject.binary)


class ElfRules(FamilyRules):
    """What every ELF family checks first: the CPU, and that the libc is the expected one."""

    binary_format = "elf"
    libc: str

    def expected_arch(self, platform: Platform) -> str:
        return platform.arch

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        elf = _elf(subject)
        expected = self.expected_arch(subject.platform)
        if elf.arch != expected:
            yield self.wrong_architecture(subject, elf.arch, expected)
        if elf.libc is not None and elf.libc != self.libc:
            yield subject.finding(
                "wrong-libc",
                f"linked against {elf.libc}, but {subject.platform_tag} provides {self.libc}",
                found=elf.libc,
                expected=self.libc,
            )


class ManylinuxRules(ElfRules):
    libc = "glibc"

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        yield from super().check_binary(subject)
        if subject.platform.min_os is not None:
            yield from self._symbol_versions(subject, subject.platform.min_os)

    def _symbol_versions(self, subject: Subject, glibc: tuple[int, ...]) -> Iterator[Finding]:
        policy = manylinux_policy(glibc)
        if policy is None:
            return
        elf = _elf(subject)
        caps = policy.symbol_versions.get(elf.arch, {})
        for prefix, cap in caps.items():
            needed = elf.highest_version(prefix)
            if needed is None or needed <= cap:
                continue
            fitting = next(
                (p.name for p in manylinux_policies() if caps_allow(p, elf.arch, prefix, needed)),
                "a newer manylinux",
            )
            yield subject.finding(
                "symbol-versions-too-new",
                f"needs {prefix}_{format_version(needed)}, newer than the "
                f"{prefix}_{format_version(cap)} that {policy.name} allows",
                expected=policy.name,
                found=fitting,
            )

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        if platform.min_os is None:
            return ("*",)  # linux_<arch>: built for one machine, whatever it has
        policy = manylinux_policy(platform.min_os)
        libraries = policy.libraries if policy else ()
        return (*libraries, *system_libraries("linux"))

    def lowest_platforms(self, binaries: Sequence[Binary], claimed: Platform) -> Iterator[Platform]:
        """Every manylinux policy defined for the CPU, oldest first (the checks pick one)."""
        for policy in manylinux_policies():
            if claimed.arch in policy.symbol_versions:
                yield claimed.family.make(claimed.arch, policy.glibc)


def caps_allow(policy: ManylinuxPolicy, arch: str, prefix: str, needed: tuple[int, ...]) -> bool:
    caps = policy.symbol_versions.get(arch, {})
    return prefix in caps and needed <= caps[prefix]


class MusllinuxRules(ElfRules):
    libc = "musl"

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        if platform.min_os is None:
            return ("*",)
        return (*system_libraries("musllinux"), *system_libraries("linux"))
