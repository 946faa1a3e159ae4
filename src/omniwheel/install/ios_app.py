"""``ios-app``: the PEP 730 app layout, as CPython's iOS testbed build phase produces it.

iOS loads binary code only from frameworks, so every extension module moves to
``Frameworks/<dotted.module>.framework/<dotted.module>`` with an Info.plist; a
``.fwork`` file left where the ``.so`` was tells CPython's AppleFrameworkLoader
where the binary went, and a ``.origin`` file in the framework points back.
Code signing is left to Xcode.

Libraries a wheel ships beside its modules (``repair`` vendors them to
``<package>/.dylibs/``, as delocate does) are binary code too: each moves to
``Frameworks/<dotted.path>.framework`` (``demo/.dylibs/libbar-1a2b3c4d.dylib`` →
``demo.dylibs.libbar``), and every ``@loader_path`` reference to it from a
moved module or library becomes ``@loader_path/../<it>.framework/<it>``, which
holds wherever Xcode embeds the frameworks side by side. The edited binaries
are re-signed ad hoc where they were signed.

Installed for device and simulator at once (``install_slices``), each module
becomes ``Frameworks/<dotted.module>.xcframework`` with one framework per slice
(``ios-arm64``, ``ios-arm64_x86_64-simulator``: simulator architectures joined
into one universal binary) and the Info.plist ``xcodebuild -create-xcframework``
writes; Xcode embeds the matching slice's framework as ``Frameworks/<module>.framework``,
which is where the ``.fwork`` files point. Python files go in once.
"""

from __future__ import annotations

import json
import plistlib
import posixpath
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.version import Version

from omniwheel.datafiles import load_table
from omniwheel.install.base import InstallError, InstallItem, InstallReport, LayoutOptions
from omniwheel.install.images import Executable, Source, image_files
from omniwheel.install.site_packages import (
    Installed,
    SitePackagesLayout,
    image_cache,
    install_wheel,
    installed_files,
    owned_paths,
    read_installed,
    remove_installed,
)
from omniwheel.platforms import Platform, parse_platform, supported_tags
from omniwheel.platforms.data import format_version
from omniwheel.wheel import Record, WheelFilename

_PLACERS = 8
_COPY_HASH = re.compile(r"-[0-9a-f]{8}$")  # repair's copies: libbar-1a2b3c4d.dylib
_BUNDLE_KINDS = ("framework", "xcframework")


def _settings() -> dict[str, Any]:
    return load_table("omniwheel.install", "ios.toml")


def module_name(relative: str) -> str:
    """``markupsafe/_speedups.cpython-313-iphoneos.so`` -> ``markupsafe._speedups``."""
    directory, basename = posixpath.split(relative)
    stem = basename.split(".", 1)[0]
    return ".".join([*directory.split("/"), stem]) if directory else stem


def library_name(relative: str) -> str:
    """``demo/.dylibs/libbar-1a2b3c4d.dylib`` -> ``demo.dylibs.libbar`` (a framework name).

    The content hash ``repair`` gives its copies is dropped: the device and simulator
    copies of a library differ in content, and their frameworks must pair up in one
    XCFramework.
    """
    stem = _COPY_HASH.sub("", relative.removesuffix(".dylib"))
    return ".".join(part for part in (p.lstrip(".") for p in stem.split("/")) if part)


def _installed(dists: Installed, suffix: str) -> list[str]:
    """The files (relative to the packages directory) with ``suffix`` the RECORDs of
    installed ``dists`` list."""
    return sorted(path for paths in dists.values() for path in paths if path.endswith(suffix))


def _extension_modules(dists: Installed) -> list[str]:
    return _installed(dists, ".so")


def _libraries(dists: Installed) -> list[str]:
    return _installed(dists, ".dylib")


def _fwork(extension_module: str) -> str:
    """The ``.fwork`` file left where an extension module (``….so``) was."""
    return extension_module.removesuffix(".so") + ".fwork"


def _bundles(dists: Installed) -> list[str]:
    """The frameworks and XCFrameworks (relative to the app) ``dists``' binaries were moved to."""
    modules = [module_name(relative) for relative in _extension_modules(dists)]
    frameworks = modules + [library_name(relative) for relative in _libraries(dists)]
    directory = _settings()["frameworks_dir"]
    return [f"{directory}/{name}.{kind}" for name in frameworks for kind in _BUNDLE_KINDS]


