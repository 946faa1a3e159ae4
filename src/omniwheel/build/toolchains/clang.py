"""What every clang-driven cross toolchain shares: Emscripten, iOS and Android.

Each family states its drivers, flags, sysconfig values and ``pyconfig.h`` sizes
in ``build/data/<family>.toml`` and says in a few methods what differs (target
flags, SDK pieces, a link stub of the target's libpython). This class turns
that into a prepared target: the target's Python headers and ``_sysconfigdata``
derived from the build interpreter (``pythons.py``), and CC/CXX/AR/RANLIB
wrappers (``cc_wrapper.py``) that every recipe's build calls.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omniwheel.build.pythons import (
    BuildPython,
    python_library,
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
from omniwheel.datafiles import load_table
from omniwheel.platforms import Platform
from omniwheel.platforms.data import format_version

WRAPPER = Path(__file__).with_name("cc_wrapper.py")
# The wrapper scripts written under <target>/bin, by the variable that names each.
_WRAPPED_TOOLS = {"CC": "cc", "CXX": "c++", "AR": "ar", "RANLIB": "ranlib"}
# The drivers each family's data file names, by their role in the wrapper's config.
DRIVER_ROLES = ("cc", "cxx", "ar", "ranlib", "nm")


def family_settings(family: str) -> dict[str, Any]:
    """``build/data/<family>.toml``: drivers, flags, sysconfig values and pyconfig sizes."""
    return load_table("omniwheel.build", f"{family}.toml")


def fingerprint(path: Path) -> str:
    """Where a file really is and its size and mtime: changes whenever it is replaced."""
    real = path.resolve()
    stat = real.stat()
    return f"{real} {stat.st_size} {stat.st_mtime_ns}"


def _tools(root: Path) -> dict[str, str]:
    """The target's wrapper for each tool variable (CC, CXX, AR, RANLIB) under ``root``."""
    return {variable: str(root / "bin" / tool) for variable, tool in _WRAPPED_TOOLS.items()}


def _shared_linkers(tools: Mapping[str, str]) -> dict[str, str]:
    """LDSHARED and LDCXXSHARED: the C and C++ wrappers (of ``_tools``) linking shared objects."""
    return {"LDSHARED": f"{tools['CC']} -shared", "LDCXXSHARED": f"{tools['CXX']} -shared"}


