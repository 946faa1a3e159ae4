"""An install from a lock: select for the target, fetch and hash-check, check, lay out."""

from __future__ import annotations

from pathlib import Path

from packaging.pylock import Pylock

from omniwheel.install.base import (
    InstallItem,
    InstallReport,
    Layout,
    LayoutOptions,
    check_for_target,
)
from omniwheel.platforms import Platform
from omniwheel.resolve.download import Downloader, Progress
from omniwheel.resolve.lock import locked_wheels


def install_lock(
    lock: Pylock,
    lock_dir: Path,
    platform: Platform,
    downloader: Downloader,
    layout: Layout,
    into: Path,
    options: LayoutOptions | None = None,
    progress: Progress | None = None,
) -> InstallReport:
    """Install exactly what ``lock`` selects for ``platform`` (every hash and binary checked)."""
    layout.check_platform(platform)
    wheels = locked_wheels(lock, platform, lock_dir)
    paths = downloader.fetch_all(wheels, progress)
    items = [InstallItem(wheel, path) for wheel, path in zip(wheels, paths, strict=True)]
    check_for_target(items, platform)
    return layout.install(items, platform, into, options or LayoutOptions())
