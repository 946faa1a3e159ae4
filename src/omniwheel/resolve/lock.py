"""PEP 751 ``pylock.toml``: one lock serving one or several target platforms.

Each platform contributes an ``environments`` marker; a package needed on only
some platforms (or at different versions) carries a marker naming them, and
lists the wheel each platform chose. ``Pylock.select`` must pick back exactly the
wheels we chose, and ``packaging.pylock`` validates every lock we write.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.pylock import (
    Package,
    PackageArchive,
    PackageDirectory,
    PackageSdist,
    PackageVcs,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockValidationError,
)
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from omniwheel import __version__
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.files import atomic_output
from omniwheel.platforms import Platform, compatible_tags, marker_environment
from omniwheel.resolve.resolver import Resolution
from omniwheel.resolve.simple import IndexFile
from omniwheel.resolve.sources import local_path

LOCK_VERSION = Version("1.0")
_CREATED_BY = "omniwheel"


class LockError(OmniwheelError):
    """A lock that cannot be written for these platforms, or read, or selected from."""


class LockedWheel(NamedTuple):
    """One wheel an install takes from a lock: where it is, what its bytes must hash to and
    (when the lock says) how many there are, for a progress bar's total."""

    name: NormalizedName
    version: Version
    filename: str
    location: str  # a URL, or an absolute path
    sha256: str
    size: int | None
    dependencies: tuple[NormalizedName, ...]


def platform_marker(platform: Platform) -> Marker:
    """The environment marker of one target: its OS, CPU and Python feature release."""
    environment = marker_environment(platform)
    return Marker(
        f'sys_platform == "{environment["sys_platform"]}" and '
        f'platform_machine == "{environment["platform_machine"]}" and '
        f'python_version == "{environment["python_version"]}"'
    )


class _Entry(NamedTuple):
    """One project version in the lock: the platforms needing it, their wheels, its deps."""

    platforms: list[Platform]
    files: dict[str, IndexFile]
    dependencies: set[NormalizedName]


def _wheel_entry(file: IndexFile, sha256: str, lock_dir: Path) -> PackageWheel:
    """Find-links files are recorded by path (relative when under the lock), the rest by URL."""
    path = local_path(file.url) if file.index is None else None
    url = None if path is not None else file.url
    written = None
    if path is not None:
        try:
            written = path.relative_to(lock_dir.resolve()).as_posix()
        except ValueError:
            written = str(path)
    return PackageWheel(
        name=file.filename, url=url, path=written, size=file.size, hashes={"sha256": sha256}
    )


def build_lock(
    resolutions: Sequence[Resolution], sha256_of: Callable[[IndexFile], str], lock_dir: Path
) -> Pylock:
    """One lock for every resolution; raises ``LockError`` if markers cannot tell apart two
    platforms that need different versions of a project, or if ``Pylock.select`` would not
    pick back each platform's wheels. (``write_lock`` validates what reaches a file; an
    install from this lock in memory skips that round trip through dicts.)"""
    entries: dict[tuple[NormalizedName, Version], _Entry] = {}
    for resolution in resolutions:
        for package in resolution.packages.values():
            entry = entries.setdefault((package.name, package.version), _Entry([], {}, set()))
            entry.platforms.append(resolution.platform)
            entry.files[package.file.filename] = package.file
            entry.dependencies.update(package.dependencies)
    markers = {
        resolution.platform: str(platform_marker(resolution.platform)) for resolution in resolutions
    }
    _check_distinguishable(entries, markers)
    everywhere = set(markers.values())
    packages = []
    for (name, version), entry in sorted(entries.items()):
        own = sorted({markers[platform] for platform in entry.platforms})
        marker = None if set(own) == everywhere else Marker(" or ".join(f"({m})" for m in own))
        packages.append(
            Package(
                name=name,
                version=version,
                marker=marker,
                requires_python=None,
                dependencies=[{"name": dependency} for dependency in sorted(entry.dependencies)],
                index=next(iter(entry.files.values())).index,
                wheels=[
                    _wheel_entry(file, sha256_of(file), lock_dir)
                    for _, file in sorted(entry.files.items())
                ],
                tool={
                    "omniwheel": {"platforms": sorted(str(p.wheel_tag) for p in entry.platforms)}
                },
            )
        )
    lock = Pylock(
        lock_version=LOCK_VERSION,
        environments=[Marker(marker) for marker in sorted(everywhere)],
        created_by=_CREATED_BY,
        packages=packages,
        tool={
            "omniwheel": {
                "version": __version__,
                "platforms": [r.platform.wheel_tag for r in resolutions],
            }
        },
    )
    for resolution in resolutions:
        chosen = {p.file.filename for p in resolution.packages.values()}
        selected = {wheel.filename for _, wheel in select_wheels(lock, resolution.platform)}
        if chosen != selected:
            raise LockError(
                f"the lock cannot express the choice for {resolution.platform}: it would "
                f"install {sorted(selected ^ chosen)} differently; lock that platform separately"
            )
    return lock


