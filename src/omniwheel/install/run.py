"""An install of locked wheels: fetch and hash-check, check for the target, lay out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omniwheel.install.base import (
    InstallItem,
    InstallReport,
    Layout,
    LayoutOptions,
    check_for_target,
)
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
    paths = downloader.fetch_all(wheels, progress)
    items = [InstallItem(wheel, path) for wheel, path in zip(wheels, paths, strict=True)]
    check_for_target(items, platform)
    return layout.install(items, platform, into, options or LayoutOptions())