def _minimum_ios(wheel_filename: str, platform: Platform) -> str:
    """The minimum iOS of the wheel's platform tag the target accepts (``13.0``)."""
    tags = supported_tags(platform, WheelFilename.parse(wheel_filename).tags)
    ios_tags = [tag.platform for tag in tags if tag.platform != "any"]
    min_os = parse_platform(ios_tags[0]).min_os if ios_tags else platform.min_os
    assert min_os is not None, "iOS platforms always carry a minimum version"
    return format_version(min_os)


def framework_info(module: str, minimum_ios: str, app_id: str) -> bytes:
    """One module framework's Info.plist (``data/ios.toml`` holds the fixed keys)."""
    info = {
        **_settings()["info_plist"],
        "CFBundleExecutable": module,
        "CFBundleIdentifier": f"{app_id}.{module}".replace("_", "-"),
        "MinimumOSVersion": minimum_ios,
    }
    return plistlib.dumps(info, fmt=plistlib.FMT_XML)


class IOSAppLayout(SitePackagesLayout):
    """Packages in ``<app>/app_packages``, binaries as frameworks in ``<app>/Frameworks``."""

    name = "ios-app"
    families = frozenset({"ios"})

    def image_settings(self, platform: Platform, options: LayoutOptions) -> tuple[str, ...]:
        return (self.name, json.dumps(platform.to_json(), sort_keys=True), options.app_id)

    def build_image(
        self, item: InstallItem, platform: Platform, image: Path, options: LayoutOptions
    ) -> None:
        packages = self.packages(image)
        install_wheel(item, platform, packages)
        minimum = _minimum_ios(item.wheel.filename, platform)
        dists = read_installed(packages)
        modules = _extension_modules(dists)
        libraries = {lib: library_name(lib) for lib in _libraries(dists)}
        if libraries:
            _relink(packages, [*modules, *libraries], libraries)
        for relative in modules:
            info = framework_info(module_name(relative), minimum, options.app_id)
            _frame(image, packages, relative, info)
        for relative, framework in libraries.items():
            info = framework_info(framework, minimum, options.app_id)
            _frame_library(image, packages / relative, framework, info)

    def packages(self, into: Path) -> Path:
        directory: str = _settings()["packages_dir"]
        return into / directory

    def owned(self, installed: Installed) -> set[str]:
        """Besides the RECORDs' files: the ``.fwork`` files and the bundles their binaries
        were moved to (the frameworks' own files are not listed anywhere)."""
        owned = owned_paths(installed, _settings()["packages_dir"] + "/")
        owned.update([_fwork(path) for path in owned if path.endswith(".so")])
        owned.update(_bundles(installed))
        return owned

    def destinations(self, relatives: Iterable[str]) -> set[str]:
        """A framework's files as their bundle: an upgrade removes the whole bundle, so a
        bundle made by hand is the user's even where no file name collides."""
        frameworks = _settings()["frameworks_dir"] + "/"
        return {
            frameworks + relative.removeprefix(frameworks).partition("/")[0]
            if relative.startswith(frameworks)
            else relative
            for relative in relatives
        }

    def remove_earlier(self, into: Path, name: str, installed: Installed) -> None:
        """Remove an earlier install's frameworks (and XCFrameworks), ``.fwork`` files and
        packages."""
        packages = self.packages(into)
        dists = installed_files(installed, name)
        for relative in _extension_modules(dists):
            (packages / _fwork(relative)).unlink(missing_ok=True)
        for bundle in _bundles(dists):
            shutil.rmtree(into / bundle, ignore_errors=True)
        remove_installed(packages, dists)

    def created(self, files: Sequence[Mapping[str, Source]]) -> list[str]:
        frameworks = _settings()["frameworks_dir"] + "/"
        return [
            relative
            for group in files
            for relative in group
            if relative.startswith(frameworks) or relative.endswith(".fwork")
        ]

    def install_slices(
        self,
        groups: Sequence[tuple[Platform, Sequence[InstallItem]]],
        into: Path,
        options: LayoutOptions,
    ) -> InstallReport:
        """Install each platform's wheels as one app: Python files once (they must be the
        same for every platform), every module's frameworks as an XCFramework."""
        for platform, _ in groups:
            self.check_platform(platform)
        with image_cache(options) as cache:
            built = [
                (
                    platform,
                    [image_files(image) for image in self.images(cache, items, platform, options)],
                )
                for platform, items in groups
            ]
            files = _assemble(built)
            names = list(dict.fromkeys(item.wheel.name for _, items in groups for item in items))
            # Placed in a few groups, several at once, as single-platform installs are.
            items = list(files.items())
            groups_of_files = [dict(items[start::_PLACERS]) for start in range(_PLACERS)]
            self.place(into, names, groups_of_files, options)
        # A pure wheel serves every platform: report each wheel file once.
        installed = {item.wheel.filename: item for _, items in groups for item in items}
        report = InstallReport(self.name, into, groups[0][0], list(installed.values()))
        report.platforms = [platform for platform, _ in groups]
        report.created += self.created([files])
        return report


