"""Editing an Emscripten side module's ``dylink.0`` section: needed libraries and runtime path.

A side module names the libraries it needs in the ``WASM_DYLINK_NEEDED``
subsection of ``dylink.0``, which must stay the module's first section, and
newer Emscripten loaders also read ``WASM_DYLINK_RUNTIME_PATH``: paths where
``$ORIGIN`` is the module's directory, searched for those libraries (wasm-ld
writes it for ``-rpath``). Seen under Node: Pyodide 0.29 (Emscripten 4.0.9)
finds a vendored copy only through it — without it, "Failed to find dynamic
library" even with the copy in ``<dist>.libs/`` — while Pyodide 0.27
(Emscripten 3.1.58) skips the subsection and loads every library of a package
globally first, so the needed name resolves there anyway. Only ``dylink.0`` is
re-encoded; every other byte of the module is kept. A WebAssembly module holds
no absolute file offsets outside its sections (code offsets in ``name`` or DWARF
sections are relative to the code section), so the rest may move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from omniwheel.binaries.wasm import WasmError, WasmModule, WasmSection, parse_wasm
from omniwheel.errors import OmniwheelError

__all__ = ["WasmChanges", "WasmEditError", "edit_wasm"]

_DYLINK0 = "dylink.0"
_NEEDED = 2
_RUNTIME_PATH = 5


class WasmEditError(OmniwheelError):
    """The module cannot be edited: not a side module, or a malformed ``dylink.0``."""


@dataclass(frozen=True)
class WasmChanges:
    """What to change; an empty ``WasmChanges`` returns the module unchanged.

    ``needed`` renames entries of the needed list; ``runtime_path`` replaces the
    ``RUNTIME_PATH`` subsection (an empty sequence removes it).
    """

    needed: Mapping[str, str] = field(default_factory=dict)
    runtime_path: Sequence[str] | None = None


def edit_wasm(data: bytes, changes: WasmChanges) -> bytes:
    """Return a copy of the side module ``data`` with ``changes`` applied."""
    try:
        module = parse_wasm(data)
    except WasmError as error:
        raise WasmEditError(f"not a WebAssembly module that can be edited: {error}") from error
    if not changes.needed and changes.runtime_path is None:
        return data
    section = _dylink_section(module)
    subsections = _split(data, section.offset, section.offset + section.size)
    missing = set(changes.needed) - set(module.needed)
    if missing:
        raise WasmEditError(f"the module does not need {', '.join(sorted(missing))}")
    if changes.needed:
        names = _names(subsections[_NEEDED])
        subsections[_NEEDED] = _vector([changes.needed.get(name, name) for name in names])
    if changes.runtime_path is not None:
        subsections.pop(_RUNTIME_PATH, None)
        if changes.runtime_path:
            subsections[_RUNTIME_PATH] = _vector(changes.runtime_path)
    payload = _name(_DYLINK0) + b"".join(
        bytes([kind]) + _uleb(len(body)) + body for kind, body in sorted(subsections.items())
    )
    rest = data[section.offset + section.size :]
    edited = data[:8] + b"\0" + _uleb(len(payload)) + payload + rest
    parse_wasm(edited)  # the result must read back, or nothing is returned
    return edited


def _dylink_section(module: WasmModule) -> WasmSection:
    first = module.sections[0] if module.sections else None
    if module.dylink is None or first is None or first.name != _DYLINK0:
        raise WasmEditError(
            "is not an Emscripten side module with a dylink.0 section (the legacy 'dylink' "
            "section of releases before 2021 is not edited)"
        )
    return first


def _split(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """The subsections between ``start`` and ``end`` by type (parse_wasm checked their sizes)."""
    subsections: dict[int, bytes] = {}
    position = start
    while position < end:
        kind = data[position]
        size, position = _read_uleb(data, position + 1)
        if kind in subsections:
            raise WasmEditError(f"dylink.0 holds subsection {kind} twice")
        subsections[kind] = data[position : position + size]
        position += size
    return subsections


def _names(body: bytes) -> list[str]:
    count, position = _read_uleb(body, 0)
    names = []
    for _ in range(count):
        size, position = _read_uleb(body, position)
        names.append(body[position : position + size].decode("utf-8"))
        position += size
    return names


def _read_uleb(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, position


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _name(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return _uleb(len(encoded)) + encoded


def _vector(names: Sequence[str]) -> bytes:
    return _uleb(len(names)) + b"".join(_name(name) for name in names)
