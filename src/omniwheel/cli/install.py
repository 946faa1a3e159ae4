"""``omniwheel lock`` and ``omniwheel install``: these packages, for that platform."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from packaging.pylock import Pylock, is_valid_pylock_path
from packaging.version import InvalidVersion, Version

from omniwheel.cli.options import add_json, add_python
from omniwheel.cli.output import console, emit_json, errors, import_rich_in_background, table
from omniwheel.errors import UsageError
from omniwheel.install import LAYOUTS, InstallReport, LayoutOptions, layout_for
from omniwheel.install.images import LinkMode
from omniwheel.install.run import install_slices, install_wheels
from omniwheel.platforms import Platform, PythonTarget, parse_platform
from omniwheel.resolve import (
    IndexStrategy,
    LockedWheel,
    RequirementSet,
    Session,
    locked_wheels,
    pip_constraints,
    pip_index_config,
    pip_require_hashes,
    pip_settings,
    read_lock,
    read_requirements,
    write_lock,
)
from omniwheel.resolve.config import PipSettings
from omniwheel.resolve.download import Progress as ProgressCallback
from omniwheel.resolve.lock import check_lock_path
from omniwheel.resolve.requirements import check_hashes
from omniwheel.wheel import WheelFilename

LOCK_EPILOG = """\
examples:
  omniwheel lock -r requirements.txt --platform ios --platform android -o pylock.toml
  omniwheel lock jinja2 --platform pyodide-2025.0 --json
"""
INSTALL_EPILOG = """\
examples:
  omniwheel install jinja2 --platform ios --python 3.13 --into MyApp.app --app-id org.me.app
  omniwheel install -r requirements.txt --platform android --into app/src/main/python
  omniwheel install --lock pylock.toml --platform pyodide-2025.0 --into public/packages
  omniwheel install numpy --platform ios --platform ios-simulator-x86_64 --into MyProject
layouts: site-packages (pip --target), ios-app (PEP 730 frameworks), android, pyodide
(wheels + pyodide-lock.json); the default follows the platform.
"""
#: A bundle id as Apple allows it: ASCII letters, digits and hyphens, in non-empty parts
#: separated by dots.
_BUNDLE_ID = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


def _bundle_id(text: str) -> str:
    """``--app-id``, checked: it is written into every framework's Info.plist."""
    if not _BUNDLE_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a bundle id: use ASCII letters, digits and '-' in non-empty "
            "parts separated by '.' (org.example.app)"
        )
    return text


def _pyodide_version(text: str) -> str:
    """``--pyodide-version``, checked and normalized: it is written into pyodide-lock.json,
    which Pyodide compares with its own (PEP 440) version."""
    try:
        return str(Version(text))
    except InvalidVersion:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a PEP 440 version (a Pyodide release such as 0.27.7)"
        ) from None


def _add_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "packages", nargs="*", metavar="REQUIREMENT", help="PEP 508 requirements or wheel files"
    )
    parser.add_argument(
        "-r",
        "--requirement",
        action="append",
        default=[],
        metavar="FILE",
        help="a requirements file (repeatable)",
    )
    parser.add_argument(
        "-c",
        "--constraint",
        action="append",
        default=[],
        metavar="FILE",
        help="a constraints file (repeatable)",
    )
    add_python(parser)
    parser.add_argument(
        "-i",
        "--index-url",
        metavar="URL",
        help="the primary index (default: pip's configured index)",
    )
    parser.add_argument("--extra-index-url", action="append", default=[], metavar="URL")
    parser.add_argument(
        "-f",
        "--find-links",
        action="append",
        default=[],
        metavar="PATH",
        help="a directory of wheels, a wheel, or an HTML page of links",
    )
    parser.add_argument("--no-index", action="store_true", help="use find-links only")
    parser.add_argument(
        "--index-strategy",
        choices=[strategy.value for strategy in IndexStrategy],
        help="first-index (default): a project comes from the first index that has it",
    )
    parser.add_argument(
        "--require-hashes",
        action="store_true",
        help="pip's hash-checking mode: every wheel needs a requirement pinned with == and "
        "--hash in a requirements file (on by itself once any requirement has --hash; a "
        "lock's hashes are always checked)",
    )
    parser.add_argument("--offline", action="store_true", help="use only the cache")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR")
    add_json(parser, quiet=True)


