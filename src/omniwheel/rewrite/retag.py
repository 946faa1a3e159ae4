"""Retagging: give a wheel the tags its binaries really support, and nothing they don't.

Tag arguments follow ``wheel tags``: ``cp313`` replaces the set, ``+cp314``
adds, ``-cp312`` removes, several joined with dots. Platform tags may also be
written in any spelling ``omniwheel platforms`` knows (``ios@13.0``).

A retag that claims something new (a tag the wheel did not have, or renamed
extension modules) is checked before anything is written: every member of the
input is verified and its binaries judged under the new name; if a binary
cannot load where the new name says, the retag is refused with the findings.
A retag that only drops tags or changes the build tag claims nothing new, so it
is not re-checked: it costs about a file copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omniwheel.audit.findings import Finding, Severity
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.wheel import Wheel, WheelFilename
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel

if TYPE_CHECKING:
    from omniwheel.audit.check import WheelReport

# The audit and the platform registry load only when a retag needs them (a new claim,
# a platform argument): a build-tag retag of a big wheel should cost about a file copy.


class RetagRefusedError(OmniwheelError):
    """The new tags claim platforms the binaries cannot load on (exit 1, like ``check``)."""

    def __init__(self, wheel: str, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.severity is Severity.ERROR]
        super().__init__(
            f"{wheel}: refusing to retag: {len(errors)} check error(s), first: "
            f"{errors[0].message} ({errors[0].member or 'wheel'}); "
            "fix the binaries, or pass --force to retag anyway"
        )
        self.findings = findings


@dataclass(frozen=True)
class RetagOptions:
    """What to change; ``None`` leaves a part alone."""

    python: str | None = None
    abi: str | None = None
    platform: str | None = None
    build: str | None = None
    """A new build tag; ``""`` removes it."""
    rename_extensions: bool = False
    expand: bool = False
    force: bool = False


@dataclass
class RetagResult:
    source: Path
    output: Path
    original: WheelFilename
    filename: WheelFilename
    renamed: dict[str, str] = field(default_factory=dict)
    checked: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.filename != self.original or bool(self.renamed)

    def to_json(self) -> dict[str, Any]:
        before, after = self.original.tags, self.filename.tags
        return {
            "source": str(self.source),
            "output": str(self.output),
            "changed": self.changed,
            "filename": self.filename.filename,
            "added_tags": sorted(map(str, after - before)),
            "removed_tags": sorted(map(str, before - after)),
            "renamed": self.renamed,
            "checked": self.checked,
            "findings": [finding.to_json() for finding in self.findings],
        }


def edit_tags(current: Iterable[str], change: str | None, kind: str) -> tuple[str, ...]:
    """Apply one ``wheel tags``-style argument to a tag set (sorted, like ``wheel tags``)."""
    tags = set(current)
    if change is None:
        return tuple(sorted(tags))
    operation, words = ("=", change)
    if change[:1] in "+-" and change:
        operation, words = change[0], change[1:]
    values = {_normalise(word, kind) for word in _split(words, kind) if word}
    if not values:
        raise UsageError(f"--{kind} {change!r} names no tag; e.g. --{kind} +TAG or TAG1.TAG2")
    if operation == "+":
        tags |= values
    elif operation == "-":
        missing = values - tags
        if missing:
            raise UsageError(f"--{kind} {change!r}: the wheel has no {kind} tag {min(missing)}")
        tags -= values
    else:
        tags = values
    if not tags:
        raise UsageError(f"--{kind} {change!r} would leave no {kind} tag; a wheel needs one")
    return tuple(sorted(tags))


def _split(words: str, kind: str) -> list[str]:
    """Dots join tags, but ``ios@13.0`` is one platform: take the whole when it parses as one."""
    if kind == "platform" and "@" in words:
        from omniwheel.platforms import parse_platform

        try:
            parse_platform(words)
            return [words]
        except UsageError:
            pass
    return words.split(".")


def _normalise(word: str, kind: str) -> str:
    """Tags are lower case; a platform may be given in any spelling we know."""
    if kind != "platform" or word == "any":
        return word.lower()
    from omniwheel.platforms import parse_platform

    platform = parse_platform(word)
    # A wheel tag is kept as written (legacy aliases included); other spellings become tags.
    literal = word.lower()
    return literal if platform.family.parse_wheel_tag(literal) else platform.wheel_tag


def retag_wheel(
    path: Path,
    options: RetagOptions,
    output_dir: Path | None = None,
    *,
    in_place: bool = False,
    reading: WheelReport | None = None,
) -> RetagResult:
    """Write the retagged wheel into ``output_dir`` (default: beside the input) and return it.

    The input is left alone unless ``in_place``, which replaces it by the result.
    ``reading`` is ``path``'s check report when the caller has one (``repair``'s), so
    new claims are judged without reading the wheel's members again.
    """
    with Wheel.open(path) as wheel:
        return _retag(wheel, options, output_dir or path.parent, in_place, reading)


def _retag(
    wheel: Wheel,
    options: RetagOptions,
    target_dir: Path,
    in_place: bool,
    reading: WheelReport | None,
) -> RetagResult:
    path, original = wheel.path, wheel.filename
    members = [member.name for member in wheel.members()]
    filename = WheelFilename.from_parts(
        original.name,
        original.version,
        edit_tags(original.python_tags, options.python, "python"),
        edit_tags(original.abi_tags, options.abi, "abi"),
        edit_tags(original.platform_tags, options.platform, "platform"),
        original.build if options.build is None else (options.build or None),
    )
    report = reading
    if options.expand:
        report = report or _check(wheel)
        lowest = [p.wheel_tag for p in report.lowest_platforms(filename.ordered_tags)]
        filename = filename.with_platform_tags(sorted({*filename.platform_tags, *lowest}))
    renamed = _extension_renames(members, filename) if options.rename_extensions else {}
    result = RetagResult(path, path, original, filename, renamed)
    if not result.changed:
        return result

    target_dir.mkdir(parents=True, exist_ok=True)
    result.output = target_dir / filename.filename
    if result.output.resolve() == path.resolve() and not in_place:
        raise UsageError(f"{path.name}: the result would overwrite the input; pass --in-place")
    if renamed or not filename.tags <= original.tags:
        # Judged before anything is written: the binaries are the input's, byte for byte.
        claims = (report or _check(wheel)).renamed(renamed)
        claims.claim(filename.ordered_tags)
        result.checked, result.findings = True, claims.findings
        if claims.has_errors and not options.force:
            raise RetagRefusedError(path.name, result.findings)
    rewrite_wheel(wheel, WheelChanges(filename=filename, renames=renamed), result.output)
    if in_place and result.output.resolve() != path.resolve():
        path.unlink()
    return result


def _check(wheel: Wheel) -> WheelReport:
    from omniwheel.audit.check import check_open_wheel

    return check_open_wheel(wheel)


def _extension_renames(members: Iterable[str], filename: WheelFilename) -> dict[str, str]:
    """Extension modules whose suffix the new target does not import, renamed to its suffix."""
    from omniwheel.audit.check import extension_suffix, wheel_python
    from omniwheel.platforms import parse_platform

    platform = parse_platform(filename.platform_tags[0])
    python = wheel_python(filename.ordered_tags)
    if python is None:
        raise UsageError(
            f"{filename.filename}: --rename-extensions needs a CPython tag (cp3XY) to know "
            "the suffix"
        )
    platform = platform.with_python(python)
    suffixes = platform.family.extension_suffixes(platform)
    # abi3 wheels keep the stable-ABI suffix; others take the most specific one.
    wanted = suffixes[0]
    if "abi3" in filename.abi_tags:
        wanted = next((suffix for suffix in suffixes if ".abi3" in suffix), suffixes[-1])
    renames = {}
    for member in members:
        suffix = extension_suffix(member)
        if suffix is not None and suffix not in suffixes:
            renames[member] = member.removesuffix(suffix) + wanted
    return renames
