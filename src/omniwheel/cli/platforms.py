"""``omniwheel platforms``, ``tags`` and ``markers``: the platform engine on the command line."""

from __future__ import annotations

import argparse
from typing import Any

from omniwheel.cli.options import add_json, add_platform, add_python, platform_from
from omniwheel.cli.output import console, emit_json, table
from omniwheel.platforms import (
    FAMILIES,
    Platform,
    compatible_tags,
    evaluate_marker,
    family_named,
    marker_environment,
)

PLATFORMS_EPILOG = """\
examples:
  omniwheel platforms
  omniwheel platforms --family emscripten --json
"""
TAGS_EPILOG = """\
examples:
  omniwheel tags ios --python 3.13 --limit 5
  omniwheel tags pyodide-2026.0
  omniwheel tags macosx_14_0_universal2 --python 3.13t --json
"""
MARKERS_EPILOG = """\
examples:
  omniwheel markers android-arm64
  omniwheel markers ios --eval 'platform_system == "iOS"' --eval 'sys_platform != "emscripten"'
exit status with --eval: 0 when every marker holds, 1 otherwise.
"""


def register(commands: Any) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    listing = commands.add_parser(
        "platforms",
        help="list platform families and named platforms",
        description="List every platform family and its named platforms with all spellings.",
        epilog=PLATFORMS_EPILOG,
        formatter_class=formatter,
    )
    listing.add_argument("--family", help="only this family (ios, android, emscripten, ...)")
    add_json(listing)
    listing.set_defaults(run=run_platforms)

    tags = commands.add_parser(
        "tags",
        help="the wheel tags a platform accepts, best first",
        description="Print the ordered list of wheel tags an installer on PLATFORM accepts.",
        epilog=TAGS_EPILOG,
        formatter_class=formatter,
    )
    add_platform(tags)
    add_python(tags)
    tags.add_argument("--limit", type=int, metavar="N", help="print only the N best tags")
    add_json(tags)
    tags.set_defaults(run=run_tags)

    markers = commands.add_parser(
        "markers",
        help="the PEP 508 marker environment of a platform",
        description="Print the marker values the target's own interpreter reports.",
        epilog=MARKERS_EPILOG,
        formatter_class=formatter,
    )
    add_platform(markers)
    add_python(markers)
    markers.add_argument(
        "--eval", action="append", default=[], metavar="MARKER", help="evaluate a marker"
    )
    add_json(markers)
    markers.set_defaults(run=run_markers)


def _listing(family_filter: str | None) -> list[dict[str, Any]]:
    families = FAMILIES if family_filter is None else (family_named(family_filter),)
    document = []
    for family in families:
        grouped: dict[Platform, list[str]] = {}
        for name, platform in family.named_platforms().items():
            grouped.setdefault(platform, []).append(name)
        document.append(
            {
                "name": family.name,
                "title": family.title,
                "min_os_meaning": family.min_os_meaning,
                "platforms": [
                    {**platform.to_json(), "aliases": names[1:]}
                    for platform, names in grouped.items()
                ],
            }
        )
    return document


def run_platforms(args: argparse.Namespace) -> int:
    families = _listing(args.family)
    if args.json:
        emit_json({"families": families})
        return 0
    view = table("Platforms", "family", "name", "wheel tag", "sysconfig", "uv triple", "python")
    for family in families:
        for platform in family["platforms"]:
            aliases = ", ".join(platform["aliases"])
            view.add_row(
                family["title"],
                platform["name"] + (f"\n[dim]{aliases}[/dim]" if aliases else ""),
                platform["wheel_tag"],
                platform["sysconfig_platform"],
                platform["uv_triple"] or "[dim]-[/dim]",
                platform["python"],
            )
    console.print(view)
    return 0


def run_tags(args: argparse.Namespace) -> int:
    platform = platform_from(args)
    every = compatible_tags(platform)
    shown = every if args.limit is None else every[: max(args.limit, 0)]
    if args.json:
        emit_json(
            {
                "platform": platform.to_json(),
                "count": len(every),
                "tags": [str(tag) for tag in shown],
            }
        )
        return 0
    view = table(
        f"Tags for {platform.short_name} (CPython {platform.python}): "
        f"{len(shown)} of {len(every)}, best first",
        "#",
        "interpreter",
        "abi",
        "platform",
    )
    for rank, tag in enumerate(shown, start=1):
        view.add_row(str(rank), tag.interpreter, tag.abi, tag.platform)
    console.print(view)
    return 0


def run_markers(args: argparse.Namespace) -> int:
    platform = platform_from(args)
    environment = marker_environment(platform)
    results = {marker: evaluate_marker(marker, platform) for marker in args.eval}
    if args.json:
        emit_json(
            {"platform": platform.to_json(), "environment": environment, "evaluated": results}
        )
    else:
        view = table(f"Marker environment of {platform.short_name}", "marker", "value")
        for name, value in environment.items():
            view.add_row(name, repr(value))
        console.print(view)
        for marker, holds in results.items():
            console.print(f"{'[green]true [/green]' if holds else '[red]false[/red]'} {marker}")
    return 0 if all(results.values()) else 1