def register(commands: Any) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    lock = commands.add_parser(
        "lock",
        help="resolve requirements for target platforms into a pylock.toml",
        description="Resolve for each --platform and write one PEP 751 lock serving them all.",
        epilog=LOCK_EPILOG,
        formatter_class=formatter,
    )
    _add_sources(lock)
    lock.add_argument(
        "--platform",
        action="append",
        required=True,
        metavar="PLATFORM",
        help="a target platform (repeatable)",
    )
    lock.add_argument("-o", "--output", type=Path, default=Path("pylock.toml"), metavar="FILE")
    lock.set_defaults(run=run_lock)

    install = commands.add_parser(
        "install",
        help="install packages for a target platform into an app layout",
        description="Resolve (or read a lock), check every wheel, install for --platform.",
        epilog=INSTALL_EPILOG,
        formatter_class=formatter,
    )
    _add_sources(install)
    install.add_argument(
        "--lock", type=Path, metavar="PYLOCK", help="install exactly what this pylock.toml selects"
    )
    install.add_argument(
        "--platform",
        action="append",
        required=True,
        metavar="PLATFORM",
        help="the target platform; repeat for iOS device + simulator (XCFrameworks)",
    )
    install.add_argument("--into", type=Path, required=True, metavar="DIR")
    install.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        help="default: ios-app, android or pyodide by platform, else site-packages",
    )
    install.add_argument(
        "--app-id",
        type=_bundle_id,
        default=LayoutOptions.app_id,
        metavar="BUNDLE_ID",
        help="the iOS app's bundle id (frameworks get <id>.<module>)",
    )
    install.add_argument(
        "--pyodide-version",
        type=_pyodide_version,
        metavar="VERSION",
        help="the Pyodide release, written into pyodide-lock.json "
        "(required by Pyodide 0.26 and 0.27)",
    )
    install.add_argument(
        "--link-mode",
        choices=[mode.value for mode in LinkMode],
        default=LinkMode.COPY.value,
        help="copy (default) or hardlink files from the cache of unpacked wheels "
        "(hard links share the cache's files: do not edit them in place)",
    )
    install.set_defaults(run=run_install)


def _requirement_set(
    args: argparse.Namespace, packages: list[str], settings: PipSettings | None
) -> RequirementSet:
    """What to resolve: the constraints of pip's ``settings`` (``None`` for an install of a
    lock, which is installed as it stands) then ``-c`` files, ``-r`` files, and the command
    line's packages. Constraints files are read first, as pip reads them, so a ``-i`` in a
    ``-r`` file wins. Hash-checking mode is on by ``--require-hashes`` in a file, on the
    command line or in pip's settings, as pip turns it on."""
    wanted = RequirementSet()
    configured = [] if settings is None else pip_constraints(settings)
    for path, named_by in configured:
        read_requirements(path, wanted, constraint=True, named_by=named_by)
    for path in args.constraint:
        read_requirements(Path(path), wanted, constraint=True)
    for path in args.requirement:
        read_requirements(Path(path), wanted)
    for text in packages:
        if text.endswith(".whl") and Path(text).is_file():
            parsed = WheelFilename.parse(text)
            wanted.find_links.append(text)
            wanted.add(f"{parsed.name}=={parsed.version}")
        else:
            wanted.add(text)
    if settings is not None and wanted.require_hashes is None:
        if args.require_hashes:
            wanted.require_hashes = "--require-hashes on the command line"
        elif (origin := pip_require_hashes(settings)) is not None:
            wanted.require_hashes = f"require-hashes set by {origin}"
    return wanted