def _check_distinguishable(
    entries: Mapping[tuple[NormalizedName, Version], _Entry], markers: Mapping[Platform, str]
) -> None:
    versions_by_marker: dict[tuple[NormalizedName, str], dict[Version, Platform]] = {}
    for (name, version), entry in entries.items():
        for platform in entry.platforms:
            seen = versions_by_marker.setdefault((name, markers[platform]), {})
            seen.setdefault(version, platform)
    for (name, _), versions in versions_by_marker.items():
        if len(versions) > 1:
            described = ", ".join(f"{v} on {p}" for v, p in sorted(versions.items()))
            raise LockError(
                f"{name} resolves differently on platforms that environment markers cannot "
                f"tell apart ({described}); lock these platforms in separate files"
            )


#: How a message names each source ``Pylock.select`` may give instead of a wheel.
_SOURCE_KINDS = {
    PackageSdist: "an sdist",
    PackageArchive: "an archive",
    PackageDirectory: "a local directory",
    PackageVcs: "a VCS checkout",
}


def select_wheels(lock: Pylock, platform: Platform) -> list[tuple[Package, PackageWheel]]:
    """What ``Pylock.select`` installs on ``platform`` (wheels only: we never build)."""
    environment = dict(marker_environment(platform))
    selected: list[tuple[Package, PackageWheel]] = []
    try:
        for package, source in lock.select(
            environment=environment,  # type: ignore[arg-type]
            tags=compatible_tags(platform),
        ):
            if not isinstance(source, PackageWheel):
                raise LockError(
                    f"the lock names {_SOURCE_KINDS[type(source)]} for {package.name} and no "
                    f"wheel for {platform}; omniwheel installs wheels only"
                )
            selected.append((package, source))
    except PylockSelectError as exc:
        raise LockError(f"the lock has nothing for {platform}: {exc}") from exc
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise LockError(
            f"the lock's marker {_unevaluable_marker(lock, environment)} cannot be evaluated "
            f"for {platform} ({exc}); ~= and === compare versions only"
        ) from exc
    return selected


def _unevaluable_marker(lock: Pylock, environment: Mapping[str, str]) -> str:
    """Which marker ``select`` could not evaluate (it does not say), named by its package."""
    for package in lock.packages:
        if package.marker is None:
            continue
        try:
            package.marker.evaluate(environment, context="lock_file")
        except (UndefinedComparison, UndefinedEnvironmentName):
            return f"{package.marker} (of {package.name})"
    return "in environments"


def locked_wheels(lock: Pylock, platform: Platform, lock_dir: Path) -> list[LockedWheel]:
    """The wheels to install on ``platform``, each with its location and required sha256."""
    wheels = []
    for package, wheel in select_wheels(lock, platform):
        sha256 = wheel.hashes.get("sha256")
        if not sha256:
            raise LockError(
                f"{wheel.filename} in the lock has no sha256 hash; omniwheel installs only "
                "hash-checked files (re-create the lock with omniwheel lock)"
            )
        if wheel.url is not None:
            location = wheel.url
        else:
            location = str((lock_dir / (wheel.path or "")).resolve())
        wheels.append(
            LockedWheel(
                name=package.name,
                version=package.version or Version("0"),
                filename=wheel.filename,
                location=location,
                sha256=sha256,
                size=wheel.size,
                dependencies=tuple(
                    canonicalize_name(d["name"]) for d in package.dependencies or [] if "name" in d
                ),
            )
        )
    return wheels


def read_lock(path: Path) -> Pylock:
    """Load and validate a ``pylock.toml``; bad input is one clear ``UsageError``."""
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except OSError as exc:
        raise UsageError(f"cannot read lock file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path} is not a TOML lock: byte {exc.start} is not UTF-8 ({exc.reason})"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise UsageError(f"{path} is not a valid PEP 751 lock: {exc}") from exc


def check_lock_path(path: Path) -> None:
    """Refuse an output path no lock can be written to: before resolving (a typo then
    costs no resolution) and again in ``write_lock``."""
    if path.is_dir():
        raise UsageError(
            f"cannot write the lock to {path}: it is a directory; give a file path such as "
            f"{path / 'pylock.toml'}"
        )
    if not path.parent.is_dir():
        raise UsageError(
            f"cannot write the lock to {path}: {path.parent} is not an existing directory"
        )


def write_lock(lock: Pylock, path: Path) -> None:
    """Write atomically, only a lock ``packaging.pylock`` accepts; the text is stable
    (sorted packages, fixed key order)."""
    check_lock_path(path)
    document = lock.to_dict()
    try:
        Pylock.from_dict(document)
    except PylockValidationError as exc:
        raise LockError(f"refusing to write {path}: not a valid PEP 751 lock ({exc})") from exc
    try:
        with atomic_output(path) as stream:
            stream.write(dumps_toml(document).encode())
    except OSError as exc:
        raise LockError(f"cannot write the lock to {path}: {exc.strerror}") from exc


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Iterable):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else json.dumps(key)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dumps_toml(document: Mapping[str, Any], prefix: str = "") -> str:
    """TOML for a pylock document: scalars inline, ``packages``/``wheels`` as arrays of tables.

    Small mappings (``hashes``, each dependency, ``tool`` tables) are written inline.
    """
    lines = []
    tables = []
    for key, value in document.items():
        if key in ("packages", "wheels") and _is_table_array(value):
            tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, items in tables:
        for item in items:
            name = f"{prefix}{_key(key)}"
            text += f"\n[[{name}]]\n" + dumps_toml(item, f"{name}.")
    return text
