"""``site-packages``: wheels unpacked as ``pip install --target`` would, by pypa/installer.

installer applies the wheel spec's rules (RECORD written afresh, ``.data``
directories spread into the scheme, console scripts generated). Nothing is
byte-compiled: the host's bytecode is not the target's. Scripts look the target's
Python up on ``PATH`` (where it is installed there is unknown here): POSIX scripts
start ``#!/usr/bin/env python3``; Windows launchers run ``python.exe`` (gui scripts
``pythonw.exe``), a name ending in ``.exe`` as the launcher needs, which Windows
looks up beside the launcher, then on ``PATH``.
"""

from __future__ import annotations

import glob
import io
import posixpath
import shutil
import tempfile
import zipfile
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from omniwheel.install.base import (
    InstallItem,
    InstallReport,
    Layout,
    LayoutOptions,
    refuse_foreign_files,
)
from omniwheel.install.images import ImageCache, Placer, Source, image_files, image_key
from omniwheel.platforms import Platform
from omniwheel.wheel import Record, RecordEntry

if TYPE_CHECKING:  # installer is imported where a wheel is unpacked
    from installer.destinations import SchemeDictionaryDestination
    from installer.records import RecordEntry as InstallerRecordEntry
    from installer.scripts import LauncherKind, ScriptSection

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


def _interpreter(platform: Platform) -> str:
    """The command scripts start the target's Python with (see the module's docstring)."""
    return "python.exe" if platform.family.name == "windows" else "/usr/bin/env python3"


#: The distributions installed in a directory: each ``.dist-info`` and the paths its RECORD
#: lists (relative to that directory).
Installed = dict[Path, list[str]]


def read_installed(target: Path) -> Installed:
    """Every distribution installed in ``target`` (by omniwheel, pip or uv) and its RECORD
    paths: read once per install, for the upgrade's removals and the check for the user's
    own files."""
    found: Installed = {}
    for dist_info in sorted(target.glob("*.dist-info")):
        record = dist_info / "RECORD"
        rows: list[str] = []
        if record.is_file():
            parsed = Record.parse(record.read_bytes(), wheel=str(dist_info), member="RECORD")
            rows = [entry.path for entry in parsed]
        found[dist_info] = rows
    return found


def _project(dist_info: str) -> str:
    """The normalized project name of a ``<name>-<version>.dist-info`` directory name."""
    return canonicalize_name(dist_info.removesuffix(".dist-info").rpartition("-")[0])


def installed_files(installed: Installed, name: str) -> Installed:
    """The distributions of project ``name`` among ``installed``."""
    wanted = canonicalize_name(name)
    return {path: rows for path, rows in installed.items() if _project(path.name) == wanted}


def owned_paths(installed: Installed, prefix: str = "") -> set[str]:
    """The files ``installed`` lists inside their directory (the ones ``remove_installed``
    removes), normalized (omniwheel before image format 3 wrote ``./x``), each after
    ``prefix`` (the directory's path in the install directory)."""
    paths = {
        posixpath.normpath(row) if "./" in row or "//" in row else row
        for rows in installed.values()
        for row in rows
    }
    return {prefix + path for path in paths if not path.startswith(("../", "/")) and path != ".."}


def remove_installed(target: Path, dists: Installed) -> None:
    """Uninstall ``dists`` (from ``read_installed(target)``) by their RECORDs, with the
    bytecode of their removed ``.py`` files (the target's Python may have run them) and the
    directories that leaves empty: an emptied package would still import, as a namespace
    package."""
    root = target.resolve()
    parents: set[Path] = set()
    for dist_info, rows in dists.items():
        for row in rows:
            path = (target / row).resolve()
            if not path.is_relative_to(root):
                continue
            if path.is_file():
                path.unlink()
            if path.suffix == ".py":
                cached = path.parent / "__pycache__"
                for compiled in cached.glob(f"{glob.escape(path.stem)}.*.pyc"):
                    compiled.unlink()
                parents.add(cached)
            parents.add(path.parent)
        shutil.rmtree(dist_info, ignore_errors=True)
    _remove_empty(parents, root)


