"""Check a wheel: read it once, parse its binaries, judge each platform it claims."""

from __future__ import annotations

import importlib
import os
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from packaging.tags import Tag

from omniwheel.audit.base import FamilyRules, Subject
from omniwheel.audit.findings import Finding, Severity, finding
from omniwheel.binaries import Binary, BinaryParseError, parse_binary
from omniwheel.errors import UsageError
from omniwheel.platforms import Platform, PythonTarget, parse_platform
from omniwheel.wheel import MemberInfo, Wheel

# Readers in parallel: enough to keep every core inflating, few enough to bound memory
# (each may hold one member of up to Limits.in_memory_max).
_READERS = min(4, os.cpu_count() or 1)
# Small members are read in tasks of this many compressed bytes (or members) at most.
_BATCH_BYTES = 1 << 20
_BATCH_MEMBERS = 256

# family -> (the module under omniwheel.audit with its rules, the rules class). A module
# loads when a wheel first claims its family: a Linux wheel never loads the Apple rules
# or the Mach-O reader they stand on.
_RULES = {
    "ios": ("apple", "IOSRules"),
    "android": ("android", "AndroidRules"),
    "emscripten": ("emscripten", "EmscriptenRules"),
    "macos": ("apple", "AppleRules"),
    "linux-glibc": ("linux", "ManylinuxRules"),
    "linux-musl": ("linux", "MusllinuxRules"),
    "windows": ("windows", "WindowsRules"),
}


@cache
def family_rules(family: str) -> FamilyRules:
    """The binary rules of platform family ``family`` (a ``Family.name``)."""
    module, name = _RULES[family]
    rules: FamilyRules = getattr(importlib.import_module(f"omniwheel.audit.{module}"), name)()
    return rules


# Members with these endings are never binaries: stream them for their hash only.
_TEXT_SUFFIXES = (
    ".py", ".pyi", ".pyc", ".txt", ".md", ".rst", ".json", ".toml", ".cfg", ".ini", ".h",
    ".hpp", ".c", ".cc", ".cpp", ".pxd", ".pyx", ".html", ".css", ".js", ".csv", ".yaml",
    ".yml", ".typed", ".xml", ".svg", ".png", ".jpg", ".gif",
)  # fmt: skip
# "_speedups.cpython-313-x86_64-linux-gnu.so" -> ".cpython-313-x86_64-linux-gnu.so"
_EXTENSION = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*((?:\.(?:cpython-|cp3|abi3|pypy)[^/]*)?\.(?:so|pyd))$"
)


def extension_suffix(member: str) -> str | None:
    """``.cpython-313-iphoneos.so`` for ``pkg/_x.cpython-313-iphoneos.so``; None if the name
    is not an extension module's."""
    match = _EXTENSION.match(posixpath.basename(member))
    return match[1] if match else None


class BinaryMember(NamedTuple):
    member: str
    binary: Binary

    @property
    def is_extension_module(self) -> bool:
        exports = getattr(self.binary, "pyinit_exports", ())
        return bool(exports) or extension_suffix(self.member) is not None

    def to_json(self) -> dict[str, Any]:
        return {"member": self.member, **self.binary.to_json()}


class Verdict(NamedTuple):
    """Whether the wheel's binaries load on one platform it claims (or was asked about)."""

    platform_tag: str
    platform: str | None
    status: str  # "ok", "warning", "error"

    def to_json(self) -> dict[str, Any]:
        return {"platform_tag": self.platform_tag, "platform": self.platform, "status": self.status}


