"""Windows: PE images for the right machine, DLLs from the system or the wheel."""

from __future__ import annotations

from collections.abc import Iterator

from omniwheel.audit.allowlists import system_libraries
from omniwheel.audit.base import FamilyRules, Subject
from omniwheel.audit.findings import Finding
from omniwheel.platforms import Platform


class WindowsRules(FamilyRules):
    binary_format = "pe"
    ignores_case = True

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        (arch,) = subject.binary.architectures
        if arch != subject.platform.arch:
            yield self.wrong_architecture(subject, arch, subject.platform.arch)

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        return system_libraries("windows")
