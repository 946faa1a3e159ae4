"""Options shared by several commands, defined once."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omniwheel.platforms import Platform


def add_json(parser: argparse.ArgumentParser, *, quiet: bool = False) -> None:
    """``--json``, and with ``quiet`` also ``-q``/``--quiet`` (as pip's): the two choose
    between a document for programs and no report at all, so they exclude each other."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help="print the documented JSON document")
    if quiet:
        group.add_argument(
            "-q", "--quiet", action="store_true", help="print nothing but errors (as pip -q)"
        )


def add_python(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        metavar="VERSION",
        help="target CPython, e.g. 3.13 or 3.14t (default: the platform's own, else 3.14)",
    )


def add_platform(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "platform",
        metavar="PLATFORM",
        help="a short name (ios, pyodide-2025.0, manylinux-aarch64@2.34), a wheel tag "
        "(ios_13_0_arm64_iphoneos), a sysconfig string (macosx-11.0-arm64) or a uv triple "
        "(aarch64-linux-android)",
    )


def platform_from(args: argparse.Namespace) -> Platform:
    from omniwheel.platforms import parse_platform  # not needed to build the parser

    return parse_platform(args.platform, python=args.python)