def _frame(image: Path, packages: Path, relative: str, info: bytes) -> None:
    """Move one extension module of an image into its framework (``info``: its Info.plist)."""
    settings = _settings()
    module = module_name(relative)
    framework = f"{settings['frameworks_dir']}/{module}.framework"
    binary = f"{framework}/{module}"
    extension = packages / relative
    fwork = packages / _fwork(relative)
    (image / framework).mkdir(parents=True, exist_ok=True)
    (image / framework / "Info.plist").write_bytes(info)
    extension.replace(image / binary)
    fwork.write_bytes(f"{binary}\n".encode())
    origin = f"{fwork.relative_to(image).as_posix()}\n"
    (image / framework / f"{module}.origin").write_bytes(origin.encode())
    privacy = extension.parent / f"{extension.name.split('.', 1)[0]}.xcprivacy"
    if privacy.is_file():
        privacy.replace(image / framework / settings["privacy_manifest"])


def _relink(packages: Path, binaries: Sequence[str], libraries: Mapping[str, str]) -> None:
    """Point ``binaries``' ``@loader_path`` references to ``libraries`` at their frameworks
    (``libraries``: path → framework name), and give each library its framework's id."""
    from omniwheel.binaries.macho import parse_macho
    from omniwheel.rewrite.macho_edit import MachOChanges, edit_macho

    for relative in binaries:
        path = packages / relative
        data = path.read_bytes()
        names = {}
        for slice_ in parse_macho(data).slices:
            for dylib in slice_.dylibs:
                rest = dylib.path.removeprefix("@loader_path/")
                target = posixpath.normpath(posixpath.join(posixpath.dirname(relative), rest))
                if rest != dylib.path and target in libraries:
                    names[dylib.path] = f"@loader_path/../{_framework_binary(libraries[target])}"
        own = libraries.get(relative)
        identity = f"@rpath/{_framework_binary(own)}" if own else None
        if names or identity:
            path.write_bytes(edit_macho(data, MachOChanges(dylibs=names, id_dylib=identity)))


def _framework_binary(framework: str) -> str:
    return f"{framework}.framework/{framework}"


def _frame_library(image: Path, library: Path, framework: str, info: bytes) -> None:
    """Move one shipped library of an image into its framework (no ``.fwork``: not a module)."""
    bundle = image / _settings()["frameworks_dir"] / f"{framework}.framework"
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "Info.plist").write_bytes(info)
    library.replace(bundle / framework)


def library_identifier(architectures: Sequence[str], simulator: bool) -> str:
    """An XCFramework slice's name as Xcode makes it: ``ios-arm64_x86_64-simulator``."""
    settings = _settings()["xcframework"]
    variant = f"-{settings['simulator_variant']}" if simulator else ""
    return f"{settings['platform']}-{'_'.join(sorted(architectures))}{variant}"


