"""``pyodide``: a directory Pyodide loads packages from: the wheels and a ``pyodide-lock.json``.

``loadPyodide({lockFileURL: "<dir>/pyodide-lock.json"})`` then
``pyodide.loadPackage("name")`` loads a package with its whole dependency tree
(Pyodide 0.27 under Node also needs ``packageCacheDir: "<dir>"``).
The npm ``pyodide`` package ships no packages, so every wheel, pure ones too,
is copied (or hard-linked) here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omniwheel.errors import UsageError
from omniwheel.files import write_atomic
from omniwheel.install.base import (
    InstallItem,
    InstallReport,
    Layout,
    LayoutOptions,
    refuse_foreign_files,
)
from omniwheel.install.images import ImageCache, Placer, image_key
from omniwheel.install.site_packages import image_cache
from omniwheel.platforms import Platform, marker_environment
from omniwheel.platforms.data import format_version

if TYPE_CHECKING:
    from omniwheel.wheel import Wheel

LOCK_FILE = "pyodide-lock.json"


def import_names(wheel: Wheel) -> list[str]:
    """Top-level import names: ``top_level.txt`` if the wheel has one, else from RECORD."""
    top_level = f"{wheel.dist_info}/top_level.txt"
    if top_level in wheel.archive:
        text = wheel.read_bytes(top_level).decode("utf-8")
        names = {line.strip().split("/")[0] for line in text.splitlines() if line.strip()}
    else:
        names = set()
        for entry in wheel.record:
            path = _site_path(wheel, entry.path)
            if path is None:
                continue
            first, _, rest = path.partition("/")
            if first == wheel.dist_info or first == "__pycache__":
                continue
            if rest:
                names.add(first)
            elif first.endswith((".py", ".so", ".pyd")):
                names.add(first.split(".", 1)[0])
    return sorted(name for name in names if name.isidentifier())


def _site_path(wheel: Wheel, member: str) -> str | None:
    """Where ``member`` lands relative to site-packages: ``.data/purelib`` and
    ``.data/platlib`` files beside the others (``None``: scripts, headers, data)."""
    data = f"{wheel.data_dir}/"
    if not member.startswith(data):
        return member
    scheme, _, rest = member.removeprefix(data).partition("/")
    return rest if scheme in ("purelib", "platlib") else None


def _entry(item: InstallItem, cache: ImageCache) -> dict[str, Any]:
    """The package's pyodide-lock.json entry; its imports read from the wheel once and kept
    in the image cache, as a one-file image."""

    def build(image: Path) -> None:
        from omniwheel.wheel import Wheel  # the zip reader, for a wheel not seen before

        with Wheel.open(item.path) as wheel:
            (image / "imports.json").write_text(json.dumps(import_names(wheel)))

    image = cache.get(image_key(item.wheel.sha256, PyodideLayout.name), build)
    imports = json.loads((image / "imports.json").read_text())
    return {
        "name": item.wheel.name,
        "version": str(item.wheel.version),
        "file_name": item.wheel.filename,
        "install_dir": "site",
        "sha256": item.wheel.sha256,
        "package_type": "package",
        "imports": imports,
        "depends": list(item.wheel.dependencies),
        "unvendored_tests": False,
    }


def lock_info(platform: Platform, pyodide_version: str | None) -> dict[str, str]:
    """The ``info`` block Pyodide compares with its runtime (platform, ABI, maybe version)."""
    emscripten = format_version(platform.min_os or (), "_")
    info = {
        "abi_version": platform.abi or "",
        "arch": platform.arch,
        "platform": f"emscripten_{emscripten}",
        "python": marker_environment(platform)["python_full_version"],
    }
    if pyodide_version is not None:
        info["version"] = pyodide_version
    return info


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_kind(value: object) -> str:
    """What ``value`` is in JSON's words, for errors about a document's shape."""
    return "null" if value is None else _JSON_KINDS.get(type(value), "a number")


def _read_lock(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``info`` and ``packages`` of the lock an earlier install wrote, refused in one line
    unless they have a Pyodide lock's shape (an install adds to them and removes the wheels
    they name)."""

    def refuse(problem: str) -> UsageError:
        return UsageError(
            f"{path} {problem}; an install adds to a Pyodide lock: fix it, or move it away "
            "to start a fresh one"
        )

    try:
        lock = json.loads(path.read_bytes())
    except ValueError as error:  # not JSON, or not in a JSON encoding
        raise refuse(f"is not JSON ({error})") from None
    if not isinstance(lock, dict):
        raise refuse(f'is {_json_kind(lock)}, not an object with "info" and "packages"')
    info, packages = lock.get("info", {}), lock.get("packages", {})
    if not isinstance(info, dict):
        raise refuse(f'has "info" {_json_kind(info)}, not an object')
    if not isinstance(info.get("version", ""), str):
        raise refuse(f'has "info" "version" {_json_kind(info["version"])}, not a string')
    if not isinstance(packages, dict):
        raise refuse(f'has "packages" {_json_kind(packages)}, not an object of entries by name')
    for name, entry in packages.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file_name"), str):
            raise refuse(f'has a "packages" entry {name!r} without a "file_name" string')
    return info, packages


