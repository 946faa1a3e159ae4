"""Our compatible tags equal pypa/packaging's, element by element, on emulated targets.

Each case makes packaging believe it runs on the target: ``sys``, ``platform`` and
``sysconfig`` as packaging.tags sees them are replaced by proxies answering as the
target's interpreter would (version, free-threading, iOS/Android/macOS versions,
multiarch, glibc/musl), and ``packaging.tags.sys_tags()`` is compared with
``omniwheel.platforms.compatible_tags`` for the same platform.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import packaging._manylinux
import packaging._musllinux
import packaging.tags
import pytest

from omniwheel.platforms import compatible_tags, parse_platform

PYTHONS = ["3.11", "3.12", "3.13", "3.13t", "3.14", "3.14t"]


class _Proxy:
    """A module stand-in: the overrides, else the real module's attribute."""

    def __init__(self, real: Any, **overrides: Any) -> None:
        self._real = real
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._real, name)


@contextmanager
def emulated(
    monkeypatch: pytest.MonkeyPatch,
    python: str,
    system: str,
    sysconfig_platform: str,
    *,
    config: dict[str, Any] | None = None,
    implementation: dict[str, Any] | None = None,
    platform_calls: dict[str, Any] | None = None,
    glibc: tuple[int, int] = (-1, -1),
    musl: tuple[int, int] | None = None,
) -> Iterator[None]:
    free_threaded = python.endswith("t")
    major, minor = (int(part) for part in python.rstrip("t").split("."))
    config_vars = {
        "py_version_nodot": f"{major}{minor}",
        "Py_GIL_DISABLED": int(free_threaded),
        "Py_DEBUG": 0,
        **(config or {}),
    }
    real_sys = packaging.tags.sys
    fake_implementation = types.SimpleNamespace(name="cpython", **(implementation or {}))
    fake_sys = _Proxy(
        real_sys, version_info=(major, minor, 0, "final", 0), implementation=fake_implementation
    )
    fake_sysconfig = _Proxy(
        packaging.tags.sysconfig,
        get_platform=lambda: sysconfig_platform,
        get_config_var=config_vars.get,
    )
    fake_platform = _Proxy(packaging.tags.platform, system=lambda: system, **(platform_calls or {}))
    monkeypatch.setattr(packaging.tags, "sys", fake_sys)
    monkeypatch.setattr(packaging.tags, "sysconfig", fake_sysconfig)
    monkeypatch.setattr(packaging.tags, "platform", fake_platform)
    monkeypatch.setattr(packaging.tags, "EXTENSION_SUFFIXES", [".so"])
    monkeypatch.setattr(packaging._manylinux, "_get_glibc_version", lambda: glibc)
    monkeypatch.setattr(packaging._manylinux, "_have_compatible_abi", lambda *a: glibc[0] > 0)
    monkeypatch.setattr(
        packaging._musllinux,
        "_get_musl_version",
        lambda _exe: None if musl is None else packaging._musllinux._MuslVersion(*musl),
    )
    yield


def assert_parity(ours: str, python: str, expected: list[packaging.tags.Tag]) -> None:
    mine = list(compatible_tags(parse_platform(ours, python=python)))
    assert mine == expected, f"{ours} with {python}: first difference at " + str(
        next(i for i, (a, b) in enumerate(zip(mine, expected, strict=False)) if a != b)
        if mine[: len(expected)] != expected[: len(mine)]
        else f"length {len(mine)} vs {len(expected)}"
    )
    assert len(mine) > 10


IOS_CASES = list(
    itertools.product(
        PYTHONS,
        [(12, 0), (13, 0), (15, 1), (17, 4)],
        [("arm64", "iphoneos"), ("arm64", "iphonesimulator"), ("x86_64", "iphonesimulator")],
    )
)


@pytest.mark.parametrize(("python", "version", "slice_"), IOS_CASES)
def test_ios(
    monkeypatch: pytest.MonkeyPatch,
    python: str,
    version: tuple[int, int],
    slice_: tuple[str, str],
) -> None:
    arch, sdk = slice_
    release = f"{version[0]}.{version[1]}"
    ios_ver = ("iOS", release, "", sdk == "iphonesimulator")  # platform.ios_ver() tuple
    with emulated(
        monkeypatch,
        python,
        "iOS",
        f"ios-{release}-{arch}-{sdk}",
        implementation={"_multiarch": f"{arch}-{sdk}"},
        platform_calls={"ios_ver": lambda: ios_ver},
    ):
        expected = list(packaging.tags.sys_tags())
    assert_parity(f"ios_{version[0]}_{version[1]}_{arch}_{sdk}", python, expected)


