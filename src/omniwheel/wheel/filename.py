"""Wheel filenames: ``{dist}-{version}(-{build})?-{python}-{abi}-{platform}.whl``.

``packaging`` does the validation; this module keeps what it throws away —
the order of compressed tag sets and the literal build tag — because retagging
must write a filename back, and reports should show tags in the author's order.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import (
    BuildTag,
    InvalidName,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from omniwheel.errors import UsageError
from omniwheel.wheel.errors import WheelError

_TAG_COMPONENT = re.compile(r"[a-z0-9_]+")
_BUILD_TAG = re.compile(r"(\d+)([^-\s]*)")
_WHEEL_PATTERN = "{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl"


def parse_build_tag(build: str) -> BuildTag:
    """The build tag's sort key ``(int(leading digits), rest)``; raises ``UsageError``."""
    match = _BUILD_TAG.fullmatch(build)
    if match is None:
        raise UsageError(f"build tag {build!r} must start with a digit and contain no '-'")
    return (int(match.group(1)), match.group(2))


def _tag_set(field: str, values: Iterable[str]) -> tuple[str, ...]:
    """Lower-case and de-duplicate one tag field, keeping first-seen order."""
    tags = tuple(dict.fromkeys(value.lower() for value in values))
    if not tags:
        raise UsageError(f"the {field} tag set is empty; give at least one tag")
    for tag in tags:
        if _TAG_COMPONENT.fullmatch(tag) is None:
            raise UsageError(
                f"{field} tag {tag!r} is not valid; tags use only letters, digits and '_'"
            )
    return tags


@dataclass(frozen=True)
class WheelFilename:
    """The facts a wheel filename states, normalised; ``str()`` gives the canonical filename."""

    name: NormalizedName
    version: Version
    build: str | None
    python_tags: tuple[str, ...]
    abi_tags: tuple[str, ...]
    platform_tags: tuple[str, ...]

    @classmethod
    def from_parts(
        cls,
        name: str,
        version: str | Version,
        python_tags: Iterable[str],
        abi_tags: Iterable[str],
        platform_tags: Iterable[str],
        build: str | None = None,
    ) -> WheelFilename:
        """Normalise and validate parts (raises ``UsageError``), e.g. for retagging."""
        try:
            normalized = canonicalize_name(name, validate=True)
        except InvalidName as exc:
            raise UsageError(f"{name!r} is not a valid distribution name: {exc}") from exc
        try:
            parsed_version = version if isinstance(version, Version) else Version(version)
        except InvalidVersion as exc:
            raise UsageError(f"{version!r} is not a PEP 440 version") from exc
        if build is not None:
            parse_build_tag(build)
        return cls(
            name=normalized,
            version=parsed_version,
            build=build,
            python_tags=_tag_set("python", python_tags),
            abi_tags=_tag_set("abi", abi_tags),
            platform_tags=_tag_set("platform", platform_tags),
        )

    @classmethod
    def parse(cls, filename: str | os.PathLike[str]) -> WheelFilename:
        """Parse a wheel's (base)name, accepting ``.`` and upper case in the dist name."""
        basename = Path(filename).name
        try:
            parse_wheel_filename(basename)
            stem = basename[: -len(".whl")]
            name, version, *build, python, abi, platform = stem.split("-")
            return cls.from_parts(
                name,
                version,
                python.split("."),
                abi.split("."),
                platform.split("."),
                build[0] if build else None,
            )
        except (InvalidWheelFilename, UsageError) as exc:
            raise WheelError(
                basename, f"not a valid wheel filename ({exc}); expected {_WHEEL_PATTERN}"
            ) from exc

    def with_platform_tags(self, platform_tags: Iterable[str]) -> WheelFilename:
        """The same wheel claiming ``platform_tags`` instead (raises ``UsageError``)."""
        return dataclasses.replace(self, platform_tags=_tag_set("platform", platform_tags))

    @property
    def build_key(self) -> BuildTag:
        """The build tag's sort key ``(int(leading digits), rest)``, or ``()`` without one."""
        return () if self.build is None else parse_build_tag(self.build)

    @property
    def ordered_tags(self) -> tuple[Tag, ...]:
        """Every supported tag: the cartesian product of the three sets, in filename order."""
        return tuple(
            Tag(python, abi, platform)
            for python, abi, platform in itertools.product(
                self.python_tags, self.abi_tags, self.platform_tags
            )
        )

    @property
    def tags(self) -> frozenset[Tag]:
        """The expanded tag set, for comparison with WHEEL and with a target's tags."""
        return frozenset(self.ordered_tags)

    @property
    def filename(self) -> str:
        """The canonical filename: escaped lower-case name, normalised version, lower-case tags."""
        parts = [self.name.replace("-", "_"), str(self.version)]
        if self.build is not None:
            parts.append(self.build)
        parts += [".".join(self.python_tags), ".".join(self.abi_tags)]
        parts.append(".".join(self.platform_tags))
        return "-".join(parts) + ".whl"

    def __str__(self) -> str:
        return self.filename