def _assemble(built: Sequence[tuple[Platform, list[dict[str, str]]]]) -> dict[str, Source]:
    """One app's files from per-platform images: frameworks regrouped into XCFrameworks,
    every other file taken once (RECORD and WHEEL of a project merged across platforms)."""
    frameworks = _settings()["frameworks_dir"] + "/"
    merged: dict[str, Source] = {}
    # module -> simulator? -> file inside the framework -> [(architecture, image file)]
    parts: dict[str, dict[bool, dict[str, list[tuple[str, str]]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for platform, images in built:
        simulator = platform.variant == "iphonesimulator"
        for files in images:
            for relative, source in files.items():
                if relative.startswith(frameworks):
                    bundle, _, inner = relative.removeprefix(frameworks).partition("/")
                    module = bundle.removesuffix(".framework")
                    parts[module][simulator][inner].append((platform.arch, source))
                else:
                    _take(merged, relative, source)
    for module, by_variant in sorted(parts.items()):
        merged.update(_xcframework(frameworks, module, by_variant))
    return merged


def _take(merged: dict[str, Source], relative: str, source: str) -> None:
    """Add one file; a second, different copy is an error unless it is a RECORD or WHEEL."""
    known = merged.get(relative)
    if known is None or known == source:
        merged[relative] = source
        return
    old = known if isinstance(known, bytes) else Path(known).read_bytes()
    new = Path(source).read_bytes()
    if old == new:
        return
    if relative.endswith(".dist-info/RECORD"):
        merged[relative] = _merge_record(relative, old, new)
    elif relative.endswith(".dist-info/WHEEL"):
        tags = [line for line in new.splitlines(keepends=True) if line.startswith(b"Tag:")]
        merged[relative] = old + b"".join(tag for tag in tags if tag not in old.splitlines(True))
    else:
        raise InstallError(
            f"{relative} differs between the platforms' wheels; a multi-platform iOS install "
            "needs the same Python files for every platform (same versions of every project)"
        )


def _merge_record(relative: str, old: bytes, new: bytes) -> bytes:
    """The rows of both RECORDs (each platform's extension modules), the RECORD row last."""
    first = Record.parse(old, wheel=relative, member="RECORD")
    second = Record.parse(new, wheel=relative, member="RECORD")
    rows = [*first, *(entry for entry in second if entry.path not in first)]
    last = [entry for entry in rows if entry.path.endswith(".dist-info/RECORD")]
    return Record([*(entry for entry in rows if entry not in last), *last]).serialize()


def _xcframework(
    frameworks: str, module: str, by_variant: Mapping[bool, Mapping[str, list[tuple[str, str]]]]
) -> dict[str, Source]:
    """``Frameworks/<module>.xcframework``: a framework per slice, and its Info.plist."""
    from omniwheel.rewrite.macho_edit import join_macho

    settings = _settings()["xcframework"]
    root = f"{frameworks}{module}.xcframework"
    files: dict[str, Source] = {}
    libraries = []
    for simulator, inner_files in sorted(by_variant.items()):
        architectures = sorted(arch for arch, _ in inner_files[module])
        identifier = library_identifier(architectures, simulator)
        for inner, sources in inner_files.items():
            target = f"{root}/{identifier}/{module}.framework/{inner}"
            paths = [path for _, path in sources]
            if len(paths) == 1:
                files[target] = paths[0]
            elif inner == module:
                files[target] = Executable(join_macho([Path(path).read_bytes() for path in paths]))
            elif inner == "Info.plist":
                files[target] = _newest_minimum([Path(path).read_bytes() for path in paths])
            else:
                contents = {Path(path).read_bytes() for path in paths}
                if len(contents) > 1:
                    raise InstallError(
                        f"{module}.framework/{inner} differs between the "
                        f"{', '.join(architectures)} simulator wheels"
                    )
                files[target] = paths[0]
        library = {
            "BinaryPath": f"{module}.framework/{module}",
            "LibraryIdentifier": identifier,
            "LibraryPath": f"{module}.framework",
            "SupportedArchitectures": architectures,
            "SupportedPlatform": settings["platform"],
        }
        if simulator:
            library["SupportedPlatformVariant"] = settings["simulator_variant"]
        libraries.append(library)
    info = {
        "AvailableLibraries": libraries,
        "CFBundlePackageType": settings["package_type"],
        "XCFrameworkFormatVersion": settings["format_version"],
    }
    files[f"{root}/Info.plist"] = plistlib.dumps(info, fmt=plistlib.FMT_XML)
    return files


def _newest_minimum(plists: list[bytes]) -> bytes:
    """One Info.plist for a universal binary: the highest MinimumOSVersion of its parts."""
    infos = [plistlib.loads(data) for data in plists]
    newest = max(infos, key=lambda info: Version(info["MinimumOSVersion"]))
    return plistlib.dumps(newest, fmt=plistlib.FMT_XML)
