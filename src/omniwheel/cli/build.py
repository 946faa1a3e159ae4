"""``omniwheel build`` and ``omniwheel skeleton``: wheels cross-built from recipes."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omniwheel.build import BuildReport, PyodideRuntime, build_recipes
from omniwheel.build.skeleton import write_skeletons
from omniwheel.cli.options import add_json, add_python
from omniwheel.cli.output import console, emit_json, errors, table
from omniwheel.index.uploader import (
    TOKEN_ENV,
    Uploaded,
    Uploader,
    UploadFailedError,
    check_upload_url,
    upload_token,
)
from omniwheel.platforms import parse_platform

BUILD_EPILOG = """\
examples:
  omniwheel build recipes/ --platform pyodide-2025.0
  omniwheel build recipes/ markupsafe --platform pyemscripten_2025_0_wasm32 -j 2 -o dist
  omniwheel build recipes/ --platform pyodide-2025.0 --pyodide node_modules/pyodide --json
  omniwheel build recipes/ --platform ios-simulator --python 3.13 -o dist
  omniwheel build recipes/ --platform pyodide-2025.0 --upload http://127.0.0.1:8080/legacy/
exit status: 0 every recipe built (or was unchanged), 1 some recipe failed or was skipped
or an upload was refused, 2 bad input (unknown key in a recipe, unknown platform, ...).
"""
SKELETON_EPILOG = """\
examples:
  omniwheel skeleton markupsafe --platform pyodide-2025.0 -o recipes/
  omniwheel skeleton jinja2 --recursive --platform pyodide-2025.0 -o recipes/