@dataclass
class WheelReport:
    path: str
    wheel: Wheel
    binaries: list[BinaryMember] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: What reading the wheel found (unparsable binaries, Root-Is-Purelib), before any judging.
    read_findings: tuple[Finding, ...] = ()

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def judge(
        self, tag: str, platform: Platform | None, first_tag: Tag | None = None
    ) -> list[Finding]:
        """What stops this wheel's binaries from loading on ``platform`` (None: a pure tag).

        ``first_tag`` names the claim in findings (default: the wheel's own first tag).
        """
        first_tag = first_tag or self.wheel.filename.ordered_tags[0]
        distribution = Path(self.path).name.split("-")[0]
        return list(_judge(self.binaries, tag, platform, distribution, first_tag))

    def claim(self, tags: Sequence[Tag], platforms: Sequence[Platform] = ()) -> None:
        """Judge the binaries on every platform ``tags`` name (or ``platforms``), recording
        a verdict and the findings of each."""
        for tag, platform in _targets(tags, platforms, self.findings):
            found = self.judge(tag, platform, tags[0])
            self.findings += found
            name = platform.short_name if platform else None
            self.verdicts.append(Verdict(tag, name, _status(found)))

    def renamed(self, renames: Mapping[str, str]) -> WheelReport:
        """This report's reading of the wheel, members renamed, nothing judged yet.

        A retag judges its new claims on this instead of reading the rewritten
        wheel again: the binaries are the same bytes.
        """
        binaries = [
            BinaryMember(renames.get(item.member, item.member), item.binary)
            for item in self.binaries
        ]
        return WheelReport(
            self.path,
            self.wheel,
            binaries,
            findings=list(self.read_findings),
            read_findings=self.read_findings,
        )

    def lowest_platforms(self, tags: Sequence[Tag] | None = None) -> list[Platform]:
        """For each platform ``tags`` claim (default: the wheel's own tags), the lowest ones
        of that family the binaries truly load on.

        "Lowest" per architecture and variant: the oldest OS, glibc or API level whose
        checks the binaries pass (a manylinux_2_28 wheel whose symbols need only glibc
        2.17 gives manylinux_2_17; a 10.9 universal2 build gives universal2, x86_64
        and arm64 platforms).
        """
        binaries = [item.binary for item in self.binaries]
        claims = list(self.wheel.filename.ordered_tags if tags is None else tags)
        best: dict[tuple[str, str, str | None], Platform] = {}
        for _, claimed in _targets(claims, (), []):
            if claimed is None:
                continue
            for candidate in family_rules(claimed.family.name).lowest_platforms(binaries, claimed):
                candidate = _with_wheel_python(candidate, claims)
                key = (candidate.family.name, candidate.arch, candidate.variant)
                known = best.get(key)
                if known is not None and (known.min_os or ()) <= (candidate.min_os or ()):
                    continue
                if _status(self.judge(candidate.wheel_tag, candidate)) != "error":
                    best[key] = candidate
        return list(best.values())


def check_wheel(path: str | os.PathLike[str], platforms: Sequence[Platform] = ()) -> WheelReport:
    """Verify the wheel and judge its binaries on ``platforms`` (default: every claimed tag).

    Raises ``WheelError`` for input that is no usable wheel; everything about
    whether it can run is a finding.
    """
    with Wheel.open(path) as wheel:
        return check_open_wheel(wheel, platforms)


def check_open_wheel(wheel: Wheel, platforms: Sequence[Platform] = ()) -> WheelReport:
    """``check_wheel`` for a wheel the caller keeps open (to read more of it afterwards)."""
    report = WheelReport(os.fspath(wheel.path), wheel)
    report.findings += _read_binaries(wheel, report.binaries)
    if report.binaries and wheel.wheel_info.root_is_purelib:
        report.findings.append(
            finding("root-is-purelib", "Root-Is-Purelib is true but the wheel has binaries")
        )
    report.read_findings = tuple(report.findings)
    report.claim(wheel.filename.ordered_tags, platforms)
    return report


def _status(findings: list[Finding]) -> str:
    """A verdict is as bad as its worst finding."""
    severities = {finding.severity for finding in findings}
    if Severity.ERROR in severities:
        return "error"
    return "warning" if severities else "ok"


def _read_binaries(wheel: Wheel, binaries: list[BinaryMember]) -> Iterator[Finding]:
    """One pass over the members: every hash verified, every binary parsed.

    Members are read on a few threads (zlib and hashlib release the GIL), the
    largest first so that one huge library does not start last; small members go
    in batches, so that a wheel of 12,000 files is not 12,000 tasks. Results keep
    archive order.
    """
    wheel.check_listing()
    files = [member for member in wheel.members() if not member.is_dir]
    largest_first = sorted(files, key=lambda member: -member.compressed_size)
    pool = ThreadPoolExecutor(max_workers=_READERS)
    try:
        futures: dict[str, tuple[Future[list[Binary | Finding | None]], int]] = {}
        for batch in _batches(largest_first):
            future = pool.submit(_read_batch, wheel, batch)
            futures.update((name, (future, index)) for index, name in enumerate(batch))
        for member in files:
            future, index = futures[member.name]
            outcome = future.result()[index]
            if isinstance(outcome, Finding):
                yield outcome
            elif outcome is not None:
                binaries.append(BinaryMember(member.name, outcome))
    finally:
        # On a broken member, stop at once: members not yet started are never read.
        pool.shutdown(wait=True, cancel_futures=True)


