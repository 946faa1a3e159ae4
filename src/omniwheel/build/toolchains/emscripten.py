"""Emscripten: wheels for Pyodide, built with ``emcc`` as WebAssembly side modules.

The target's CPython headers and sysconfig are derived from a host CPython of
the same minor version (``pythons.py``) with ``pyconfig.h`` made to state the
wasm32 sizes of ``data/emscripten.toml``. Debian's ``emscripten`` package
(3.1.6) builds side modules that load in Pyodide 0.29 (Emscripten 4.0.9) given
``-sWASM_BIGINT`` and ``-DNDEBUG``; see the README's "Building wheels".
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from omniwheel.build.pythons import (
    BuildPython,
    sysconfigdata_name,
    write_sysconfigdata,
    write_target_headers,
)
from omniwheel.build.recipe import Recipe
from omniwheel.build.toolchains.base import (
    CrossTarget,
    Missing,
    RecipeEnvironment,
    Toolchain,
    split_flags,
    write_config,
)
from omniwheel.platforms import Platform

WRAPPER = Path(__file__).with_name("emcc_wrapper.py")
# The wrapper scripts written under <target>/bin, by the variable that names each.
_WRAPPED_TOOLS = {"CC": "cc", "CXX": "c++", "AR": "ar", "RANLIB": "ranlib"}


@cache
def settings() -> dict[str, Any]:
    """``data/emscripten.toml``: drivers, flags, sysconfig values and the wasm32 pyconfig."""
    text = resources.files("omniwheel.build").joinpath("data", "emscripten.toml").read_text()
    return tomllib.loads(text)


def _sysconfigdata_name() -> str:
    values = settings()["sysconfig"]
    return sysconfigdata_name(values["MULTIARCH"], values["MACHDEP"])


def pyconfig_macros() -> dict[str, int]:
    return {macro: row["value"] for macro, row in settings()["pyconfig"].items()}


def _tools(root: Path) -> dict[str, str]:
    """The target's wrapper for each tool variable (CC, CXX, AR, RANLIB) under ``root``."""
    return {variable: str(root / "bin" / tool) for variable, tool in _WRAPPED_TOOLS.items()}


def _shared_linkers(tools: Mapping[str, str]) -> dict[str, str]:
    """LDSHARED and LDCXXSHARED: the C and C++ wrappers (of ``_tools``) linking side modules."""
    return {"LDSHARED": f"{tools['CC']} -shared", "LDCXXSHARED": f"{tools['CXX']} -shared"}


def _fingerprint(path: Path) -> str:
    """Where a file really is and its size and mtime: changes whenever it is replaced."""
    real = path.resolve()
    stat = real.stat()
    return f"{real} {stat.st_size} {stat.st_mtime_ns}"


def _emscripten_fingerprint(driver: Path) -> str:
    """Which Emscripten ``driver`` runs, without starting it (emcc takes 0.2 s to start).

    The driver is often a generic launcher script (Debian's ``wrapper``), so the
    version file and ``emcc.py`` beside it are what change with a new release.
    """
    home = driver.resolve().parent
    parts = [_fingerprint(driver)]
    version = home / "emscripten-version.txt"
    if version.is_file():
        parts.append(version.read_text().strip())
    if (home / "emcc.py").is_file():
        parts.append(_fingerprint(home / "emcc.py"))
    return " ".join(parts)


