"""``ios-app``: the PEP 730 app layout, as CPython's iOS testbed build phase produces it.

iOS loads binary code only from frameworks, so every extension module moves to
``Frameworks/<dotted.module>.framework/<dotted.module>`` with an Info.plist; a
``.fwork`` file left where the ``.so`` was tells CPython's AppleFrameworkLoader
where the binary went, and a ``.origin`` file in the framework points back.
Code signing is left to Xcode.
"""

from __future__ import annotations

import plistlib
import posixpath
import shutil
import tomllib
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from omniwheel.files import write_atomic
from omniwheel.install.base import InstallItem, InstallReport, Layout, LayoutOptions
from omniwheel.install.site_packages import install_all, installed_files
from omniwheel.platforms import Platform, parse_platform, supported_tags
from omniwheel.platforms.data import format_version
from omniwheel.wheel import WheelFilename


@cache
def _settings() -> dict[str, Any]:
    text = resources.files("omniwheel.install").joinpath("data/ios.toml").read_text()
    return tomllib.loads(text)


def module_name(relative: str) -> str:
    """``markupsafe/_speedups.cpython-313-iphoneos.so`` -> ``markupsafe._speedups``."""
    directory, basename = posixpath.split(relative)
    stem = basename.split(".", 1)[0]
    return ".".join([*directory.split("/"), stem]) if directory else stem


def _extension_modules(packages: Path, name: str) -> list[str]:
    """The ``.so`` files (relative to ``packages``) an installed project's RECORD lists."""
    rows = installed_files(packages, name).values()
    return sorted(path for paths in rows for path in paths if path.endswith(".so"))


def _minimum_ios(wheel_filename: str, platform: Platform) -> str:
    """The minimum iOS of the wheel's platform tag the target accepts (``13.0``)."""
    tags = supported_tags(platform, WheelFilename.parse(wheel_filename).tags)
    ios_tags = [tag.platform for tag in tags if tag.platform != "any"]
    min_os = parse_platform(ios_tags[0]).min_os if ios_tags else platform.min_os
    assert min_os is not None, "iOS platforms always carry a minimum version"
    return format_version(min_os)


class IOSAppLayout(Layout):
    """Packages in ``<app>/app_packages``, binaries as frameworks in ``<app>/Frameworks``."""

    name = "ios-app"
    families = frozenset({"ios"})

    def install(
        self, items: Sequence[InstallItem], platform: Platform, into: Path, options: LayoutOptions
    ) -> InstallReport:
        settings = _settings()
        packages = into / settings["packages_dir"]
        report = InstallReport(self.name, into, platform, list(items))
        for item in items:
            self._unframe(into, packages, item.wheel.name)
        install_all(items, platform, packages)
        for item in items:
            minimum = _minimum_ios(item.wheel.filename, platform)
            for relative in _extension_modules(packages, item.wheel.name):
                report.created += self._frame(into, packages, relative, minimum, platform, options)
        return report

    def _unframe(self, into: Path, packages: Path, name: str) -> None:
        """Remove the frameworks and ``.fwork`` files of an earlier install of ``name``."""
        settings = _settings()
        for relative in _extension_modules(packages, name):
            (packages / relative).with_suffix(".fwork").unlink(missing_ok=True)
            framework = into / settings["frameworks_dir"] / f"{module_name(relative)}.framework"
            shutil.rmtree(framework, ignore_errors=True)

    def _frame(
        self,
        into: Path,
        packages: Path,
        relative: str,
        minimum_ios: str,
        platform: Platform,
        options: LayoutOptions,
    ) -> list[str]:
        """Move one extension module into its framework; the bundle-relative paths made."""
        settings = _settings()
        module = module_name(relative)
        framework = f"{settings['frameworks_dir']}/{module}.framework"
        binary = f"{framework}/{module}"
        extension = packages / relative
        fwork = extension.with_suffix(".fwork")
        fwork_in_bundle = fwork.relative_to(into).as_posix()
        (into / framework).mkdir(parents=True, exist_ok=True)
        info = {
            **settings["info_plist"],
            "CFBundleExecutable": module,
            "CFBundleIdentifier": f"{options.app_id}.{module}".replace("_", "-"),
            "CFBundleSupportedPlatforms": [settings["supported_platforms"][platform.variant]],
            "MinimumOSVersion": minimum_ios,
        }
        write_atomic(into / framework / "Info.plist", plistlib.dumps(info, fmt=plistlib.FMT_XML))
        extension.replace(into / binary)
        write_atomic(fwork, f"{binary}\n".encode())
        write_atomic(into / framework / f"{module}.origin", f"{fwork_in_bundle}\n".encode())
        made = [f"{framework}/Info.plist", binary, fwork_in_bundle, f"{framework}/{module}.origin"]
        privacy = extension.parent / f"{extension.name.split('.', 1)[0]}.xcprivacy"
        if privacy.is_file():
            manifest = f"{framework}/{settings['privacy_manifest']}"
            privacy.replace(into / manifest)
            made.append(manifest)
        return made
