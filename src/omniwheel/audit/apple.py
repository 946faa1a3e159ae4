"""macOS and iOS: Mach-O slices for the right CPUs, Apple platform and deployment target."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

from omniwheel.audit.allowlists import architecture_floors, system_libraries
from omniwheel.audit.base import FamilyRules, Subject
from omniwheel.audit.findings import Finding
from omniwheel.binaries import Binary, MachOFile
from omniwheel.binaries.macho import MachOSlice
from omniwheel.platforms import Platform
from omniwheel.platforms.data import format_version


class AppleRules(FamilyRules):
    binary_format = "macho"

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        macho = cast(MachOFile, subject.binary)
        slices = {piece.arch: piece for piece in macho.slices}
        required = subject.platform.architectures
        missing = [arch for arch in required if arch not in slices]
        if missing:
            found = "+".join(slices)
            if len(required) == 1:
                yield self.wrong_architecture(subject, found, required[0])
            else:
                yield subject.finding(
                    "missing-architecture",
                    f"has slices {found}; {subject.platform_tag} needs {'+'.join(required)}",
                    expected="+".join(required),
                    found=found,
                )
        yield from self.check_slice_count(subject, macho)
        for arch in required:
            if arch in slices:
                yield from self._check_slice(subject, slices[arch])

    def check_slice_count(self, subject: Subject, macho: MachOFile) -> Iterator[Finding]:
        return iter(())

    def expected_platform(self, platform: Platform) -> str:
        return "macos"

    def deployment_floor(self, platform: Platform, arch: str) -> tuple[int, ...]:
        """The newest minimum OS a slice may declare: the tag's, or the arch's first release."""
        assert platform.min_os is not None
        floor = architecture_floors(self.expected_platform(platform)).get(arch, ())
        return max(platform.min_os, floor)

    def _check_slice(self, subject: Subject, piece: MachOSlice) -> Iterator[Finding]:
        expected = self.expected_platform(subject.platform)
        found = "ios-simulator" if piece.is_simulator else piece.platform
        if found is not None and found != expected:
            yield subject.finding(
                "wrong-apple-platform",
                f"{piece.arch} slice is built for {found}, but {subject.platform_tag} "
                f"is {expected}",
                expected=expected,
            )
            return
        floor = self.deployment_floor(subject.platform, piece.arch)
        if piece.minos is not None and piece.minos[: len(floor)] > floor:
            minos = format_version(piece.minos[:2])
            yield subject.finding(
                "min-os-too-new",
                f"{piece.arch} slice needs {expected} {minos}, newer than the "
                f"{format_version(floor)} in {subject.platform_tag}",
                expected=format_version(floor),
                found=minos,
            )

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        return system_libraries(platform.family.name)

    def lowest_platforms(self, binaries: Sequence[Binary], claimed: Platform) -> Iterator[Platform]:
        """Each CPU every binary has a slice for, and universal2 when both Mac CPUs are there."""
        needs = _slice_needs(binaries)
        for arch in ("arm64", "x86_64"):
            if arch in needs:
                yield from self._macos_versions(claimed, arch, needs[arch])
        if "arm64" in needs and "x86_64" in needs:
            # universal2 tags name the oldest macOS any slice runs on: the Intel one.
            yield from self._macos_versions(claimed, "universal2", needs["x86_64"])

    def _macos_versions(
        self, claimed: Platform, arch: str, minos: tuple[int, ...]
    ) -> Iterator[Platform]:
        """macOS 11+ tags only carry a major version: 11.3 needs 12_0, so offer both."""
        major, minor = minos[0], minos[1]
        if major < 11:
            yield claimed.family.make(arch, (major, minor))
            return
        yield claimed.family.make(arch, (major, 0))
        if minor:
            yield claimed.family.make(arch, (major + 1, 0))


class IOSRules(AppleRules):
    def expected_platform(self, platform: Platform) -> str:
        return "ios-simulator" if platform.variant == "iphonesimulator" else "ios"

    def lowest_platforms(self, binaries: Sequence[Binary], claimed: Platform) -> Iterator[Platform]:
        needs = _slice_needs(binaries)
        if claimed.arch in needs:
            yield claimed.family.make(claimed.arch, needs[claimed.arch], claimed.variant)

    def check_slice_count(self, subject: Subject, macho: MachOFile) -> Iterator[Finding]:
        if len(macho.slices) > 1:
            yield subject.finding(
                "fat-binary",
                f"holds {len(macho.slices)} slices ({'+'.join(macho.architectures)})",
            )


def _slice_needs(binaries: Sequence[Binary]) -> dict[str, tuple[int, int]]:
    """CPU -> the newest minimum OS (major, minor) among the slices every Mach-O binary has."""
    machos = [binary for binary in binaries if isinstance(binary, MachOFile)]
    if not machos:
        return {}
    needs: dict[str, tuple[int, int]] = {}
    common = set.intersection(*(set(macho.architectures) for macho in machos))
    for macho in machos:
        for piece in macho.slices:
            if piece.arch in common and piece.minos is not None:
                needs[piece.arch] = max(needs.get(piece.arch, (0, 0)), piece.minos[:2])
    return needs
