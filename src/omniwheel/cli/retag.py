"""``omniwheel retag``: new tags (and extension suffixes) for wheels, checked before they land."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from omniwheel.audit.findings import Finding
from omniwheel.cli.options import add_json
from omniwheel.cli.output import console, emit_json
from omniwheel.errors import OmniwheelError
from omniwheel.rewrite.retag import RetagOptions, RetagRefusedError, RetagResult, retag_wheel

EPILOG = """\
examples:
  omniwheel retag foo-1.0-cp313-cp313-linux_x86_64.whl --platform manylinux_2_17_x86_64
  omniwheel retag foo-1.0-cp313-cp313-macosx_10_9_universal2.whl --expand
  omniwheel retag foo-1.0-py3-none-any.whl --python +py2 --build 1 -w dist/
  omniwheel retag ext.whl --platform ios@13.0 --rename-extensions
tag arguments: TAG replaces the set, +TAG adds, -TAG removes; join several with dots.
exit status: 0 done, 1 refused (a binary cannot load where the new tags say), 2 bad input.
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "retag",
        help="change a wheel's tags without recompressing it",
        description=(
            "Rewrite wheel filenames, WHEEL and RECORD for new tags. Unchanged members are "
            "copied as stored; a retag that claims a new platform is checked first."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("wheels", nargs="+", metavar="WHEEL", type=Path)
    parser.add_argument("--python", metavar="TAGS", help="python tags (e.g. cp313, +cp314)")
    parser.add_argument("--abi", metavar="TAGS", help="ABI tags (e.g. abi3, -none)")
    parser.add_argument(
        "--platform", metavar="TAGS", help="platform tags or spellings (e.g. ios@13.0, +any)"
    )
    parser.add_argument("--build", metavar="N", help="build tag; an empty string removes it")
    parser.add_argument(
        "--rename-extensions",
        action="store_true",
        help="rename extension modules to the suffix the new platform imports",
    )
    parser.add_argument(
        "--expand", action="store_true", help="add every tag the binaries truly support"
    )
    parser.add_argument(
        "--force", action="store_true", help="retag even where the check finds errors"
    )
    parser.add_argument(
        "-w", "--wheel-dir", type=Path, metavar="OUTDIR", help="where to write (default: beside)"
    )
    parser.add_argument(
        "--in-place",
        "--remove",
        dest="in_place",
        action="store_true",
        help="replace the input by the result (--remove is wheel tags' spelling)",
    )
    add_json(parser)
    parser.set_defaults(run=run_retag)


def _options(args: argparse.Namespace) -> RetagOptions:
    return RetagOptions(
        python=args.python,
        abi=args.abi,
        platform=args.platform,
        build=args.build,
        rename_extensions=args.rename_extensions,
        expand=args.expand,
        force=args.force,
    )


def run_retag(args: argparse.Namespace) -> int:
    options = _options(args)
    documents: list[dict[str, Any]] = []
    status = 0
    for path in args.wheels:
        try:
            result = retag_wheel(path, options, args.wheel_dir, in_place=args.in_place)
        except RetagRefusedError as refusal:
            status = max(status, refusal.exit_code)
            documents.append(_failure(path, refusal, refusal.findings))
            if not args.json:
                _print_findings(refusal.findings)
                console.print(f"refused: {refusal}", style="red", markup=False)
            continue
        except OmniwheelError as error:
            if not args.json:
                raise
            status = max(status, error.exit_code)
            documents.append(_failure(path, error, []))
            continue
        documents.append(result.to_json())
        if not args.json:
            _print_result(result)
    if args.json:
        emit_json({"wheels": documents, "exit_status": status})
    return status


def _failure(path: Path, error: OmniwheelError, findings: list[Any]) -> dict[str, Any]:
    return {
        "source": str(path),
        "error": str(error),
        "findings": [finding.to_json() for finding in findings],
    }


def _print_result(result: RetagResult) -> None:
    if not result.changed:
        console.print(f"{result.source.name}: already tagged so; nothing written")
        return
    document = result.to_json()
    console.print(f"[bold]{result.output}[/bold]")
    for label in ("added_tags", "removed_tags"):
        if document[label]:
            console.print(f"  {label.replace('_', ' ')}: {', '.join(document[label])}")
    for old, new in result.renamed.items():
        console.print(f"  renamed {old} -> {new}")
    if result.checked:
        console.print(f"  checked: {len(result.findings)} finding(s), no errors")
        _print_findings(result.findings)


def _print_findings(findings: list[Finding]) -> None:
    """``check``'s table: its module loads the audit, which only a checked retag has used."""
    from omniwheel.cli.wheels import print_findings

    print_findings(findings)
