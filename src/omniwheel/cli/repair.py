"""``omniwheel repair``: vendor external libraries into wheels and point the binaries at them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from omniwheel.cli.options import add_json
from omniwheel.cli.output import console, emit_json, errors, table
from omniwheel.errors import OmniwheelError
from omniwheel.platforms import parse_platform
from omniwheel.rewrite.repair import RepairReport, repair_wheel

EPILOG = """\
examples:
  omniwheel repair dist/*.whl --lib-path build/lib        Linux: vendor, retag to manylinux
  omniwheel repair mac.whl --lib-path /opt/homebrew/lib    macOS: vendor into <pkg>/.dylibs
  omniwheel repair win.whl --lib-path deps/bin --json      Windows: vendor into <dist>.libs
exit status: 0 every wheel repaired (or had nothing to repair), 1 some wheel could not be
repaired (a library is missing, say), 2 some input is no usable wheel.
"""


def register(commands: Any) -> None:
    repair = commands.add_parser(
        "repair",
        help="vendor the external libraries a wheel's binaries need",
        description="Copy the libraries each binary needs (and the platform does not provide) "
        "into the wheel under hash-unique names and rewrite the references to them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    repair.add_argument("wheels", nargs="+", metavar="WHEEL")
    repair.add_argument(
        "--platform",
        metavar="PLATFORM",
        help="the target (default: the wheel's tag; linux_* becomes the oldest manylinux "
        "policy the repaired binaries fit)",
    )
    repair.add_argument(
        "--lib-path",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="look for libraries here first (repeatable)",
    )
    repair.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="LIB",
        help="leave libraries matching this glob external on purpose (repeatable)",
    )
    repair.add_argument(
        "-w",
        "--wheel-dir",
        type=Path,
        default=Path("wheelhouse"),
        metavar="OUTDIR",
        help="where repaired wheels are written (default: ./wheelhouse)",
    )
    add_json(repair)
    repair.set_defaults(run=run_repair)


def run_repair(args: argparse.Namespace) -> int:
    platform = parse_platform(args.platform) if args.platform else None
    results: list[tuple[str, RepairReport | OmniwheelError]] = []
    for path in args.wheels:
        try:
            report = repair_wheel(
                Path(path),
                args.wheel_dir,
                platform=platform,
                lib_path=args.lib_path,
                exclude=args.exclude,
            )
        except OmniwheelError as error:
            results.append((path, error))
        else:
            results.append((path, report))
    status = max((_status(result) for _, result in results), default=0)
    if args.json:
        documents = [
            {**result.to_json(), "error": None}
            if isinstance(result, RepairReport)
            else {"path": path, "error": str(result)}
            for path, result in results
        ]
        emit_json({"wheels": documents, "exit_status": status})
        return status
    for _, result in results:
        if isinstance(result, OmniwheelError):
            errors.print(f"omniwheel: error: {result}", markup=False)
        else:
            _print_report(result)
    return status


def _status(result: RepairReport | OmniwheelError) -> int:
    return result.exit_code if isinstance(result, OmniwheelError) else 0


def _print_report(report: RepairReport) -> None:
    target = report.output if report.status == "repaired" else report.wheel
    console.print(f"[bold]{target}[/bold]: {report.status} ({', '.join(report.platform_tags)})")
    if report.vendored:
        view = table("Libraries (vendored)", "library", "from", "to", "needed by")
        for library in report.vendored:
            view.add_row(
                library.name,
                library.source or "-",
                library.member or "-",
                "\n".join(library.needed_by),
            )
        console.print(view)
    if report.patched:
        view = table("Patched to add the DLL directory", "file", "adds", "created")
        for patch in report.patched:
            view.add_row(patch.member, patch.dll_directory or ".", "yes" if patch.created else "no")
        console.print(view)
    if report.excluded:  # a missing library fails the repair instead
        view = table("Left external", "library", "needed by")
        for library in report.excluded:
            view.add_row(library.name, "\n".join(library.needed_by))
        console.print(view)
