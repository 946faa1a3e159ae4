"""The interface of per-family binary rules, and the checks every family shares.

A family's rules answer one question for one binary: can it load on this
platform? Format, libraries and the reporting are common; architecture, OS
version and libc rules are each family's own (``linux``, ``android``, ``apple``,
``emscripten``, ``windows`` modules).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from functools import cache
from typing import ClassVar, NamedTuple

from omniwheel.audit.findings import Finding, finding
from omniwheel.binaries import Binary
from omniwheel.platforms import Platform

FORMAT_TITLES = {"elf": "ELF", "macho": "Mach-O", "wasm": "WebAssembly", "pe": "PE"}


class Subject(NamedTuple):
    """One binary of a wheel, checked against one platform the wheel claims."""

    member: str
    binary: Binary
    platform: Platform
    platform_tag: str
    #: Basenames of every binary the wheel ships (case-folded where the loader ignores case).
    shipped: frozenset[str]
    #: Every binary member of the wheel, in archive order (where a loader may look, and when).
    members: tuple[str, ...]
    #: The distribution part of the wheel's filename (``<dist>.libs`` directories).
    distribution: str

    def finding(self, code: str, message: str, **fields: str) -> Finding:
        return finding(code, message, member=self.member, platform_tag=self.platform_tag, **fields)


class FamilyRules(ABC):
    """Whether binaries load on platforms of one family."""

    binary_format: ClassVar[str]
    #: Whether the loader matches library names case-insensitively (Windows).
    ignores_case: ClassVar[bool] = False

    def check(self, subject: Subject) -> Iterator[Finding]:
        found = subject.binary.format
        if found != self.binary_format:
            expected = FORMAT_TITLES[self.binary_format]
            yield subject.finding(
                "wrong-binary-format",
                f"{FORMAT_TITLES[found]} binary, but {subject.platform.family.title} "
                f"loads {expected}",
                family=subject.platform.family.title,
                found=FORMAT_TITLES[found],
                expected=expected,
            )
            return
        yield from self.check_binary(subject)
        yield from self._external_libraries(subject)

    @abstractmethod
    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        """Architecture, OS version, libc: the family's own rules (format already fits)."""

    @abstractmethod
    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        """fnmatch patterns of the libraries the platform itself provides."""

    def lowest_platforms(self, binaries: Sequence[Binary], claimed: Platform) -> Iterator[Platform]:
        """Platforms of ``claimed``'s family, lowest first, that these binaries may need.

        Candidates only: the caller keeps those the checks pass. The default
        offers none (a family without OS levels in its tags has nothing to lower).
        """
        return iter(())

    def fold(self, name: str) -> str:
        return name.lower() if self.ignores_case else name

    def is_external(self, name: str, platform: Platform, shipped: frozenset[str]) -> bool:
        """Whether the loader must find library ``name`` outside the wheel, which ships the
        (folded) basenames ``shipped``, because ``platform`` does not provide it either."""
        folded = self.fold(name)
        if posixpath.basename(folded) in shipped:
            return False
        names, patterns = _compiled_allowlist(self, platform)
        return folded not in names and (patterns is None or patterns.match(folded) is None)

    def _external_libraries(self, subject: Subject) -> Iterator[Finding]:
        for library in subject.binary.needed:
            if not self.is_external(library, subject.platform, subject.shipped):
                continue
            yield subject.finding(
                "external-library",
                f"needs {library}, which the wheel does not ship and "
                f"{subject.platform.family.title} does not provide",
            )

    def wrong_architecture(self, subject: Subject, found: str, expected: str) -> Finding:
        return subject.finding(
            "wrong-architecture",
            f"built for {found}, but {subject.platform_tag} runs {expected}",
            found=found,
            expected=expected,
        )


@cache
def _compiled_allowlist(
    rules: FamilyRules, platform: Platform
) -> tuple[frozenset[str], re.Pattern[str] | None]:
    """``platform``'s allowlist (folded) as its plain names (a set) and one regex for its
    wildcard patterns, built once per platform.

    Most entries are plain names (every manylinux policy library), so a lookup is
    a set probe; the few patterns are matched in one regex instead of one
    ``fnmatch`` per pattern per library.
    """
    allowlist = frozenset(map(rules.fold, rules.allowlist(platform)))
    wildcard = frozenset(pattern for pattern in allowlist if any(c in pattern for c in "*?["))
    if not wildcard:
        return allowlist, None
    joined = "|".join(fnmatch.translate(pattern) for pattern in sorted(wildcard))
    return allowlist - wildcard, re.compile(joined)
