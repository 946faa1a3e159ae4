"""The build interpreter, and the target Python's headers and sysconfig derived from it.

A PEP 517 backend runs inside a real interpreter and asks it for the wheel's
Python tag, ``EXT_SUFFIX`` and headers. Cross-building therefore needs a host
CPython of the target's minor version (Pyodide's own tooling does the same);
its headers become the target's once ``pyconfig.h`` states the target's type
sizes, and a generated ``_sysconfigdata`` module (selected with
``_PYTHON_SYSCONFIGDATA_NAME``) answers with the target's values.
"""

from __future__ import annotations

import json
import os
import pprint
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omniwheel.platforms import PythonTarget

_PROBE = """\
import json, sys, sysconfig
values = {k: v for k, v in sysconfig.get_config_vars().items() if isinstance(v, (str, int))}
print(json.dumps({"version": list(sys.version_info[:2]), "prefix": sys.prefix,
    "base_prefix": sys.base_prefix, "include": sysconfig.get_paths()["include"],
    "config_vars": values}))
"""


@dataclass(frozen=True)
class BuildPython:
    """A host CPython that runs the build backend: where it is and what it reports."""

    executable: Path
    version: tuple[int, int]
    base_prefix: Path
    include: Path
    config_vars: Mapping[str, str | int]

    @property
    def dotted(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def probe(executable: Path) -> BuildPython | None:
    """Ask ``executable`` what it is; ``None`` when it does not run (a dangling pyenv shim)."""
    try:
        result = subprocess.run(
            [str(executable), "-I", "-c", _PROBE],
            capture_output=True, text=True, timeout=60, check=False,
            env={k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "_PYTHON"))},
        )  # fmt: skip
    except OSError:
        return None
    if result.returncode != 0:
        return None
    facts = json.loads(result.stdout)
    return BuildPython(
        executable=executable,
        version=(facts["version"][0], facts["version"][1]),
        base_prefix=Path(facts["base_prefix"]),
        include=Path(facts["include"]),
        config_vars=facts["config_vars"],
    )


def find_build_python(target: PythonTarget, explicit: Path | None = None) -> BuildPython | None:
    """A runnable CPython of ``target``'s minor version: ``explicit``, then PATH, then pyenv.

    Only the minor version has to match; headers of one 3.13.x describe every 3.13.
    """
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    else:
        name = f"python{target.dotted}"
        on_path = shutil.which(name)
        # A pyenv shim runs only when its version is selected, and is slow to find that out.
        if on_path and Path(on_path).parent.name != "shims":
            candidates.append(Path(on_path))
        pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
        pattern = re.compile(rf"^{re.escape(target.dotted)}\.\d+$")
        if pyenv.is_dir():
            versions = sorted(
                (path for path in pyenv.iterdir() if pattern.match(path.name)),
                key=lambda path: int(path.name.rsplit(".", 1)[1]),
                reverse=True,
            )
            candidates.extend(path / "bin" / name for path in versions)
    for candidate in candidates:
        found = probe(candidate)
        if found is not None and found.version == target.version:
            return found
    return None


def write_target_headers(python: BuildPython, destination: Path, macros: Mapping[str, int]) -> Path:
    """A copy of ``python``'s include directory whose ``pyconfig.h`` states ``macros``.

    The whole directory is copied because ``Python.h`` includes ``pyconfig.h`` with
    quotes, which searches the including file's directory first.
    """
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(python.include, destination)
    pyconfig = destination / "pyconfig.h"
    text = pyconfig.read_text()
    for macro, value in macros.items():
        text, count = re.subn(
            rf"^#define {re.escape(macro)} .*$", f"#define {macro} {value}", text, flags=re.M
        )
        if count == 0:
            text += f"\n#define {macro} {value}\n"
    pyconfig.write_text(text)
    return destination


def sysconfigdata_name(multiarch: str, machdep: str) -> str:
    """The module name CPython gives its build-time variables (``_sysconfigdata__emscripten_…``)."""
    return f"_sysconfigdata__{machdep}_{multiarch}"


def write_sysconfigdata(
    python: BuildPython, directory: Path, name: str, overrides: Mapping[str, Any]
) -> Path:
    """``directory/<name>.py``: the build interpreter's variables, ``overrides`` applied."""
    values = {**python.config_vars, **overrides}
    directory.mkdir(parents=True, exist_ok=True)
    module = directory / f"{name}.py"
    module.write_text(
        "# Generated by omniwheel: the target interpreter's build-time variables.\n"
        f"build_time_vars = {pprint.pformat(values, width=100)}\n"
    )
    return module


def python_library(python: BuildPython) -> Path | None:
    """The build interpreter's libpython (shared, else static), whose exports are the C API's."""
    values = python.config_vars
    candidates = [
        (values.get("LIBDIR"), values.get("LDLIBRARY")),
        (values.get("LIBPL"), values.get("LIBRARY")),
    ]
    for directory, name in candidates:
        if directory and name and (Path(str(directory)) / str(name)).is_file():
            return Path(str(directory)) / str(name)
    return None


def python_exports(library: Path, nm: str) -> list[str]:
    """The C symbols ``library`` (a libpython) defines: what an extension may link against.

    The target's libpython exports the same C API as the host's of the same minor
    version, so a link stub for the target (an iOS ``.tbd``, an Android stub
    library) lists these.
    """
    dynamic = ["-D"] if ".so" in library.name else []
    listing = subprocess.run(
        [nm, *dynamic, "-j", "--defined-only", "--extern-only", str(library)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    names = listing.stdout.split()
    return sorted({name for name in names if name.startswith(("Py", "_Py", "PY_"))})
