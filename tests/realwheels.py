"""Real wheels from the package index pip is configured with, pinned by filename and sha256.

Tests must read what the world actually publishes, not only what we craft;
pinning the exact file keeps every asserted fact reproducible. Downloads go
through ``pip download`` (so the user's index and proxy settings apply) into
``${XDG_CACHE_HOME:-~/.cache}/omniwheel/test-wheels/``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from omniwheel.files import default_cache_dir, file_sha256


@dataclass(frozen=True)
class RealWheel:
    """How to ask pip for one wheel, and what it must turn out to be."""

    requirement: str
    platform: str
    python_version: str
    abi: str
    filename: str
    sha256: str


WHEELS: dict[str, RealWheel] = {
    "ios-device": RealWheel(
        "markupsafe==3.0.4",
        "ios_13_0_arm64_iphoneos",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
        "6bd9e1788e15bfcf6a9082de42e30387e7b85d211ab21e57a939bb8cfaaf8d96",
    ),
    "ios-simulator": RealWheel(
        "markupsafe==3.0.4",
        "ios_13_0_arm64_iphonesimulator",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl",
        "5066b244f576f91afc8ee3ba029a89f99d39c79b1853fe9d39bea9f0afbec148",
    ),
    "ios-simulator-x86_64": RealWheel(
        "markupsafe==3.0.4",
        "ios_13_0_x86_64_iphonesimulator",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_x86_64_iphonesimulator.whl",
        "7a83aa6e4805df46fed18e989d3d16f86ef60cb50bbc8d9ce3a6be89165fbf6e",
    ),
    "android-arm64": RealWheel(
        "markupsafe==3.0.4",
        "android_24_arm64_v8a",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl",
        "de8b364c423ef0a4bad9069657d617f9a5d2b2062457a89b1fa16ee199c399c1",
    ),
    "pyemscripten": RealWheel(
        "msgpack==1.2.4",
        "pyemscripten_2026_0_wasm32",
        "3.14",
        "cp314",
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "06a0657a4110d563255006b7cb7147432f67827144e429c2cdb1c967548d1817",
    ),
    "macos-universal2": RealWheel(
        "markupsafe==3.0.2",
        "macosx_11_0_universal2",
        "3.13",
        "cp313",
        "MarkupSafe-3.0.2-cp313-cp313-macosx_10_13_universal2.whl",
        "ba9527cdd4c926ed0760bc301f6728ef34d841f405abf9d4f959c478421e4efd",
    ),
    "manylinux-vendored": RealWheel(
        "pillow==11.3.0",
        "manylinux_2_28_x86_64",
        "3.13",
        "cp313",
        "pillow-11.3.0-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "13f87d581e71d9189ab21fe0efb5a23e9f28552d5be6979e84001d3b8505abe8",
    ),
    "win-amd64": RealWheel(
        "markupsafe==3.0.4",
        "win_amd64",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-win_amd64.whl",
        "1f1f9477e174582b0a1b583d60b66e1f2cf5d3fe12cee985e4aedf44766600e5",
    ),
    "musllinux": RealWheel(
        "markupsafe==3.0.4",
        "musllinux_1_2_x86_64",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-musllinux_1_2_x86_64.whl",
        "2628d3a8cb648ecebb3c5d6b0a1052d400e4d8b7ac0fb786be8d285b50040d17",
    ),
    "pure": RealWheel(
        "iniconfig==2.1.0",
        "any",
        "3.13",
        "none",
        "iniconfig-2.1.0-py3-none-any.whl",
        "9deba5723312380e77435581c6bf4935c94cbfab9b1ed33ef8d238ea168eb760",
    ),
    "pyemscripten-2025": RealWheel(
        "msgpack==1.2.4",
        "pyemscripten_2025_0_wasm32",
        "3.13",
        "cp313",
        "msgpack-1.2.4-cp313-cp313-pyemscripten_2025_0_wasm32.whl",
        "d088d1f552e129859db830692268747aba0a1ee3e6e0fe6344dbb3aab1df9f6c",
    ),
    "micropip": RealWheel(
        "micropip==0.7.2",
        "any",
        "3.12",
        "none",
        "micropip-0.7.2-py3-none-any.whl",
        "d2b63ea316a2a9dcbfeadd4f855d8cec7d54f65b3849e638a7cc627e6d35e4d5",
    ),
    "packaging-pure": RealWheel(
        "packaging==24.2",
        "any",
        "3.12",
        "none",
        "packaging-24.2-py3-none-any.whl",
        "09abb1bccd265c01f4a3aa3f7a7db064b36514d2cba19a2f694fe6150451a759",
    ),
}
"""No ``pyodide_2025_0_wasm32`` wheel: the index refuses ``pyodide_*`` uploads (PEP 783)."""


class FetchError(RuntimeError):
    """pip could not produce the pinned wheel, or produced a different file."""


def cache_dir() -> Path:
    return default_cache_dir() / "test-wheels"


def _download(wheel: RealWheel, into: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        wheel.platform,
        "--python-version",
        wheel.python_version,
        "--implementation",
        "cp",
        "--abi",
        wheel.abi,
        "-d",
        str(into),
        wheel.requirement,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    downloaded = into / wheel.filename
    if result.returncode != 0 or not downloaded.is_file():
        got = sorted(path.name for path in into.iterdir())
        raise FetchError(
            f"pip download of {wheel.requirement} for {wheel.platform} did not produce "
            f"{wheel.filename} (got {got}, exit {result.returncode}): {result.stderr[-2000:]}"
        )
    return downloaded


def fetch(key: str) -> Path:
    """The cached wheel for ``key`` (see ``WHEELS``), downloaded and checked if needed."""
    return fetch_wheel(WHEELS[key])


def fetch_wheel(wheel: RealWheel) -> Path:
    """The cached, sha256-checked file for any pinned ``RealWheel``."""
    target = cache_dir() / wheel.filename
    if target.is_file() and file_sha256(target) == wheel.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        downloaded = _download(wheel, Path(scratch))
        digest = file_sha256(downloaded)
        if digest != wheel.sha256:
            raise FetchError(
                f"{wheel.filename} from the index has sha256 {digest}, "
                f"but the pin is {wheel.sha256}: the published file changed"
            )
        downloaded.replace(target)
    return target