def _remove_empty(directories: Iterable[Path], root: Path) -> None:
    """Remove each directory and its parents below ``root`` while they are empty."""
    for directory in sorted(directories, key=lambda path: len(path.parts), reverse=True):
        while directory != root and directory.is_relative_to(root):
            try:
                directory.rmdir()
            except OSError:  # holds something (the user's own files, another project's)
                break  # or is gone already
            directory = directory.parent


def mark_requested(
    files: Mapping[str, Source], requested: Container[str], packages: str = ""
) -> dict[str, Source]:
    """``files`` with pip's ``REQUESTED`` marker (and its RECORD row, so that an upgrade
    removes it) in the dist-info of each project in ``requested``: the record of which
    projects the user asked for and which came as dependencies. ``packages`` is the
    prefix (``""`` or ``"dir/"``) of the directory the dist-info directories are in."""
    marked = dict(files)
    for relative in files:
        directory, _, member = relative.removeprefix(packages).partition("/")
        if not relative.startswith(packages) or member != "RECORD":
            continue
        if not directory.endswith(".dist-info") or _project(directory) not in requested:
            continue
        source = files[relative]
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        # Rows are handled as text: parsing a RECORD of thousands of rows would cost more
        # than the rest of the install.
        lines = data.rstrip(b"\n").split(b"\n")
        marker = f"{directory}/REQUESTED"
        if any(line.startswith(f"{marker},".encode()) for line in lines):
            continue  # the wheel ships its own (RECORD lists it): leave it as it is
        row = Record([RecordEntry.for_bytes(marker, b"")]).serialize().rstrip(b"\n")
        # Before RECORD's own row, last by convention.
        lines.insert(len(lines) - lines[-1].startswith(f"{directory}/RECORD,".encode()), row)
        marked[relative] = b"\n".join(lines) + b"\n"
        marked[f"{packages}{marker}"] = b""
    return marked


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


@cache
def _destination() -> type[SchemeDictionaryDestination]:
    """installer's destination, writing scripts that start the target's Python and RECORD
    paths as pip does (made on first use: installs from cached images never unpack a
    wheel, and importing installer is slow)."""
    from installer.destinations import SchemeDictionaryDestination
    from installer.scripts import Script
    from installer.utils import Scheme

    class TargetDestination(SchemeDictionaryDestination):
        def write_script(
            self, name: str, module: str, attr: str, section: ScriptSection
        ) -> InstallerRecordEntry:
            """installer's script, its POSIX shebang ``#!`` + the interpreter command as
            given: installer takes ``/usr/bin/env python3`` for a path with a space, and its
            ``/bin/sh`` wrapper runs that as one (missing) program."""
            if self.script_kind != "posix":
                return super().write_script(name, module, attr, section)
            # ``#!python`` is the wheel spec's placeholder, which write_file replaces.
            _, script = Script(name, module, attr, section).generate("python", "posix")
            with io.BytesIO(script) as stream:
                return self.write_file(Scheme("scripts"), name, stream, is_executable=True)

        def finalize_installation(
            self,
            scheme: Scheme,
            record_file_path: str,
            records: Iterable[tuple[Scheme, InstallerRecordEntry]],
        ) -> None:
            """RECORD paths without installer's ``./`` for files of other schemes in the
            same directory (``.data/platlib`` when purelib is the root: ``_scheme``)."""
            root = self.scheme_dict[scheme]
            same = {key for key, directory in self.scheme_dict.items() if directory == root}
            rows = ((scheme if key in same else key, entry) for key, entry in records)
            super().finalize_installation(scheme, record_file_path, rows)

    return TargetDestination


def install_wheel(item: InstallItem, platform: Platform, target: Path) -> None:
    """Unpack one wheel into ``target`` (purelib and platlib alike), an image's empty directory."""
    # Imported here: installs from cached images never unpack a wheel.
    from installer import install
    from installer.sources import WheelFile

    target.mkdir(parents=True, exist_ok=True)
    scheme = _scheme(target, item.wheel.name)
    destination = _destination()(
        scheme,
        interpreter=_interpreter(platform),
        script_kind=_script_kind(platform),
        bytecode_optimization_levels=(),
    )
    with zipfile.ZipFile(item.path) as archive:
        source = WheelFile(archive)
        _make_parents(archive.namelist(), source.data_dir, scheme)
        install(source, destination, additional_metadata={"INSTALLER": _INSTALLER})


