"""Entry point: parse arguments, run one command, turn our errors into one line."""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from omniwheel import __version__
from omniwheel.cli.output import errors
from omniwheel.errors import OmniwheelError

# httpx imports its optional command-line front end (click, pygments, rich progress and
# syntax) whenever click is installed; this process never runs it, and the import costs
# every command that touches an index ~40 ms. A None entry makes that import fail, which
# httpx handles (its `httpx.main` then asks for the `httpx[cli]` extra).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

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


# Command -> the module under omniwheel.cli that defines it. Only the module of the
# command being run is imported: start-up stays short (a server or a one-wheel
# `inspect` does not pay for the resolver and build machinery).
COMMANDS = {
    "platforms": "platforms",
    "tags": "platforms",
    "markers": "platforms",
    "inspect": "wheels",
    "check": "wheels",
    "retag": "retag",
    "repair": "repair",
    "lock": "install",
    "install": "install",
    "build": "build",
    "skeleton": "build",
    "serve": "serve",
    "token": "serve",
    "index": "serve",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with a pointer to --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        errors.print(f"{self.prog}: error: {message} (see {self.prog} --help)", markup=False)
        raise SystemExit(2)


def _modules_for(argv: Sequence[str]) -> list[str]:
    """The command modules to load: the named command's, or all (for help and mistakes)."""
    words = [word for word in argv if not word.startswith("-")]
    if words and words[0] in COMMANDS:
        return [COMMANDS[words[0]]]
    return list(dict.fromkeys(COMMANDS.values()))


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
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
    for module in _modules_for(argv):
        importlib.import_module(f"omniwheel.cli.{module}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status. Callable in-process (tests, embedding)."""
    return execute(parse(argv))


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line, with the command's module (and what it needs) loaded."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return build_parser(arguments).parse_args(arguments)


def run() -> NoReturn:
    """The process entry point (console script and ``python -m omniwheel``).

    ``main`` with the garbage collector set for a short-lived process. Loading a
    command creates tens of thousands of long-lived objects (modules, classes,
    compiled patterns) and next to no garbage cycles, so collecting during
    start-up only rescans them: the collector stays off until the command runs,
    and what start-up built is frozen out of its scans. Freezing again at the end
    spares interpreter shutdown one last scan of the whole heap. Together about
    10% of a one-wheel ``inspect``.
    """
    gc.disable()
    args = parse()
    gc.freeze()
    gc.enable()
    status = execute(args)
    gc.freeze()
    sys.exit(status)


def execute(args: argparse.Namespace) -> int:
    """Run the command ``parse`` chose; our errors become one line and an exit status."""
    try:
        result: int = args.run(args)
    except OmniwheelError as error:
        if args.debug:
            raise
        errors.print(f"omniwheel: error: {error}", markup=False)
        return error.exit_code
    except OSError as error:  # the file system or the network refused: disk full, no access
        if args.debug:
            raise
        where = f": {error.filename}" if error.filename else ""
        errors.print(f"omniwheel: error: {error.strerror or error}{where}", markup=False)
        return OmniwheelError.exit_code
    except KeyboardInterrupt:
        errors.print("omniwheel: interrupted")
        return 130
    return result


if __name__ == "__main__":
    run()