"""
_STATUS_STYLE = {
    "built": "[green]built[/green]", "cached": "[cyan]unchanged[/cyan]",
    "failed": "[red]failed[/red]", "skipped": "[yellow]skipped[/yellow]",
}  # fmt: skip


def register(commands: Any) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    build = commands.add_parser(
        "build",
        help="cross-build wheels from recipes (Pyodide meta.yaml)",
        description="Fetch, patch and build recipes for PLATFORM through PEP 517, in dependency "
        "order; check every wheel; skip what is unchanged since the last build.",
        epilog=BUILD_EPILOG,
        formatter_class=formatter,
    )
    build.add_argument("recipes", metavar="RECIPES_DIR", type=Path)
    build.add_argument("packages", nargs="*", metavar="PKG", help="only these (and their needs)")
    build.add_argument("--platform", required=True, help="target, e.g. pyodide-2025.0")
    add_python(build)
    build.add_argument(
        "--sdk",
        type=Path,
        metavar="DIR",
        help="the platform's SDK: an iOS SDK (default: $OMNIWHEEL_IOS_SDK, Xcode's, else one "
        "made from the ziglang package) or an Android NDK (default: $ANDROID_NDK_HOME)",
    )
    build.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="parallel builds")
    build.add_argument("-o", "--output", type=Path, default=Path("dist"), metavar="OUTDIR")
    build.add_argument(
        "--build-python",
        type=Path,
        metavar="PATH",
        help="host CPython of the target's minor version (default: pythonX.Y on PATH, pyenv)",
    )
    build.add_argument(
        "--source-cache",
        type=Path,
        metavar="DIR",
        help="download cache (default: ~/.cache/omniwheel, shared with skeleton, lock, install)",
    )
    build.add_argument(
        "--pyodide",
        type=Path,
        metavar="DIR",
        help="an npm 'pyodide' package directory: run test/imports there under Node",
    )
    build.add_argument(
        "--upload",
        metavar="URL",
        help="upload every wheel built (or unchanged) with the legacy upload API (twine's), "
        "e.g. http://127.0.0.1:8080/legacy/ of omniwheel serve",
    )
    build.add_argument(
        "--token", metavar="TOKEN", help=f"API token for --upload (default: ${TOKEN_ENV})"
    )
    add_json(build)
    build.set_defaults(run=run_build)

    skeleton = commands.add_parser(
        "skeleton",
        help="write a recipe for a package on the index",
        description="Write NAME/meta.yaml with the sdist's URL and sha256 and the run "
        "requirements of the package's metadata, markers evaluated for the target.",
        epilog=SKELETON_EPILOG,
        formatter_class=formatter,
    )
    skeleton.add_argument("name", metavar="NAME")
    skeleton.add_argument("--version", dest="package_version", metavar="V")
    skeleton.add_argument(
        "--recursive",
        action="store_true",
        help="also write recipes for dependencies that have no wheel for the target",
    )
    skeleton.add_argument("--platform", default="pyodide-2025.0", help="the target (markers)")
    skeleton.add_argument("-o", "--output", type=Path, default=Path(), metavar="RECIPES_DIR")
    skeleton.add_argument("--force", action="store_true", help="overwrite existing recipes")
    add_json(skeleton)
    skeleton.set_defaults(run=run_skeleton)


def run_build(args: argparse.Namespace) -> int:
    platform = parse_platform(args.platform, python=args.python)
    runtime = PyodideRuntime(args.pyodide) if args.pyodide is not None else None
    options: dict[str, Any] = {
        "packages": args.packages, "output": args.output, "jobs": args.jobs,
        "build_python": args.build_python, "source_cache": args.source_cache, "runtime": runtime,
        "sdk": args.sdk,
    }  # fmt: skip
    if args.upload:
        check_upload_url(args.upload)  # before anything is built
    if args.json:
        report = build_recipes(args.recipes, platform, **options)
        document = report.to_json()
        refused = None
        if args.upload:
            document["uploads"] = []
            try:
                for item in _upload(report, args):
                    document["uploads"].append(item.to_json())
            except UploadFailedError as error:  # the document still reports the build
                refused = document["upload_error"] = str(error)
        emit_json(document)
        if refused is not None:
            errors.print(f"omniwheel: error: {refused}", markup=False)
        return 0 if report.ok and refused is None else 1
    from rich.progress import (  # a slow import, for human output only
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console.rich, transient=True,
    )  # fmt: skip
    with progress:
        task = progress.add_task(f"building for {platform.wheel_tag}", total=None)

        def on_event(name: str, status: str) -> None:
            if status == "building":
                progress.console.print(f"  building {name} …")
            else:
                progress.advance(task)
                progress.console.print(f"  {name}: {_STATUS_STYLE[status]}")

        report = build_recipes(args.recipes, platform, on_event=on_event, **options)
    _print_report(report)
    if args.upload:
        for item in _upload(report, args):
            verb = "already there" if item.existed else "uploaded"
            console.print(f"  {item.wheel.name}: {verb} → {item.url}", markup=False)
    return 0 if report.ok else 1


def _upload(report: BuildReport, args: argparse.Namespace) -> Iterator[Uploaded]:
    """Upload the wheel of every recipe built or unchanged, in build order, saying each as
    it goes; the first refusal (``UploadFailedError``) stops it."""
    with Uploader(args.upload, upload_token(args.token)) as uploader:
        for outcome in report.outcomes:
            if outcome.wheel is not None and outcome.status != "failed":
                yield uploader.upload(outcome.wheel)


def _print_report(report: BuildReport) -> None:
    view = table(
        f"Recipes for {report.platform.wheel_tag}", "package", "version", "type", "status",
        "output", "test", "seconds",
    )  # fmt: skip
    for outcome in report.outcomes:
        output = outcome.wheel or outcome.library
        view.add_row(
            outcome.recipe.name, outcome.recipe.version, outcome.recipe.build.type,
            _STATUS_STYLE[outcome.status], output.name if output else "-", outcome.tested,
            f"{outcome.seconds:.1f}",
        )  # fmt: skip
    console.print(view)
    for outcome in report.outcomes:
        if outcome.status == "failed":
            errors.print(
                f"omniwheel: {outcome.recipe.name} failed at '{outcome.failed_step}': "
                f"{outcome.error} (full log: {outcome.log})",
                markup=False,
            )
        elif outcome.status == "skipped":
            errors.print(f"omniwheel: {outcome.recipe.name}: {outcome.error}", markup=False)
    console.print(
        f"{report.count('built')} built, {report.count('cached')} unchanged, "
        f"{report.count('failed')} failed, {report.count('skipped')} skipped → {report.output}"
    )


def run_skeleton(args: argparse.Namespace) -> int:
    platform = parse_platform(args.platform)
    written = write_skeletons(
        args.name, platform, args.output, version=args.package_version,
        recursive=args.recursive, force=args.force,
    )  # fmt: skip
    if args.json:
        emit_json({"platform": platform.to_json(), "recipes": [item.to_json() for item in written]})
        return 0
    view = table("Recipes written", "package", "version", "recipe", "run requirements", "why")
    for item in written:
        view.add_row(item.name, item.version, str(item.path), ", ".join(item.run), item.reason)
    console.print(view)
    return 0
