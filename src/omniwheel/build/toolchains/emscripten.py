"""Emscripten: wheels for Pyodide, built with ``emcc`` as WebAssembly side modules.

The target's CPython headers and sysconfig are derived from a host CPython of
the same minor version (``pythons.py``) with ``pyconfig.h`` made to state the
wasm32 sizes of ``data/emscripten.toml``. Debian's ``emscripten`` package
(3.1.6) builds side modules that load in Pyodide 0.29 (Emscripten 4.0.9) given
``-sWASM_BIGINT`` and ``-DNDEBUG``; see the README's "Building wheels".
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from omniwheel.build.toolchains.clang import ClangToolchain, family_settings, fingerprint
from omniwheel.platforms import Platform


def settings() -> dict[str, Any]:
    """``data/emscripten.toml``: drivers, flags, sysconfig values and the wasm32 pyconfig."""
    return family_settings("emscripten")


def _emscripten_fingerprint(driver: Path) -> str:
    """Which Emscripten ``driver`` runs, without starting it (emcc takes 0.2 s to start).

    The driver is often a generic launcher script (Debian's ``wrapper``), so the
    version file and ``emcc.py`` beside it are what change with a new release.
    """
    home = driver.resolve().parent
    parts = [fingerprint(driver)]
    version = home / "emscripten-version.txt"
    if version.is_file():
        parts.append(version.read_text().strip())
    if (home / "emcc.py").is_file():
        parts.append(fingerprint(home / "emcc.py"))
    return " ".join(parts)


class EmscriptenToolchain(ClangToolchain):
    family = "emscripten"

    def identity_parts(self, platform: Platform) -> list[str]:
        driver = shutil.which(self.settings["cc"])
        assert driver is not None  # missing() reported it otherwise
        return ["emcc " + _emscripten_fingerprint(Path(driver))]

    def script_variables(self, platform: Platform, prefix: Path) -> dict[str, str]:
        data = self.settings
        return {
            "EM_PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig"),
            "SIDE_MODULE_CFLAGS": " ".join(data["cflags"]),
            "SIDE_MODULE_LDFLAGS": " ".join(["-sSIDE_MODULE=1", *data["shared_ldflags"]]),
        }
