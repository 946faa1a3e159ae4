"""``site-packages``: wheels unpacked as ``pip install --target`` would, by pypa/installer.

installer applies the wheel spec's rules (RECORD written afresh, ``.data``
directories spread into the scheme, console scripts generated). Nothing is
byte-compiled: the host's bytecode is not the target's.
"""

from __future__ import annotations

import posixpath
import shutil
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from packaging.utils import canonicalize_name

from omniwheel.install.base import InstallItem, InstallReport, Layout, LayoutOptions
from omniwheel.platforms import Platform
from omniwheel.wheel import Record

if TYPE_CHECKING:  # a typing-only alias in installer
    from installer.scripts import LauncherKind

_INSTALLER = b"omniwheel\n"
_WORKERS = 8
_WINDOWS_LAUNCHERS: dict[str, LauncherKind] = {
    "x86_64": "win-amd64",
    "arm64": "win-arm64",
    "x86": "win-ia32",
}


def _script_kind(platform: Platform) -> LauncherKind:
    if platform.family.name == "windows":
        return _WINDOWS_LAUNCHERS.get(platform.arch, "win-amd64")
    return "posix"


def installed_files(target: Path, name: str) -> dict[Path, list[str]]:
    """The ``.dist-info`` directories of project ``name`` in ``target`` and their RECORD paths."""
    wanted = canonicalize_name(name)
    found: dict[Path, list[str]] = {}
    for dist_info in sorted(target.glob("*.dist-info")):
        project = dist_info.name.removesuffix(".dist-info").rpartition("-")[0]
        if canonicalize_name(project) != wanted:
            continue
        record = dist_info / "RECORD"
        rows: list[str] = []
        if record.is_file():
            parsed = Record.parse(record.read_bytes(), wheel=str(dist_info), member="RECORD")
            rows = [entry.path for entry in parsed]
        found[dist_info] = rows
    return found


def remove_installed(target: Path, name: str) -> None:
    """Uninstall an earlier install of project ``name`` from ``target`` by its RECORD."""
    root = target.resolve()
    for dist_info, rows in installed_files(target, name).items():
        for row in rows:
            path = (target / row).resolve()
            if path.is_relative_to(root) and path.is_file():
                path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)


def _scheme(target: Path, name: str) -> dict[str, str]:
    return {
        "purelib": str(target),
        "platlib": str(target),
        "scripts": str(target / "bin"),
        "data": str(target),
        "headers": str(target / "include" / name),
    }


def _make_parents(names: list[str], data_dir: str, scheme: dict[str, str]) -> None:
    """Create every directory the wheel writes into, before any thread writes.

    installer creates a missing parent with a check-then-mkdir, which two threads
    installing wheels that share a directory (``bin``, a namespace package) could race.
    """
    data_dir = f"{data_dir}/"
    parents = {scheme["scripts"]}
    for name in names:
        if name.endswith("/"):
            continue
        if name.startswith(data_dir):
            key, _, rest = name.removeprefix(data_dir).partition("/")
            if key in scheme and rest:
                parents.add(posixpath.dirname(posixpath.join(scheme[key], rest)))
        else:
            parents.add(posixpath.dirname(posixpath.join(scheme["purelib"], name)))
    for parent in sorted(parents):
        Path(parent).mkdir(parents=True, exist_ok=True)


def install_wheel(item: InstallItem, platform: Platform, target: Path) -> None:
    """Unpack one wheel into ``target`` (purelib and platlib alike), replacing an earlier one."""
    target.mkdir(parents=True, exist_ok=True)
    remove_installed(target, item.wheel.name)
    scheme = _scheme(target, item.wheel.name)
    destination = SchemeDictionaryDestination(
        scheme,
        interpreter="/usr/bin/env python3",
        script_kind=_script_kind(platform),
        bytecode_optimization_levels=(),
    )
    with zipfile.ZipFile(item.path) as archive:
        source = WheelFile(archive)
        _make_parents(archive.namelist(), source.data_dir, scheme)
        install(source, destination, additional_metadata={"INSTALLER": _INSTALLER})


def install_all(items: Sequence[InstallItem], platform: Platform, target: Path) -> None:
    """Install every wheel, several at once: creating files dominates, and it waits on I/O."""
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for future in [pool.submit(install_wheel, item, platform, target) for item in items]:
            future.result()


class SitePackagesLayout(Layout):
    """A plain ``site-packages`` directory (``pip install --target``)."""

    name = "site-packages"

    def install(
        self, items: Sequence[InstallItem], platform: Platform, into: Path, options: LayoutOptions
    ) -> InstallReport:
        install_all(items, platform, into)
        return InstallReport(self.name, into, platform, list(items))


class AndroidLayout(SitePackagesLayout):
    """An Android app's Python packages: extension modules stay beside their packages,
    where Chaquopy and Briefcase load them from."""

    name = "android"
    families = frozenset({"android"})