def _batches(members: Sequence[MemberInfo]) -> Iterator[list[str]]:
    """Member names in tasks of about ``_BATCH_BYTES`` compressed bytes (one big member alone)."""
    batch: list[str] = []
    size = 0
    for member in members:
        batch.append(member.name)
        size += member.compressed_size
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_MEMBERS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _read_batch(wheel: Wheel, names: list[str]) -> list[Binary | Finding | None]:
    return [_read_member(wheel, name) for name in names]


def _read_member(wheel: Wheel, name: str) -> Binary | Finding | None:
    """Verify one member against RECORD; parse it if it may be a binary."""
    if name.lower().endswith(_TEXT_SUFFIXES) or name.startswith(wheel.dist_info + "/"):
        wheel.verify_member(name)
        return None
    with wheel.member_buffer(name) as buffer:
        try:
            return parse_binary(buffer)
        except BinaryParseError as error:
            return finding("unparsable-binary", str(error), member=name)


def _targets(
    claimed: Sequence[Tag], platforms: Sequence[Platform], findings: list[Finding]
) -> Iterator[tuple[str, Platform | None]]:
    """The (tag, platform) pairs to judge; ``any`` is judged as a pure wheel (None)."""
    tags = list(claimed)
    if platforms:
        # Judged for the CPython the wheel was built for, not the platform's default.
        yield from ((p.wheel_tag, _with_wheel_python(p, tags)) for p in platforms)
        return
    by_platform: dict[str, list[Tag]] = {}
    for tag in tags:
        by_platform.setdefault(tag.platform, []).append(tag)
    for platform_tag, tags in by_platform.items():
        if platform_tag == "any":
            yield platform_tag, None
            continue
        try:
            platform = parse_platform(platform_tag)
        except UsageError:
            findings.append(
                finding(
                    "unknown-platform-tag",
                    f"platform tag {platform_tag} names no platform omniwheel knows",
                    platform_tag=platform_tag,
                    found=platform_tag,
                )
            )
            continue
        yield platform_tag, _with_wheel_python(platform, tags)


def wheel_python(tags: Sequence[Tag]) -> PythonTarget | None:
    """The CPython the wheel's best CPython tag names (cp313t → 3.13t), if it names one."""
    for tag in tags:
        if re.fullmatch(r"cp3\d+", tag.interpreter):
            free_threaded = tag.abi.endswith("t") and tag.abi.startswith("cp")
            return PythonTarget.parse(tag.interpreter + ("t" if free_threaded else ""))
    return None


def _with_wheel_python(platform: Platform, tags: Sequence[Tag]) -> Platform:
    """The platform running the wheel's CPython (where the platform lets it choose)."""
    python = wheel_python(tags)
    if python is None:
        return platform
    try:
        return platform.with_python(python)
    except UsageError:
        return platform


def _judge(
    binaries: list[BinaryMember],
    tag: str,
    platform: Platform | None,
    distribution: str,
    first_tag: Tag,
) -> Iterator[Finding]:
    if platform is None:
        for item in binaries:
            yield finding(
                "binary-in-pure-wheel",
                f"a {item.binary.format} binary in a wheel tagged for any platform",
                member=item.member,
                platform_tag=tag,
                found=str(first_tag),
            )
        return
    rules = family_rules(platform.family.name)
    members = tuple(item.member for item in binaries)
    folded = frozenset(rules.fold(posixpath.basename(member)) for member in members)
    suffixes = platform.family.extension_suffixes(platform)
    for item in binaries:
        subject = Subject(item.member, item.binary, platform, tag, folded, members, distribution)
        yield from rules.check(subject)
        if item.is_extension_module:
            yield from _check_suffix(item.member, tag, suffixes)


def _check_suffix(member: str, tag: str, suffixes: tuple[str, ...]) -> Iterator[Finding]:
    basename = posixpath.basename(member)
    suffix = basename[basename.index(".") :] if "." in basename else ""
    if suffix not in suffixes:
        yield finding(
            "extension-suffix",
            f"extension module suffix {suffix} is not one the target imports",
            member=member,
            platform_tag=tag,
            expected=", ".join(suffixes),
        )
