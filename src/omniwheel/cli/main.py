"""Entry point: parse arguments, run one command, turn our errors into one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from omniwheel import __version__
from omniwheel.cli import build as build_commands
from omniwheel.cli import install, platforms, repair, retag, serve, wheels
from omniwheel.cli.output import errors
from omniwheel.errors import OmniwheelError

EPILOG = """\
examples:
  omniwheel platforms                      every family and named platform
  omniwheel tags ios --python 3.13         tags an iPhone app with CPython 3.13 accepts
  omniwheel markers pyodide-2025.0 --json  the marker environment of Pyodide 0.28/0.29
  omniwheel inspect some.whl               tags, metadata, binaries, where it runs
  omniwheel check dist/*.whl               exit 1 if a binary cannot load where tagged
  omniwheel retag some.whl --expand        add every tag its binaries truly support

Every reporting command takes --json (schemas in the README). Errors are one line;
add --debug for a traceback.
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with a pointer to --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        errors.print(f"{self.prog}: error: {message} (see {self.prog} --help)", markup=False)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="omniwheel",
        description="Make binary Python wheels work on every platform, from any host.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"omniwheel {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    platforms.register(commands)
    wheels.register(commands)
    retag.register(commands)
    repair.register(commands)
    install.register(commands)
    build_commands.register(commands)
    serve.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except OmniwheelError as error:
        if args.debug:
            raise
        errors.print(f"omniwheel: error: {error}", markup=False)
        return error.exit_code
    except KeyboardInterrupt:
        errors.print("omniwheel: interrupted")
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
