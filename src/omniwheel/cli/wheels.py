"""``omniwheel inspect`` and ``omniwheel check``: what a wheel holds and where it runs."""

from __future__ import annotations

import argparse
from typing import Any

from omniwheel.audit import WheelReport, check_wheel
from omniwheel.audit.findings import Finding
from omniwheel.cli.options import add_json
from omniwheel.cli.output import console, emit_json, errors, table
from omniwheel.platforms import Platform, parse_platform
from omniwheel.wheel import WheelError

INSPECT_EPILOG = """\
examples:
  omniwheel inspect markupsafe-3.0.3-cp313-cp313-ios_13_0_arm64_iphoneos.whl
  omniwheel inspect dist/*.whl --json
"""
CHECK_EPILOG = """\
examples:
  omniwheel check dist/*.whl                      judge every tag each wheel claims
  omniwheel check mywheel.whl --platform ios       would it load in an iPhone app?
exit status: 0 clean, 1 some finding is an error, 2 some input is no usable wheel.
"""
_STATUS_STYLE = {"ok": "[green]ok[/green]", "warning": "[yellow]warning[/yellow]",
                 "error": "[red]error[/red]"}  # fmt: skip


def register(commands: Any) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    inspect = commands.add_parser(
        "inspect",
        help="show a wheel's tags, metadata, binaries and where it runs",
        description="Read wheels (verifying every hash) and describe them and their binaries.",
        epilog=INSPECT_EPILOG,
        formatter_class=formatter,
    )
    inspect.add_argument("wheels", nargs="+", metavar="WHEEL")
    add_json(inspect)
    inspect.set_defaults(run=run_inspect)

    check = commands.add_parser(
        "check",
        help="check that a wheel's binaries can load where its tags claim",
        description="Judge each platform tag a wheel claims (or --platform) against its binaries.",
        epilog=CHECK_EPILOG,
        formatter_class=formatter,
    )
    check.add_argument("wheels", nargs="+", metavar="WHEEL")
    check.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="PLATFORM",
        help="judge against this platform instead of the wheel's tags (repeatable)",
    )
    add_json(check)
    check.set_defaults(run=run_check)


def _reports(
    paths: list[str], platforms: list[Platform]
) -> list[tuple[str, WheelReport | WheelError]]:
    results: list[tuple[str, WheelReport | WheelError]] = []
    for path in paths:
        try:
            results.append((path, check_wheel(path, platforms)))
        except WheelError as error:
            results.append((path, error))
    return results


def _exit_status(results: list[tuple[str, WheelReport | WheelError]]) -> int:
    if any(isinstance(result, WheelError) for _, result in results):
        return 2
    return 1 if any(r.has_errors for _, r in results if isinstance(r, WheelReport)) else 0


def _describe(report: WheelReport) -> dict[str, Any]:
    wheel = report.wheel
    metadata = wheel.metadata
    return {
        "path": report.path,
        "filename": wheel.name,
        "name": str(wheel.filename.name),
        "version": str(wheel.filename.version),
        "build": wheel.filename.build,
        "tags": [str(tag) for tag in wheel.filename.ordered_tags],
        "wheel": {
            "wheel_version": ".".join(map(str, wheel.wheel_info.wheel_version)),
            "generator": wheel.wheel_info.generator,
            "root_is_purelib": wheel.wheel_info.root_is_purelib,
        },
        "metadata": {
            "name": metadata.name,
            "version": str(metadata.version),
            "summary": metadata.summary,
            "requires_python": str(metadata.requires_python or "") or None,
            "requires_dist": [str(requirement) for requirement in metadata.requires_dist or []],
        },
        "members": sum(1 for member in wheel.members() if not member.is_dir),
        "binaries": [item.to_json() for item in report.binaries],
        "verdicts": [verdict.to_json() for verdict in report.verdicts],
        "findings": [found.to_json() for found in report.findings],
    }


