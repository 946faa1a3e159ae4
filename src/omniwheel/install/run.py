"""An install of locked wheels: fetch and hash-check, check for the target, lay out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omniwheel.errors import UsageError
from omniwheel.install.base import (
    InstallItem,
    InstallReport,
    Layout,
    LayoutOptions,
    check_for_target,
)
from omniwheel.install.ios_app import IOSAppLayout
from omniwheel.platforms import Platform
from omniwheel.resolve.download import Downloader, Progress
from omniwheel.resolve.lock import LockedWheel


def install_wheels(
    wheels: Sequence[LockedWheel],
    platform: Platform,
    downloader: Downloader,
    layout: Layout,
    into: Path,
    options: LayoutOptions | None = None,
    progress: Progress | None = None,
) -> InstallReport:
    """Install exactly ``wheels`` (``locked_wheels`` of a lock for ``platform``), every hash
    and binary checked, in ``layout`` (from ``layout_for``, which checks it serves the
    platform)."""
    options = options or LayoutOptions()
    items = _fetch_and_check(wheels, platform, downloader, options, progress)
    return layout.install(items, platform, into, options)


def install_slices(
    targets: Sequence[tuple[Platform, Sequence[LockedWheel]]],
    downloader: Downloader,
    layout: Layout,
    into: Path,
    options: LayoutOptions | None = None,
    progress: Progress | None = None,
) -> InstallReport:
    """Install for several platforms at once into one app: iOS device and simulator wheels
    as XCFrameworks (the ``ios-app`` layout's ``install_slices``)."""
    if not isinstance(layout, IOSAppLayout):
        raise UsageError(
            f"layout {layout.name} installs for one platform; only ios-app assembles several "
            "(device and simulator) into XCFrameworks"
        )
    options = options or LayoutOptions()
    groups = [
        (platform, _fetch_and_check(wheels, platform, downloader, options, progress))
        for platform, wheels in targets
    ]
    return layout.install_slices(groups, into, options)


def _fetch_and_check(
    wheels: Sequence[LockedWheel],
    platform: Platform,
    downloader: Downloader,
    options: LayoutOptions,
    progress: Progress | None,
) -> list[InstallItem]:
    paths = downloader.fetch_all(wheels, progress)
    items = [InstallItem(wheel, path) for wheel, path in zip(wheels, paths, strict=True)]
    check_for_target(items, platform, options.cache_dir)
    return items