def _session(
    args: argparse.Namespace, wanted: RequirementSet, settings: Mapping[str, str]
) -> Session:
    """The sources as pip combines them: its configuration, then the command line, then the
    requirements files' options (so a file's ``-i`` replaces every index named before, and
    its ``--no-index`` drops them all)."""
    # Given a file's -i, pip's default index is never used: do not ask pip to name it.
    index_url = wanted.index_url or args.index_url
    if args.no_index or wanted.no_index:  # pip's no-index setting, wherever it is given
        settings = {**settings, "no-index": "1"}
    config = (
        pip_index_config(index_url=index_url, settings=settings)
        .with_options(
            extra_index_urls=args.extra_index_url,
            find_links=args.find_links,
            strategy=IndexStrategy(args.index_strategy) if args.index_strategy else None,
        )
        .with_options(
            index_url=wanted.index_url,
            extra_index_urls=wanted.extra_index_urls,
            find_links=wanted.find_links,
        )
    )
    return Session(config, cache_dir=args.cache_dir, offline=args.offline)


def _platforms(args: argparse.Namespace, names: list[str]) -> list[Platform]:
    """Each platform for ``--python``; with several, those that fix their own Python
    (each Pyodide ABI does) keep it, so one lock can span iOS 3.13 and Pyodide."""
    if args.python is None or len(names) == 1:
        return [parse_platform(name, python=args.python) for name in names]
    python = PythonTarget.parse(args.python)
    platforms = []
    for name in names:
        platform = parse_platform(name)
        try:
            platforms.append(platform.with_python(python))
        except UsageError:
            platforms.append(platform)
    return platforms


def _lock_json(lock: Pylock, path: Path, platforms: list[Platform]) -> dict[str, Any]:
    return {
        "lock": str(path),
        "platforms": [platform.to_json() for platform in platforms],
        "packages": [
            {
                "name": package.name,
                "version": str(package.version),
                "marker": str(package.marker) if package.marker else None,
                "wheels": [wheel.filename for wheel in package.wheels or []],
                "platforms": (package.tool or {}).get("omniwheel", {}).get("platforms", []),
            }
            for package in lock.packages
        ],
    }


def _checked_targets(
    wanted: RequirementSet,
    lock: Pylock,
    platforms: list[Platform],
    lock_dir: Path,
    session: Session,
) -> list[tuple[Platform, list[LockedWheel]]]:
    """Each platform's wheels in the lock, as pip's hash-checking mode accepts them (on
    when a requirement has ``--hash``: before a lock is written or anything installed)."""
    targets = [(platform, locked_wheels(lock, platform, lock_dir)) for platform in platforms]
    check_hashes(wanted, targets, session.downloader.fetch)
    return targets


def run_lock(args: argparse.Namespace) -> int:
    settings = pip_settings(command="lock")
    wanted = _requirement_set(args, args.packages, settings)
    if not wanted.requirements:
        raise UsageError("nothing to lock: give requirements or -r FILE")
    platforms = _platforms(args, args.platform)
    output: Path = args.output
    check_lock_path(output)
    with _session(args, wanted, settings) as session:
        lock, _ = session.lock(
            wanted.requirements,
            platforms,
            constraints=wanted.constraints,
            hash_pins=wanted.hash_pins,
            lock_dir=output.parent,
        )
        _checked_targets(wanted, lock, platforms, output.parent, session)
    write_lock(lock, output)
    if args.json:
        emit_json(_lock_json(lock, output, platforms))
        return 0
    if args.quiet:
        return 0
    view = table(f"{output}: {len(lock.packages)} packages", "package", "version", "wheels")
    for package in lock.packages:
        wheels = "\n".join(wheel.filename for wheel in package.wheels or [])
        view.add_row(package.name, str(package.version), wheels)
    console.print(view)
    return 0


@contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[ProgressCallback | None]:
    """A download bar on stderr for people (``total`` bytes, if known); nothing for --json
    or when piped."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (  # a slow import, for terminals only
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("downloading"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=errors.rich,
        transient=True,
    ) as bar:
        task = bar.add_task("download", total=total)
        yield lambda size: bar.advance(task, size)


def _lock_argument(args: argparse.Namespace) -> tuple[Path | None, list[str]]:
    """The lock to install (``--lock``, or a lone ``pylock.toml`` argument) and the
    requirements given as arguments."""
    packages: list[str] = args.packages
    if args.lock is None and len(packages) == 1 and is_valid_pylock_path(Path(packages[0])):
        return Path(packages[0]), []
    return args.lock, packages


def _check_slices(names: list[str], platforms: list[Platform]) -> None:
    """Refuse two platforms whose wheels would be the same slice of an app's frameworks (one
    architecture, both device or both simulator, as ``ios`` and ``ios@14.0`` are): the
    binaries of one slice cannot be joined, so this is refused before resolving."""
    seen: dict[tuple[str | None, str], str] = {}
    for name, platform in zip(names, platforms, strict=True):
        for arch in platform.architectures:
            slice_ = (platform.variant, arch)
            if slice_ in seen:
                raise UsageError(
                    f"--platform {seen[slice_]} and --platform {name} are the same slice "
                    f"({arch} {platform.variant}): an app holds one build per architecture for "
                    "device and one for simulator; give one of them"
                )
            seen[slice_] = name


def run_install(args: argparse.Namespace) -> int:
    platforms = _platforms(args, args.platform)
    layout = layout_for(platforms[0], args.layout)
    for platform in platforms[1:]:
        layout_for(platform, layout.name)
    if len(platforms) > 1 and layout.name != "ios-app":
        raise UsageError(
            f"--platform given {len(platforms)} times: only --layout ios-app installs several "
            "platforms (iOS device and simulator, as XCFrameworks); give one --platform"
        )
    _check_slices(args.platform, platforms)
    for platform in platforms:
        layout.check_into(args.into, platform)
    lock_path, packages = _lock_argument(args)
    settings = pip_settings(command="install")
    # pip's configured constraints and hash-checking shape a resolution; a lock (whose
    # hashes are always checked) is installed as it stands.
    wanted = _requirement_set(args, packages, None if lock_path else settings)
    if lock_path is not None and (wanted.requirements or wanted.constraints):
        raise UsageError(
            f"give either a lock ({lock_path}) or requirements and constraints, not both"
        )
    if lock_path is None and not wanted.requirements:
        raise UsageError("nothing to install: give requirements, -r FILE or --lock pylock.toml")
    for_people = not (args.json or args.quiet)
    if for_people:
        import_rich_in_background()
    with _session(args, wanted, settings) as session:
        if lock_path is not None:
            lock, lock_dir = read_lock(lock_path), lock_path.parent
        else:
            lock_dir = args.into
            lock, _ = session.lock(
                wanted.requirements,
                platforms,
                constraints=wanted.constraints,
                hash_pins=wanted.hash_pins,
                lock_dir=lock_dir,
            )
        targets = _checked_targets(wanted, lock, platforms, lock_dir, session)
        sizes = [wheel.size for _, wheels in targets for wheel in wheels]
        total = None if None in sizes else sum(size or 0 for size in sizes)
        options = LayoutOptions(
            args.app_id,
            args.pyodide_version,
            LinkMode(args.link_mode),
            session.cache_dir,
            wanted.requested,  # none for a lock: it does not say what was asked for
        )
        with _progress(for_people, total) as advance:
            if len(targets) == 1:
                platform, wheels = targets[0]
                report = install_wheels(
                    wheels, platform, session.downloader, layout, args.into, options, advance
                )
            else:
                report = install_slices(
                    targets, session.downloader, layout, args.into, options, advance
                )
    if args.json:
        emit_json(report.to_json())
    elif for_people:
        _print_report(report)
    return 0


def _print_report(report: InstallReport) -> None:
    view = table(
        f"installed into {report.into} ({report.layout}, {report.platform.wheel_tag})",
        "package",
        "version",
        "wheel",
    )
    for item in report.installed:
        view.add_row(item.wheel.name, str(item.wheel.version), item.wheel.filename)
    console.print(view)
    if report.created:
        console.print(f"{len(report.created)} layout files made (frameworks, lock files)")
