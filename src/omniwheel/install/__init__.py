"""Installing locked wheels for a target, in the layout the target's apps need.

One module per layout behind ``Layout``: ``site-packages`` (pip --target),
``ios-app`` (PEP 730 frameworks), ``android``, ``pyodide`` (pyodide-lock.json).
"""

from omniwheel.install.base import (
    InstallError,
    InstallItem,
    InstallReport,
    Layout,
    LayoutOptions,
    check_for_target,
)
from omniwheel.install.ios_app import IOSAppLayout
from omniwheel.install.pyodide import PyodideLayout
from omniwheel.install.site_packages import AndroidLayout, SitePackagesLayout
from omniwheel.platforms import Platform

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (SitePackagesLayout(), IOSAppLayout(), AndroidLayout(), PyodideLayout())
}

#: The layout an install uses when ``--layout`` is not given, by platform family.
DEFAULT_LAYOUT = {"ios": "ios-app", "android": "android", "emscripten": "pyodide"}


def layout_for(platform: Platform, name: str | None = None) -> Layout:
    """The layout ``name`` (default: the platform family's), refused with a ``UsageError``
    unless it serves ``platform``: checked before any resolving or downloading."""
    layout = LAYOUTS[name or DEFAULT_LAYOUT.get(platform.family.name, "site-packages")]
    layout.check_platform(platform)
    return layout


__all__ = [
    "DEFAULT_LAYOUT",
    "LAYOUTS",
    "AndroidLayout",
    "IOSAppLayout",
    "InstallError",
    "InstallItem",
    "InstallReport",
    "Layout",
    "LayoutOptions",
    "PyodideLayout",
    "SitePackagesLayout",
    "check_for_target",
    "layout_for",
]
