"""Loads the platform data tables (TOML files beside this module) once."""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from omniwheel.datafiles import load_table
from omniwheel.platforms.python import PythonTarget


def parse_version(text: str) -> tuple[int, ...]:
    """``"13.0"`` → ``(13, 0)``; the caller has already checked the shape."""
    return tuple(int(part) for part in text.split("."))


def format_version(version: tuple[int, ...], separator: str = ".") -> str:
    return separator.join(str(part) for part in version)


def load(name: str) -> dict[str, Any]:
    """The parsed ``data/<name>.toml``."""
    return load_table("omniwheel.platforms", f"{name}.toml")


class EmscriptenAbi(NamedTuple):
    """One Pyodide platform ABI row of ``data/emscripten.toml``."""

    name: str
    python: PythonTarget
    emscripten: tuple[int, ...]
    pyodide: tuple[str, ...]
    uv_triple: str | None
    planned: bool
    #: How the loader finds a needed side module: "package", "runtime-path" or None (unknown).
    dylib_search: str | None = None
    #: The prefix of the platform tag the ABI's own installers know best.
    tag: str = "pyemscripten"


@cache
def emscripten_abis() -> tuple[EmscriptenAbi, ...]:
    return tuple(
        EmscriptenAbi(
            name=row["name"],
            python=PythonTarget.parse(row["python"]),
            emscripten=parse_version(row["emscripten"]),
            pyodide=tuple(row["pyodide"]),
            uv_triple=row.get("uv_triple"),
            planned=row.get("planned", False),
            dylib_search=row.get("dylib_search"),
            tag=row.get("tag", "pyemscripten"),
        )
        for row in load("emscripten")["abi"]
    )


def default_python() -> PythonTarget:
    return PythonTarget.parse(load("defaults")["python"])


def default_minimum(key: str) -> tuple[int, ...]:
    """The default minimum OS (or libc) version for ``key`` in ``defaults.toml``."""
    return parse_version(load("defaults")["minimum_os"][key])
