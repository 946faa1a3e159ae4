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
import subprocess
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
_WRAPPED_TOOLS = ("cc", "c++", "ar", "ranlib")


@cache
def settings() -> dict[str, Any]:
    """``data/emscripten.toml``: drivers, flags, sysconfig values and the wasm32 pyconfig."""
    text = resources.files("omniwheel.build").joinpath("data", "emscripten.toml").read_text()
    return tomllib.loads(text)


def pyconfig_macros() -> dict[str, int]:
    return {macro: row["value"] for macro, row in settings()["pyconfig"].items()}


def emcc_version() -> str | None:
    """``emcc --version``'s first line, or ``None`` when emcc is not installed."""
    driver = shutil.which(settings()["cc"])
    if driver is None:
        return None
    result = subprocess.run([driver, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.returncode == 0 and result.stdout else None


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
        version = python.version
        fields = {"version": f"{version[0]}{version[1]}", "abi": platform.abi or ""}
        include = write_target_headers(
            python, root / "include" / f"python{python.dotted}", pyconfig_macros()
        )
        tools = self._write_wrappers(root / "bin")
        overrides: dict[str, Any] = {
            key: value.format(**fields) if isinstance(value, str) else value
            for key, value in data["sysconfig"].items()
        }
        compiler, cxx = str(tools / "cc"), str(tools / "c++")
        overrides |= {
            "CC": compiler, "CXX": cxx, "LDSHARED": f"{compiler} -shared",
            "LDCXXSHARED": f"{cxx} -shared", "BLDSHARED": f"{compiler} -shared",
            "AR": str(tools / "ar"), "ARFLAGS": "rcs", "RANLIB": str(tools / "ranlib"),
            "CFLAGS": "", "CPPFLAGS": "", "LDFLAGS": "", "OPT": "", "BASECFLAGS": "",
            "INCLUDEPY": str(include), "CONFINCLUDEPY": str(include),
        }  # fmt: skip
        name = sysconfigdata_name(overrides["MULTIARCH"], overrides["MACHDEP"])
        write_sysconfigdata(python, root / "sysconfig", name, overrides)
        environment = {
            "_PYTHON_HOST_PLATFORM": platform.sysconfig_platform,
            "_PYTHON_SYSCONFIGDATA_NAME": name,
            "PYTHONPATH": str(root / "sysconfig"),
            "CC": compiler, "CXX": cxx, "AR": str(tools / "ar"), "RANLIB": str(tools / "ranlib"),
            "LDSHARED": overrides["LDSHARED"], "LDCXXSHARED": overrides["LDCXXSHARED"],
            "CFLAGS": "", "CXXFLAGS": "", "LDFLAGS": "",
        }  # fmt: skip
        identity = "\n".join(
            [
                f"target {platform.wheel_tag} {platform.sysconfig_platform}",
                f"python {python.dotted}",
                f"emcc {emcc_version()}",
                "settings " + hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest(),
                "wrapper " + hashlib.sha256(WRAPPER.read_bytes()).hexdigest(),
            ]
        )
        return CrossTarget(platform, python, root, environment, identity)

    def _write_wrappers(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for tool in _WRAPPED_TOOLS:
            script = directory / tool
            script.write_text(
                "#!/bin/sh\n"
                f"exec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(WRAPPER))} "
                f'{tool} "$@"\n'
            )
            script.chmod(0o755)
        return directory

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
        tools = target.root / "bin"
        pkgconfig = str(prefix / "lib" / "pkgconfig")
        python = target.python.version
        shared = {
            "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
            "OMNIWHEEL_CROSS_CONFIG": str(config_path),
            "OMNIWHEEL_CROSS_VERBOSE": "1",
            "CC": str(tools / "cc"), "CXX": str(tools / "c++"),
            "AR": str(tools / "ar"), "RANLIB": str(tools / "ranlib"),
            "WASM_LIBRARY_DIR": str(prefix),
            "EM_PKG_CONFIG_PATH": pkgconfig, "PKG_CONFIG_LIBDIR": pkgconfig,
            "PYMAJOR": str(python[0]), "PYMINOR": str(python[1]),
            "SIDE_MODULE_CFLAGS": " ".join(data["cflags"]),
            "SIDE_MODULE_LDFLAGS": " ".join(["-sSIDE_MODULE=1", *data["side_module_ldflags"]]),
        }  # fmt: skip
        return RecipeEnvironment(shell=shared, backend={**target.environment, **shared})