class EmscriptenToolchain(Toolchain):
    family = "emscripten"

    def missing(self, platform: Platform, python: BuildPython | None) -> list[Missing]:
        found: list[Missing] = []
        data = settings()
        for tool in (data["cc"], data["cxx"], data["ar"], data["ranlib"], "emnm"):
            if shutil.which(tool) is None:
                found.append(Missing(f"Emscripten's {tool}", data["install_hint"]))
        if python is None:
            dotted = platform.python.dotted
            found.append(
                Missing(
                    f"a CPython {dotted} to run the build backend and derive the target headers",
                    f"install python{dotted} (e.g. 'pyenv install {dotted}') or pass "
                    "--build-python PATH",
                )
            )
        return found

    def prepare(self, platform: Platform, python: BuildPython, root: Path) -> CrossTarget:
        data = settings()
        driver = shutil.which(data["cc"])
        assert driver is not None  # missing() reported it otherwise
        identity = "\n".join(
            [
                f"target {platform.wheel_tag} {platform.sysconfig_platform}",
                f"python {python.dotted} {python.executable}",
                "pyconfig " + _fingerprint(python.include / "pyconfig.h"),
                "emcc " + _emscripten_fingerprint(Path(driver)),
                "settings " + hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest(),
                "wrapper " + hashlib.sha256(WRAPPER.read_bytes()).hexdigest(),
            ]
        )
        stamp = root / "identity.txt"
        if not (stamp.is_file() and stamp.read_text() == identity):
            stamp.unlink(missing_ok=True)
            self._write_target(platform, python, root)
            stamp.write_text(identity)
        return CrossTarget(platform, python, root, self._environment(platform, root), identity)

    def _write_target(self, platform: Platform, python: BuildPython, root: Path) -> None:
        """Headers, sysconfig and compiler wrappers for ``platform`` under ``root``."""
        data = settings()
        version = python.version
        fields = {"version": f"{version[0]}{version[1]}", "abi": platform.abi or ""}
        include = write_target_headers(
            python, root / "include" / f"python{python.dotted}", pyconfig_macros()
        )
        self._write_wrappers(root)
        overrides: dict[str, Any] = {
            key: value.format(**fields) if isinstance(value, str) else value
            for key, value in data["sysconfig"].items()
        }
        tools = _tools(root)
        linkers = _shared_linkers(tools)
        overrides |= {
            **tools, **linkers, "BLDSHARED": linkers["LDSHARED"],
            "ARFLAGS": "rcs", "CFLAGS": "", "CPPFLAGS": "", "LDFLAGS": "", "OPT": "",
            "BASECFLAGS": "", "INCLUDEPY": str(include), "CONFINCLUDEPY": str(include),
        }  # fmt: skip
        write_sysconfigdata(python, root / "sysconfig", _sysconfigdata_name(), overrides)

    def _environment(self, platform: Platform, root: Path) -> dict[str, str]:
        """What every build backend for ``platform`` runs with (the tools come per recipe)."""
        return {
            "_PYTHON_HOST_PLATFORM": platform.sysconfig_platform,
            "_PYTHON_SYSCONFIGDATA_NAME": _sysconfigdata_name(),
            "PYTHONPATH": str(root / "sysconfig"),
            **_shared_linkers(_tools(root)),
            "CFLAGS": "", "CXXFLAGS": "", "LDFLAGS": "",
        }  # fmt: skip

    def _write_wrappers(self, root: Path) -> None:
        """One script per tool of ``_tools``, running ``emcc_wrapper.py`` as that tool."""
        for path in _tools(root).values():
            script = Path(path)
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(
                "#!/bin/sh\n"
                f"exec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(WRAPPER))} "
                f'{script.name} "$@"\n'
            )
            script.chmod(0o755)

    def recipe_environment(
        self,
        target: CrossTarget,
        recipe: Recipe,
        *,
        work: Path,
        prefix: Path,
        variables: Mapping[str, str],
    ) -> RecipeEnvironment:
        data = settings()
        build = recipe.build
        include = target.root / "include" / f"python{target.python.dotted}"
        config = {
            "cc": data["cc"], "cxx": data["cxx"], "ar": data["ar"], "ranlib": data["ranlib"],
            "include_flags": [f"-I{include}", f"-I{prefix / 'include'}"],
            "cflags": data["cflags"],
            "recipe_cflags": split_flags(build.cflags, variables),
            "recipe_cxxflags": split_flags(build.cxxflags, variables),
            "ldflags": [f"-L{prefix / 'lib'}"],
            "recipe_ldflags": split_flags(build.ldflags, variables),
            "side_module_ldflags": data["side_module_ldflags"],
            "exports": build.exports if isinstance(build.exports, str) else list(build.exports),
            "host_prefixes": sorted({str(target.python.base_prefix)}),
        }  # fmt: skip
        config_path = write_config(work / "cross.json", config)
        pkgconfig = str(prefix / "lib" / "pkgconfig")
        python = target.python.version
        shared = {
            "PATH": f"{target.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "OMNIWHEEL_CROSS_CONFIG": str(config_path),
            "OMNIWHEEL_CROSS_VERBOSE": "1",
            **_tools(target.root),
            "WASM_LIBRARY_DIR": str(prefix),
            "EM_PKG_CONFIG_PATH": pkgconfig, "PKG_CONFIG_LIBDIR": pkgconfig,
            "PYMAJOR": str(python[0]), "PYMINOR": str(python[1]),
            "SIDE_MODULE_CFLAGS": " ".join(data["cflags"]),
            "SIDE_MODULE_LDFLAGS": " ".join(["-sSIDE_MODULE=1", *data["side_module_ldflags"]]),
        }  # fmt: skip
        return RecipeEnvironment(shell=shared, backend={**target.environment, **shared})