class ClangToolchain(Toolchain):
    """A clang-family driver behind wrappers, with the target's headers and sysconfig derived."""

    links_python = False  # extensions link a stub of the target's libpython (pythons.py)

    @property
    def settings(self) -> dict[str, Any]:
        return family_settings(self.family)

    # --- what a family says (the defaults suit a driver found on PATH) --------------------

    def drivers(self, platform: Platform) -> dict[str, str]:
        """The executable of each role of ``DRIVER_ROLES`` (a name on PATH or a path)."""
        return {role: self.settings[role] for role in DRIVER_ROLES}

    def missing_sdk(self, platform: Platform) -> list[Missing]:
        """What the target needs beyond the drivers (an SDK, an NDK); empty when ready."""
        return []

    def target_flags(self, platform: Platform, root: Path) -> list[str]:
        """Flags on every compile and link: which target, which sysroot."""
        return []

    def link_flags(self, platform: Platform) -> list[str]:
        """Flags on every link (which linker)."""
        return list(self.settings.get("ldflags", []))

    def shared_ldflags(self, platform: Platform, root: Path) -> list[str]:
        """Flags that make a shared link the target's extension module or library."""
        return list(self.settings.get("shared_ldflags", []))

    def write_platform_files(self, platform: Platform, python: BuildPython, root: Path) -> None:
        """SDK pieces and link stubs ``target_flags`` and ``shared_ldflags`` refer to."""

    def identity_parts(self, platform: Platform) -> list[str]:
        """What identifies the drivers (a new release changes the build's output)."""
        parts = []
        for role, name in self.drivers(platform).items():
            found = shutil.which(name)
            parts.append(f"{role} {fingerprint(Path(found)) if found else name}")
        return parts

    def script_variables(self, platform: Platform, prefix: Path) -> dict[str, str]:
        """Family variables recipe scripts expect (Pyodide's ``SIDE_MODULE_CFLAGS``)."""
        return {}

    def format_fields(self, platform: Platform, python: BuildPython) -> dict[str, str]:
        """The ``{fields}`` of the data file's sysconfig values."""
        return {
            "version": f"{python.version[0]}{python.version[1]}",
            "dotted": python.dotted,
            "abi": platform.abi or "",
            "arch": platform.arch,
            "variant": platform.variant or "",
            "min_os": format_version(platform.min_os or ()),
        }

    # --- shared ---------------------------------------------------------------------------

    def missing(self, platform: Platform, python: BuildPython | None) -> list[Missing]:
        return [
            *self.missing_drivers(platform),
            *self.missing_sdk(platform),
            *self.missing_python(platform, python),
        ]

    def missing_drivers(self, platform: Platform) -> list[Missing]:
        return [
            Missing(f"{self.settings['title']}'s {name}", self.settings["hint"])
            for name in dict.fromkeys(self.drivers(platform).values())
            if shutil.which(name) is None
        ]

    def missing_python(self, platform: Platform, python: BuildPython | None) -> list[Missing]:
        """The build interpreter, and its libpython where extensions link the target's."""
        dotted = platform.python.dotted
        if python is None:
            return [
                Missing(
                    f"a CPython {dotted} to run the build backend and derive the target headers",
                    f"install python{dotted} (e.g. 'pyenv install {dotted}') or pass "
                    "--build-python PATH",
                )
            ]
        if self.links_python and python_library(python) is None:
            return [
                Missing(
                    f"the libpython of {python.executable} (its exports are the C API "
                    "extensions link against)",
                    "use a CPython installed with its libpython: pyenv, python.org, or "
                    f"Debian's libpython{dotted}-dev",
                )
            ]
        return []

    def pyconfig_macros(self, platform: Platform) -> dict[str, int]:
        """``pyconfig.h`` macros stating the target's sizes: the family's, then its arch's."""
        rows = {**self.settings["pyconfig"]}
        rows |= self.settings.get("pyconfig_arch", {}).get(platform.arch, {})
        return {macro: row["value"] for macro, row in rows.items()}

    def sysconfig_values(self, platform: Platform, python: BuildPython) -> dict[str, Any]:
        fields = self.format_fields(platform, python)
        return {
            key: value.format(**fields) if isinstance(value, str) else value
            for key, value in self.settings["sysconfig"].items()
        }

    def _sysconfigdata_name(self, platform: Platform, python: BuildPython) -> str:
        values = self.sysconfig_values(platform, python)
        return sysconfigdata_name(values["MULTIARCH"], values["MACHDEP"])

    def prepare(self, platform: Platform, python: BuildPython, root: Path) -> CrossTarget:
        settings = hashlib.sha256(repr(sorted(self.settings.items())).encode()).hexdigest()
        identity = "\n".join(
            [
                f"target {platform.wheel_tag} {platform.sysconfig_platform}",
                f"python {python.dotted} {python.executable}",
                "pyconfig " + fingerprint(python.include / "pyconfig.h"),
                *self.identity_parts(platform),
                "settings " + settings,
                "wrapper " + hashlib.sha256(WRAPPER.read_bytes()).hexdigest(),
            ]
        )
        stamp = root / "identity.txt"
        if not (stamp.is_file() and stamp.read_text() == identity):
            stamp.unlink(missing_ok=True)
            self._write_target(platform, python, root)
            stamp.write_text(identity)
        environment = self._environment(platform, python, root)
        return CrossTarget(platform, python, root, environment, identity)

    def _write_target(self, platform: Platform, python: BuildPython, root: Path) -> None:
        """Headers, sysconfig, SDK pieces and compiler wrappers for ``platform`` under ``root``."""
        include = write_target_headers(
            python, root / "include" / f"python{python.dotted}", self.pyconfig_macros(platform)
        )
        # Build backends add LIBDIR to the link path when Py_ENABLE_SHARED: the target's
        # libraries (a libpython stub) are kept there.
        libraries = root / "lib"
        libraries.mkdir(parents=True, exist_ok=True)
        self.write_platform_files(platform, python, root)
        self._write_wrappers(root)
        tools = _tools(root)
        linkers = _shared_linkers(tools)
        overrides = self.sysconfig_values(platform, python) | {
            "LIBDIR": str(libraries), "LIBPL": str(libraries),
            **tools, **linkers, "BLDSHARED": linkers["LDSHARED"],
            "ARFLAGS": "rcs", "CFLAGS": "", "CPPFLAGS": "", "LDFLAGS": "", "OPT": "",
            "BASECFLAGS": "", "INCLUDEPY": str(include), "CONFINCLUDEPY": str(include),
        }  # fmt: skip
        name = self._sysconfigdata_name(platform, python)
        write_sysconfigdata(python, root / "sysconfig", name, overrides)

    def _environment(self, platform: Platform, python: BuildPython, root: Path) -> dict[str, str]:
        """What every build backend for ``platform`` runs with (the tools come per recipe)."""
        return {
            "_PYTHON_HOST_PLATFORM": platform.sysconfig_platform,
            "_PYTHON_SYSCONFIGDATA_NAME": self._sysconfigdata_name(platform, python),
            "PYTHONPATH": str(root / "sysconfig"),
            **_shared_linkers(_tools(root)),
            "CFLAGS": "", "CXXFLAGS": "", "LDFLAGS": "",
        }  # fmt: skip

    def _write_wrappers(self, root: Path) -> None:
        """One script per tool of ``_tools``, running ``cc_wrapper.py`` as that tool."""
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
        data = self.settings
        build = recipe.build
        platform = target.platform
        include = target.root / "include" / f"python{target.python.dotted}"
        drivers = self.drivers(platform)
        target_flags = self.target_flags(platform, target.root)
        config = {
            **{role: [drivers[role]] for role in DRIVER_ROLES},
            "include_flags": [f"-I{include}", f"-I{prefix / 'include'}"],
            "cflags": [*target_flags, *data["cflags"]],
            "recipe_cflags": split_flags(build.cflags, variables),
            "recipe_cxxflags": split_flags(build.cxxflags, variables),
            "ldflags": [f"-L{prefix / 'lib'}", *self.link_flags(platform)],
            "recipe_ldflags": split_flags(build.ldflags, variables),
            "shared_kind": data["shared_kind"],
            "shared_ldflags": self.shared_ldflags(platform, target.root),
            "soname_flag": data.get("soname_flag", ""),
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
            # Pyodide's name for the host prefix, kept for every family so recipes port.
            "WASM_LIBRARY_DIR": str(prefix),
            "PKG_CONFIG_LIBDIR": pkgconfig,
            "PYMAJOR": str(python[0]), "PYMINOR": str(python[1]),
            **self.script_variables(platform, prefix),
        }  # fmt: skip
        return RecipeEnvironment(shell=shared, backend={**target.environment, **shared})
