"""Emscripten as Pyodide runs it (PEP 776, PEP 783): one platform per Pyodide ABI.

Each ABI fixes the CPython and Emscripten versions (``data/emscripten.toml``).
Installers accept the PEP 783 tag ``pyemscripten_{abi}_wasm32``, the legacy
``pyodide_{abi}_wasm32`` that Pyodide and micropip still accept, and the generic
``emscripten_{X}_{Y}_{Z}_wasm32`` of ``sysconfig.get_platform()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from omniwheel.errors import UsageError
from omniwheel.platforms.data import (
    EmscriptenAbi,
    default_python,
    emscripten_abis,
    format_version,
    load,
)
from omniwheel.platforms.family import Family
from omniwheel.platforms.model import Platform
from omniwheel.platforms.python import PythonTarget

_ABI_TAG = re.compile(r"^(pyemscripten|pyodide)_(\d{4})_(\d+)_wasm32$")
_GENERIC_TAG = re.compile(r"^emscripten_(\d+)_(\d+)_(\d+)_wasm32$")
_SYSCONFIG = re.compile(r"^emscripten-(\d+)\.(\d+)\.(\d+)-wasm32$")
_TRIPLE = re.compile(r"^wasm32-pyodide(\d{4})$")
ARCH = "wasm32"


def _by_name(name: str, text: str) -> EmscriptenAbi:
    for abi in emscripten_abis():
        if abi.name and abi.name == name:
            return abi
    known = ", ".join(abi.name for abi in emscripten_abis() if abi.name)
    raise UsageError(f"platform {text!r}: unknown Pyodide ABI {name}; known ABIs: {known}")


class Emscripten(Family):
    name = "emscripten"
    title = "Emscripten (Pyodide)"
    sys_platform = "emscripten"
    platform_system = "Emscripten"
    min_os_meaning = "Emscripten version"
    accepts_min_os_suffix = False

    def _from_abi(self, abi: EmscriptenAbi) -> Platform:
        return Platform(self, ARCH, abi.emscripten, abi.python, abi=abi.name or None)

    def _from_emscripten_version(self, version: tuple[int, ...]) -> Platform:
        """A generic tag: the ABI whose Emscripten it is, else a bare Emscripten target."""
        for abi in emscripten_abis():
            if abi.emscripten == version:
                return self._from_abi(abi)
        return Platform(self, ARCH, version, default_python())

    def parse_wheel_tag(self, tag: str) -> Platform | None:
        if match := _ABI_TAG.match(tag):
            return self._from_abi(_by_name(f"{match[2]}_{match[3]}", tag))
        if match := _GENERIC_TAG.match(tag):
            return self._from_emscripten_version(tuple(int(part) for part in match.groups()))
        return None

    def parse_sysconfig(self, text: str) -> Platform | None:
        match = _SYSCONFIG.match(text)
        if match is None:
            return None
        return self._from_emscripten_version(tuple(int(part) for part in match.groups()))

    def parse_triple(self, text: str) -> Platform | None:
        match = _TRIPLE.match(text)
        return self._from_abi(_by_name(f"{match[1]}_0", text)) if match else None

    @cache  # noqa: B019 - families are process-wide singletons
    def named_platforms(self) -> dict[str, Platform]:
        """``pyodide-2026.0`` per ABI first, then aliases by CPython and Pyodide release."""
        abis = emscripten_abis()
        default = self._from_abi(_by_name(load("emscripten")["default"], "default"))
        names: dict[str, Platform] = {}
        for abi in abis:
            names[self._abi_short_name(abi)] = self._from_abi(abi)
        names |= {"pyodide": default, "emscripten": default}
        for abi in abis:
            version = abi.python.version
            names[f"pyodide-{version[0]}{version[1]}"] = self._from_abi(abi)
            for release in abi.pyodide:
                names[f"pyodide-{release}"] = self._from_abi(abi)
        return names

    @staticmethod
    def _abi_short_name(abi: EmscriptenAbi) -> str:
        if abi.name:
            return "pyodide-" + abi.name.replace("_", ".")
        return "pyodide-{}{}".format(*abi.python.version)

    def wheel_tag(self, platform: Platform) -> str:
        """The tag wheels built or repaired for the ABI get (its ``tag`` prefix in the data)."""
        if platform.abi:
            return f"{_by_name(platform.abi, platform.abi).tag}_{platform.abi}_{ARCH}"
        return self._generic_tag(platform)

    def _generic_tag(self, platform: Platform) -> str:
        return f"emscripten_{format_version(self._emscripten(platform), '_')}_{ARCH}"

    def sysconfig_platform(self, platform: Platform) -> str:
        return f"emscripten-{format_version(self._emscripten(platform))}-{ARCH}"

    def uv_triple(self, platform: Platform) -> str | None:
        for abi in emscripten_abis():
            if abi.name and abi.name == platform.abi:
                return abi.uv_triple
        return None

    def platform_tags(self, platform: Platform) -> Iterator[str]:
        if platform.abi:
            yield f"pyemscripten_{platform.abi}_{ARCH}"
            yield f"pyodide_{platform.abi}_{ARCH}"
        yield self._generic_tag(platform)

    def soabi_platform(self, platform: Platform) -> str:
        return f"{ARCH}-emscripten"

    def platform_machine(self, platform: Platform) -> str:
        return ARCH

    def platform_release(self, platform: Platform) -> str:
        # Emscripten's uname() reports its own version as the kernel release.
        return format_version(self._emscripten(platform))

    def platform_version(self, platform: Platform) -> str:
        return "#1"  # what Emscripten's uname() reports as the kernel build

    def check_python(self, platform: Platform, python: PythonTarget) -> None:
        if platform.abi and python != platform.python:
            fitting = [
                self._abi_short_name(abi) for abi in emscripten_abis() if abi.python == python
            ]
            hint = f"use {fitting[0]}" if fitting else "no Pyodide ABI runs it"
            raise UsageError(
                f"platform {platform.short_name} runs CPython {platform.python}, "
                f"not {python}: {hint}"
            )

    @staticmethod
    def _emscripten(platform: Platform) -> tuple[int, ...]:
        assert platform.min_os is not None, "Emscripten platforms always carry a version"
        return platform.min_os