def _check_abi(into: Path, earlier: Mapping[str, str], platform: Platform) -> None:
    """Refuse to add packages for another ABI to a lock: Pyodide would load the earlier
    ABI's binaries as well, and they cannot run there."""
    before, wanted = earlier.get("abi_version"), platform.abi or ""
    if before is not None and before != wanted:
        raise UsageError(
            f"{into} holds Pyodide packages for ABI {before or 'none'} ({LOCK_FILE}); "
            f"install for ABI {wanted or 'none'} into another directory"
        )


def _remove_replaced(into: Path, earlier: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """Delete the wheels in ``into`` the earlier lock named and the new one does not (an
    upgraded package's old version)."""
    kept = {entry["file_name"] for entry in now.values()}
    for entry in earlier.values():
        path = into / entry["file_name"]
        if entry["file_name"] not in kept and path.parent == into and path.suffix == ".whl":
            path.unlink(missing_ok=True)


class PyodideLayout(Layout):
    """Wheels plus a ``pyodide-lock.json`` listing each with its imports and dependencies."""

    name = "pyodide"
    families = frozenset({"emscripten"})

    def check_into(self, into: Path, platform: Platform) -> None:
        """A directory whose pyodide-lock.json is for another ABI is refused too."""
        super().check_into(into, platform)
        lock_path = into / LOCK_FILE
        if lock_path.is_file():
            _check_abi(into, _read_lock(lock_path)[0], platform)

    def install(
        self, items: Sequence[InstallItem], platform: Platform, into: Path, options: LayoutOptions
    ) -> InstallReport:
        lock_path = into / LOCK_FILE
        # Keep what an earlier install into this directory added.
        earlier_info, earlier = _read_lock(lock_path) if lock_path.is_file() else ({}, {})
        # The Pyodide release an earlier install named stays unless another one is given.
        version = options.pyodide_version or earlier_info.get("version")
        _check_abi(into, earlier_info, platform)
        info = lock_info(platform, version)
        # Wheels not already in place (a wheel given from ``into`` itself stays).
        copied = [
            item for item in items if item.path.resolve() != (into / item.wheel.filename).resolve()
        ]
        refuse_foreign_files(
            into,
            {item.wheel.filename for item in copied},
            {entry["file_name"] for entry in earlier.values()},
        )
        packages = dict(earlier)
        into.mkdir(parents=True, exist_ok=True)
        placer = Placer(into, options.link_mode)
        with image_cache(options) as cache:
            for item in copied:
                placer.place({item.wheel.filename: str(item.path)})
            for item in items:
                packages[item.wheel.name] = _entry(item, cache)
        document = {"info": info, "packages": dict(sorted(packages.items()))}
        write_atomic(lock_path, (json.dumps(document, indent=2) + "\n").encode())
        _remove_replaced(into, earlier, packages)
        report = InstallReport(self.name, into, platform, list(items))
        report.created.append(LOCK_FILE)
        return report
