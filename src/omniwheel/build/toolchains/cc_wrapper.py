"""The CC / CXX / AR that build systems call when omniwheel cross-builds with a clang driver.

Run as a script (standard library only, so every compiler call stays cheap):
``python cc_wrapper.py cc|c++|ar|ranlib ARGS...``, with ``OMNIWHEEL_CROSS_CONFIG``
naming the JSON file that one recipe's build wrote. Build systems pass host
flags learned from the build interpreter (its include and library directories,
rpaths, ``-pthread``): those are dropped. Every compile gets the target's
flags and Python headers; every shared link gets the target's shared-object
flags: a WebAssembly side module exporting what the recipe's ``build/exports``
asks for (Emscripten), or a shared library linked against the target's Python
(iOS, Android).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_COMPILE_ONLY = {"-c", "-S", "-E"}
_PATH_FLAGS = ("-I", "-L", "-Wl,-rpath,", "-Wl,-rpath=", "-Wl,-R", "-isystem")


def _is_host_path(argument: str, prefixes: list[str]) -> bool:
    return any(argument == prefix or argument.startswith(prefix + "/") for prefix in prefixes)


def drop_host_flags(arguments: list[str], prefixes: list[str]) -> list[str]:
    """``arguments`` without flags that point into the build interpreter or need threads."""
    kept: list[str] = []
    skip_next = False
    for index, argument in enumerate(arguments):
        if skip_next:
            skip_next = False
            continue
        if argument == "-pthread":
            continue
        separate = argument in _PATH_FLAGS and index + 1 < len(arguments)
        if separate and _is_host_path(arguments[index + 1], prefixes):
            skip_next = True
            continue
        flag = next((flag for flag in _PATH_FLAGS if argument.startswith(flag)), None)
        if flag is not None and _is_host_path(argument[len(flag) :], prefixes):
            continue
        kept.append(argument)
    return kept


def _output(arguments: list[str]) -> str | None:
    for index, argument in enumerate(arguments):
        if argument == "-o" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("-o") and len(argument) > 2:
            return argument[2:]
    return None


def _pyinit_symbols(nm: list[str], arguments: list[str]) -> list[str]:
    """``PyInit_*`` symbols defined by the objects and archives being linked."""
    inputs = [a for a in arguments if a.endswith((".o", ".a", ".obj")) and Path(a).is_file()]
    if not inputs:
        return []
    listing = subprocess.run(
        [*nm, "-j", "--defined-only", "--extern-only", *inputs],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return sorted({line for line in listing.stdout.split() if line.startswith("PyInit_")})


def side_module_flags(exports: Any, arguments: list[str], nm: list[str]) -> list[str]:
    """The link flags that make a side module exporting what ``build/exports`` says."""
    if exports == "pyinit":
        symbols = _pyinit_symbols(nm, arguments)
        if not symbols:  # a plain shared library: everything it defines may be needed
            return ["-sSIDE_MODULE=1"]
        return ["-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=" + ",".join("_" + s for s in symbols)]
    if isinstance(exports, list):
        return ["-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=" + ",".join("_" + s for s in exports)]
    return ["-sSIDE_MODULE=1"]  # "requested" and "whole_archive": every visible symbol


def _shared_link(arguments: list[str], config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The link's arguments and the flags that make its output the target's shared object."""
    if config["shared_kind"] != "side_module":
        shared = [] if "-shared" in arguments else ["-shared"]
        # Named by its file name (an iOS install name, an ELF soname), not the build path.
        name = Path(_output(arguments) or "a.out").name
        return arguments, [*shared, config["soname_flag"] + name, *config["shared_ldflags"]]
    arguments = [a for a in arguments if a != "-shared"]
    if config["exports"] == "whole_archive":
        arguments = ["-Wl,--whole-archive", *arguments, "-Wl,--no-whole-archive"]
    flags = side_module_flags(config["exports"], arguments, config["nm"])
    return arguments, flags + config["shared_ldflags"]


def command(tool: str, arguments: list[str], config: dict[str, Any]) -> list[str]:
    """The real driver command for one call of the wrapper ``tool``."""
    if tool in {"ar", "ranlib"}:
        return [*config[tool], *arguments]
    driver = config["cxx" if tool == "c++" else "cc"]
    arguments = drop_host_flags(arguments, config["host_prefixes"])
    flags = [*config["include_flags"], *config["cflags"]]
    recipe_flags = list(config["recipe_cflags"])
    if tool == "c++":
        recipe_flags += config["recipe_cxxflags"]
    if _COMPILE_ONLY.intersection(arguments):
        return [*driver, *flags, *arguments, *recipe_flags]
    output = _output(arguments) or ""
    link = [*config["ldflags"], *config["recipe_ldflags"]]
    if "-shared" in arguments or output.endswith(".so"):
        arguments, shared = _shared_link(arguments, config)
        link += shared
    return [*driver, *flags, *arguments, *recipe_flags, *link]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in {"cc", "c++", "ar", "ranlib"}:
        print("usage: cc_wrapper.py cc|c++|ar|ranlib ARGS...", file=sys.stderr)
        return 2
    config = json.loads(Path(os.environ["OMNIWHEEL_CROSS_CONFIG"]).read_text())
    real = command(argv[1], argv[2:], config)
    if os.environ.get("OMNIWHEEL_CROSS_VERBOSE"):
        print("omniwheel:", " ".join(real), file=sys.stderr)
    # The target's sysconfig must not leak into a driver written in Python (emcc).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("_PYTHON_")}
    environment.pop("PYTHONPATH", None)
    return subprocess.run(real, env=environment, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