def _print_unusable(error: WheelError) -> None:
    errors.print(f"omniwheel: error: {error}", markup=False)


def run_inspect(args: argparse.Namespace) -> int:
    results = _reports(args.wheels, [])
    if args.json:
        emit_json(
            {
                "wheels": [
                    _describe(r) if isinstance(r, WheelReport) else _unusable_json(p, r)
                    for p, r in results
                ]
            }
        )
        return _exit_status(results)
    for _, result in results:
        if isinstance(result, WheelError):
            _print_unusable(result)
            continue
        document = _describe(result)
        console.print(f"[bold]{document['filename']}[/bold]")
        meta = document["metadata"]
        console.print(
            f"  {meta['name']} {meta['version']}: {meta['summary'] or ''}\n"
            f"  tags: {', '.join(document['tags'])}\n"
            f"  Root-Is-Purelib: {document['wheel']['root_is_purelib']}, "
            f"Requires-Python: {meta['requires_python'] or '-'}, "
            f"{len(meta['requires_dist'])} requirements, {document['members']} files"
        )
        if result.binaries:
            view = table("Binaries", "member", "format", "arch", "platform", "needs")
            for item in result.binaries:
                view.add_row(item.member, *_binary_columns(item.binary.to_json()))
            console.print(view)
        _print_verdicts(result)
    return _exit_status(results)


def _binary_columns(facts: dict[str, Any]) -> tuple[str, str, str, str]:
    """Format, architectures, platform/minimum and needed libraries, for the table."""
    kind = facts["format"]
    where = ""
    if kind == "macho":
        where = ", ".join(
            f"{s['platform'] or '?'} {s['minos'] or ''}".strip() for s in facts["slices"]
        )
    elif kind == "elf":
        pieces = [facts.get("libc") or ""]
        if glibc := facts["highest_versions"].get("GLIBC"):
            pieces.append(f"GLIBC_{glibc}")
        if facts.get("android_api_level"):
            pieces.append(f"API {facts['android_api_level']}")
        where = " ".join(piece for piece in pieces if piece)
    elif kind == "wasm":
        where = "side module" if facts.get("is_side_module") else "module"
    return kind, "+".join(facts["architectures"]), where, "\n".join(facts["needed"])


def _print_verdicts(report: WheelReport) -> None:
    view = table("Where it runs", "platform tag", "platform", "verdict")
    for verdict in report.verdicts:
        view.add_row(verdict.platform_tag, verdict.platform or "-", _STATUS_STYLE[verdict.status])
    console.print(view)
    print_findings(report.findings)


def print_findings(findings: list[Finding]) -> None:
    """The findings table shared by every command that judges wheels."""
    if not findings:
        return
    found = table("Findings", "severity", "code", "member", "message", "fix")
    for item in findings:
        found.add_row(str(item.severity), item.code, item.member or "-", item.message, item.hint)
    console.print(found)


def _unusable_json(path: str, error: WheelError) -> dict[str, Any]:
    return {"path": path, "error": str(error)}


def run_check(args: argparse.Namespace) -> int:
    platforms = [parse_platform(name) for name in args.platform]
    results = _reports(args.wheels, platforms)
    if args.json:
        wheels = []
        for path, result in results:
            if isinstance(result, WheelError):
                wheels.append(_unusable_json(path, result))
            else:
                wheels.append(
                    {
                        "path": path,
                        "filename": result.wheel.name,
                        "error": None,
                        "verdicts": [v.to_json() for v in result.verdicts],
                        "findings": [f.to_json() for f in result.findings],
                    }
                )
        emit_json({"wheels": wheels, "exit_status": _exit_status(results)})
        return _exit_status(results)
    for _, result in results:
        if isinstance(result, WheelError):
            _print_unusable(result)
            continue
        console.print(f"[bold]{result.wheel.name}[/bold]")
        _print_verdicts(result)
    return _exit_status(results)