@contextmanager
def image_cache(options: LayoutOptions) -> Iterator[ImageCache]:
    """The configured image cache, or a temporary one removed after the install."""
    if options.cache_dir is not None:
        yield ImageCache(options.cache_dir / "images")
        return
    with tempfile.TemporaryDirectory(prefix="omniwheel-images-") as scratch:
        yield ImageCache(Path(scratch))


class SitePackagesLayout(Layout):
    """A plain ``site-packages`` directory (``pip install --target``).

    Each wheel is unpacked once into an image (``images.py``) in this layout's final
    form; installs place the image's files. Subclasses change the image's form.
    """

    name = "site-packages"

    def image_settings(self, platform: Platform, options: LayoutOptions) -> tuple[str, ...]:
        """Everything besides the wheel's bytes that shapes its image."""
        return (self.name, _script_kind(platform))

    def build_image(
        self, item: InstallItem, platform: Platform, image: Path, options: LayoutOptions
    ) -> None:
        """Lay out one wheel in an empty directory, as if it were the install directory."""
        install_wheel(item, platform, image)

    def packages(self, into: Path) -> Path:
        """The directory under ``into`` that holds the installed ``.dist-info`` directories."""
        return into

    def owned(self, installed: Installed) -> set[str]:
        """The paths (relative to the install directory) that are files of the ``installed``
        distributions: an install may replace them."""
        return owned_paths(installed)

    def destinations(self, relatives: Iterable[str]) -> set[str]:
        """The paths (relative to the install directory) placing ``relatives`` would replace."""
        return set(relatives)

    def remove_earlier(self, into: Path, name: str, installed: Installed) -> None:
        """Remove what an earlier install of project ``name`` (among ``installed``) put
        under ``into``."""
        remove_installed(into, installed_files(installed, name))

    def images(
        self,
        cache: ImageCache,
        items: Sequence[InstallItem],
        platform: Platform,
        options: LayoutOptions,
    ) -> list[Path]:
        """Each item's image directory (built where missing, several at once)."""
        settings = self.image_settings(platform, options)

        def get(item: InstallItem) -> Path:
            key = image_key(item.wheel.sha256, *settings)
            return cache.get(key, lambda image: self.build_image(item, platform, image, options))

        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            return list(pool.map(get, items))

    def place(
        self,
        into: Path,
        names: Sequence[str],
        files: Sequence[Mapping[str, Source]],
        options: LayoutOptions,
    ) -> None:
        """Replace earlier installs of ``names`` by ``files`` (one mapping per wheel), after
        checking that no file of the user's own would be replaced. The projects asked for,
        and those an earlier install marked so, are marked ``REQUESTED``."""
        exists = into.is_dir()
        packages = self.packages(into)
        installed = read_installed(packages) if exists else {}
        earlier = {_project(path.name) for path in installed if (path / "REQUESTED").is_file()}
        requested = options.requested | earlier
        if requested:
            relative = packages.relative_to(into).as_posix()
            prefix = "" if relative == "." else f"{relative}/"
            files = [mark_requested(group, requested, prefix) for group in files]
        if exists:
            placed = self.destinations(relative for group in files for relative in group)
            refuse_foreign_files(into, placed, self.owned(installed))
            for name in names:
                self.remove_earlier(into, name, installed)
        placer = Placer(into, options.link_mode)
        placer.make_directories(relative for group in files for relative in group)
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for future in [pool.submit(placer.place, group) for group in files]:
                future.result()

    def install(
        self, items: Sequence[InstallItem], platform: Platform, into: Path, options: LayoutOptions
    ) -> InstallReport:
        report = InstallReport(self.name, into, platform, list(items))
        with image_cache(options) as cache:
            files = [image_files(image) for image in self.images(cache, items, platform, options)]
            self.place(into, [item.wheel.name for item in items], files, options)
        report.created += self.created(files)
        return report

    def created(self, files: Sequence[Mapping[str, Source]]) -> list[str]:
        """The placed files that are the layout's own, not the wheels'."""
        return []


class AndroidLayout(SitePackagesLayout):
    """An Android app's Python packages: extension modules stay beside their packages,
    where Chaquopy and Briefcase load them from."""

    name = "android"
    families = frozenset({"android"})