@pytest.mark.parametrize(
    ("python", "level", "abi"),
    list(itertools.product(PYTHONS, [21, 24, 33], ["arm64_v8a", "x86_64", "armeabi_v7a", "x86"])),
)
def test_android(monkeypatch: pytest.MonkeyPatch, python: str, level: int, abi: str) -> None:
    android_ver = types.SimpleNamespace(api_level=level)
    with emulated(
        monkeypatch,
        python,
        "Android",
        f"android-{level}-{abi}",
        platform_calls={"android_ver": lambda: android_ver},
    ):
        expected = list(packaging.tags.sys_tags())
    assert_parity(f"android_{level}_{abi}", python, expected)


@pytest.mark.parametrize(
    ("python", "version", "arch"),
    list(
        itertools.product(
            PYTHONS, [(10, 9), (10, 15), (11, 0), (14, 2), (26, 0)], ["arm64", "x86_64"]
        )
    ),
)
def test_macos(
    monkeypatch: pytest.MonkeyPatch, python: str, version: tuple[int, int], arch: str
) -> None:
    release = f"{version[0]}.{version[1]}"
    with emulated(
        monkeypatch,
        python,
        "Darwin",
        f"macosx-{release}-{arch}",
        platform_calls={"mac_ver": lambda: (release, ("", "", ""), arch)},
    ):
        expected = list(packaging.tags.sys_tags())
    assert_parity(f"macosx_{version[0]}_{version[1]}_{arch}", python, expected)


LINUX_ARCHES = ["x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"]


@pytest.mark.parametrize(
    ("python", "glibc", "arch"),
    list(itertools.product(PYTHONS, [(2, 17), (2, 28), (2, 34)], LINUX_ARCHES)),
)
def test_manylinux(
    monkeypatch: pytest.MonkeyPatch, python: str, glibc: tuple[int, int], arch: str
) -> None:
    with emulated(monkeypatch, python, "Linux", f"linux-{arch}", glibc=glibc):
        expected = list(packaging.tags.sys_tags())
    assert_parity(f"manylinux_{glibc[0]}_{glibc[1]}_{arch}", python, expected)


@pytest.mark.parametrize(
    ("python", "musl", "arch"), list(itertools.product(PYTHONS, [(1, 1), (1, 2)], LINUX_ARCHES))
)
def test_musllinux(
    monkeypatch: pytest.MonkeyPatch, python: str, musl: tuple[int, int], arch: str
) -> None:
    with emulated(monkeypatch, python, "Linux", f"linux-{arch}", musl=musl):
        expected = list(packaging.tags.sys_tags())
    assert_parity(f"musllinux_{musl[0]}_{musl[1]}_{arch}", python, expected)


@pytest.mark.parametrize(
    ("python", "sysconfig_platform"),
    list(itertools.product(PYTHONS, ["win-amd64", "win-arm64", "win32"])),
)
def test_windows(monkeypatch: pytest.MonkeyPatch, python: str, sysconfig_platform: str) -> None:
    with emulated(monkeypatch, python, "Windows", sysconfig_platform):
        expected = list(packaging.tags.sys_tags())
    assert_parity(sysconfig_platform, python, expected)


@pytest.mark.parametrize(
    ("abi", "python", "emscripten"),
    [
        ("2024_0", "3.12", "3.1.58"),
        ("2025_0", "3.13", "4.0.9"),
        ("2026_0", "3.14", "5.0.3"),
        ("2026_5", "3.15", "6.0.5"),
    ],
)
def test_pyodide(monkeypatch: pytest.MonkeyPatch, abi: str, python: str, emscripten: str) -> None:
    """Equal to packaging once the legacy ``pyodide_*`` tag, our addition, is set aside."""
    with emulated(
        monkeypatch,
        python,
        "Emscripten",
        f"emscripten-{emscripten}-wasm32",
        config={"PYEMSCRIPTEN_PLATFORM_VERSION": abi},
    ):
        expected = list(packaging.tags.sys_tags())
    mine = list(compatible_tags(parse_platform(f"pyemscripten_{abi}_wasm32")))
    legacy = f"pyodide_{abi}_wasm32"
    assert [tag for tag in mine if tag.platform != legacy] == expected
    # The legacy tag ranks right after the PEP 783 tag for every interpreter/ABI pair.
    pep783 = [i for i, tag in enumerate(mine) if tag.platform == f"pyemscripten_{abi}_wasm32"]
    assert [mine[i + 1].platform for i in pep783] == [legacy] * len(pep783)
