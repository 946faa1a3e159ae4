"""The one interface every install layout implements, and the checks every install runs first."""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.install.images import LinkMode, image_key
from omniwheel.platforms import Platform
from omniwheel.resolve.lock import LockedWheel


class InstallError(OmniwheelError):
    """A wheel that must not be installed on the target, or an install that failed."""


class InstallItem(NamedTuple):
    """A locked wheel and its hash-checked file on local disk."""

    wheel: LockedWheel
    path: Path


@dataclass(frozen=True)
class LayoutOptions:
    """Settings some layouts use: the iOS app's bundle id prefix; the Pyodide release
    (Pyodide 0.26 and 0.27 refuse a pyodide-lock.json that does not name their version);
    how files are placed; where installed images and check verdicts are cached (``None``:
    a temporary directory, nothing kept); the projects the user asked for by name
    (normalized), which get pip's ``REQUESTED`` marker where a layout keeps dist-info."""

    app_id: str = "org.example.app"
    pyodide_version: str | None = None
    link_mode: LinkMode = LinkMode.COPY
    cache_dir: Path | None = None
    requested: frozenset[str] = frozenset()


@dataclass
class InstallReport:
    """What an install did, for people and for ``--json``."""

    layout: str
    into: Path
    platform: Platform
    installed: list[InstallItem] = field(default_factory=list)
    #: Files the layout made beyond the wheels' own (frameworks, lock files), relative to ``into``.
    created: list[str] = field(default_factory=list)
    #: Every platform installed for, when one install serves several (iOS device + simulator).
    platforms: list[Platform] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "into": str(self.into),
            "platform": self.platform.to_json(),
            "platforms": [platform.to_json() for platform in self.platforms or [self.platform]],
            "installed": [
                {
                    "name": item.wheel.name,
                    "version": str(item.wheel.version),
                    "filename": item.wheel.filename,
                    "sha256": item.wheel.sha256,
                }
                for item in self.installed
            ],
            "created": sorted(self.created),
        }


class Layout(ABC):
    """How installed wheels are laid out on disk for one kind of target."""

    name: ClassVar[str]
    #: Platform families this layout serves (``None``: any).
    families: ClassVar[frozenset[str] | None] = None

    def check_platform(self, platform: Platform) -> None:
        if self.families is not None and platform.family.name not in self.families:
            raise UsageError(
                f"layout {self.name} is for {', '.join(sorted(self.families))} targets, "
                f"not {platform}; choose another --layout"
            )

    def check_into(self, into: Path, platform: Platform) -> None:
        """Refuse, before anything is resolved or fetched, an install directory an install
        for ``platform`` cannot go into: here, one that is (or lies under) something other
        than a directory, as every layout makes directories there."""
        existing = next(path for path in (into, *into.parents) if os.path.lexists(path))
        if not existing.is_dir():
            raise UsageError(
                f"--into {into}: {existing} is not a directory; give a directory (one that "
                "does not exist yet is created)"
            )

    @abstractmethod
    def install(
        self, items: Sequence[InstallItem], platform: Platform, into: Path, options: LayoutOptions
    ) -> InstallReport:
        """Lay out every item under ``into`` (which may already hold an earlier install)."""


def check_for_target(
    items: Sequence[InstallItem], platform: Platform, cache_dir: Path | None = None
) -> None:
    """Refuse the install if any wheel's binaries cannot load on the target (``check_wheel``).

    A wheel that passed for this target once is remembered under ``cache_dir/checked`` by
    its sha256 (the check reads every member, and its verdict depends only on the bytes).
    """
    target = json.dumps(platform.to_json(), sort_keys=True)
    markers = {
        item.wheel.sha256: None
        if cache_dir is None
        else cache_dir / "checked" / image_key("check", item.wheel.sha256, target)
        for item in items
    }
    unchecked = [
        item
        for item in items
        if (marker := markers[item.wheel.sha256]) is None or not marker.is_file()
    ]
    if not unchecked:
        return
    from omniwheel.audit import check_wheel  # a slow import, needed only for new wheels
    from omniwheel.audit.findings import Severity

    for item in unchecked:
        report = check_wheel(item.path, [platform])
        errors = [f for f in report.findings if f.severity is Severity.ERROR]
        if errors:
            first = errors[0]
            where = f" ({first.member})" if first.member else ""
            raise InstallError(
                f"{item.wheel.filename} cannot run on {platform}: {first.message}{where}; "
                f"{first.hint} ({len(errors)} error(s); see omniwheel check)"
            )
        marker = markers[item.wheel.sha256]
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()


#: How many of the user's files an error about them names.
_SHOWN = 3


def refuse_foreign_files(into: Path, placed: Collection[str], owned: Container[str]) -> None:
    """Refuse the install before anything is written if it would replace (``placed``) a
    path in ``into`` that no installed distribution owns (``owned``): that is the user's
    own file, lost if replaced, and a later upgrade would delete it by the RECORD then
    listing it (pip --target keeps them too). Names only, for speed: an owned path costs a
    set lookup, any other an lstat."""
    foreign = sorted(
        path for path in placed if path not in owned and os.path.lexists(f"{into}/{path}")
    )
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (", ..." if len(foreign) > _SHOWN else "")
        raise UsageError(
            f"{into} holds {len(foreign)} file(s) no installed distribution lists that this "
            f"install would replace ({shown}); move them away or install into another directory"
        )
