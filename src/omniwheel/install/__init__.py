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

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (SitePackagesLayout(), IOSAppLayout(), AndroidLayout(), PyodideLayout())
}

#: The layout an install uses when ``--layout`` is not given, by platform family.
DEFAULT_LAYOUT = {"ios": "ios-app", "android": "android", "emscripten": "pyodide"}

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
]
