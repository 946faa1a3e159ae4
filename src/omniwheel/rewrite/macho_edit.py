"""Rewrite the dylib load commands of a Mach-O file, as ``install_name_tool -change/-id`` does.

Load commands live between the Mach-O header and the first section's bytes; a
longer install name must fit in that padding (linkers leave some, more with
``-headerpad_max_install_names``), since moving sections would mean relocating
code. Universal files are edited slice by slice and laid out again, each slice
at its own alignment. A slice that was signed is re-signed ad hoc afterwards
(``codesign.sign_adhoc``): arm64 macOS kills a process that maps pages whose
hashes no longer match.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from omniwheel.binaries.macho import MachOError, parse_macho
from omniwheel.errors import OmniwheelError
from omniwheel.rewrite.codesign import sign_adhoc

__all__ = ["MachOChanges", "MachOEditError", "edit_macho"]


class MachOEditError(OmniwheelError):
    """The Mach-O file cannot be edited as asked (most often: no room for longer names)."""


_LC_REQ_DYLD: Final = 0x80000000
_LC_SEGMENT: Final = 0x1
_LC_SEGMENT_64: Final = 0x19
_LC_ID_DYLIB: Final = 0xD
_LC_CODE_SIGNATURE: Final = 0x1D
_DEPENDENCY_COMMANDS: Final = frozenset(
    {0xC, 0x18 | _LC_REQ_DYLD, 0x1F | _LC_REQ_DYLD, 0x20, 0x23 | _LC_REQ_DYLD}
)  # LC_LOAD_DYLIB, _WEAK_, REEXPORT_, LAZY_LOAD_, LOAD_UPWARD_
_DYLIB_NAME_OFFSET: Final = 24  # after cmd, cmdsize, name offset, timestamp, two versions
_FAT_MAGIC_64: Final = 0xCAFEBABF
_LITTLE_MAGICS: Final = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe")
_64_MAGICS: Final = (b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf")


@dataclass(frozen=True)
class MachOChanges:
    """Install names to change in dependency commands, and the new LC_ID_DYLIB (dylibs only)."""

    dylibs: Mapping[str, str] = field(default_factory=dict)
    id_dylib: str | None = None


def edit_macho(data: bytes, changes: MachOChanges) -> bytes:
    """A copy of the thin or universal Mach-O ``data`` with ``changes`` applied to every slice."""
    try:
        parsed = parse_macho(data)
    except MachOError as error:
        raise MachOEditError(f"not a Mach-O file omniwheel can edit: {error}") from error
    if not parsed.fat:
        return _edit_slice(data, changes)
    return _edit_universal(data, changes)


def _edit_universal(data: bytes, changes: MachOChanges) -> bytes:
    """Edit each slice, then lay the slices out again at their alignments, in the same order."""
    magic, count = struct.unpack_from(">II", data, 0)
    entry = struct.Struct(">IIQQII" if magic == _FAT_MAGIC_64 else ">IIIII")
    rows = [list(entry.unpack_from(data, 8 + i * entry.size)) for i in range(count)]
    slices = [_edit_slice(data[row[2] : row[2] + row[3]], changes) for row in rows]
    output = bytearray(data[: 8 + count * entry.size])
    for index, (row, image) in enumerate(zip(rows, slices, strict=True)):
        alignment = 1 << row[4]
        offset = (len(output) + alignment - 1) & -alignment
        output += bytes(offset - len(output)) + image
        row[2], row[3] = offset, len(image)
        entry.pack_into(output, 8 + index * entry.size, *row)
    return bytes(output)


def _edit_slice(image: bytes, changes: MachOChanges) -> bytes:
    order = "<" if image[:4] in _LITTLE_MAGICS else ">"
    is64 = image[:4] in _64_MAGICS
    header_size = 32 if is64 else 28
    ncmds, sizeofcmds = struct.unpack_from(order + "II", image, 16)
    commands: list[bytes] = []
    changed = signed = False
    first_section = len(image)
    position = header_size
    for _ in range(ncmds):
        cmd, size = struct.unpack_from(order + "II", image, position)
        command = image[position : position + size]
        position += size
        if cmd in (_LC_SEGMENT, _LC_SEGMENT_64):
            first_section = min(first_section, _first_section_offset(command, order, is64))
        elif cmd == _LC_CODE_SIGNATURE:
            signed = True
        elif cmd in _DEPENDENCY_COMMANDS or cmd == _LC_ID_DYLIB:
            name = _dylib_name(command, order)
            new = changes.id_dylib if cmd == _LC_ID_DYLIB else changes.dylibs.get(name)
            if new is not None and new != name:
                command = _dylib_command(command, new, order, 8 if is64 else 4)
                changed = True
        commands.append(command)
    if not changed:
        return image
    new_size = sum(map(len, commands))
    if header_size + new_size > first_section:
        raise MachOEditError(
            f"the new load commands need {header_size + new_size} bytes but only "
            f"{first_section} fit before the first section; relink with "
            "-headerpad_max_install_names"
        )
    edited = bytearray(image)
    struct.pack_into(order + "I", edited, 20, new_size)
    end = header_size + max(new_size, sizeofcmds)
    edited[header_size:end] = b"".join(commands).ljust(end - header_size, b"\0")
    return sign_adhoc(bytes(edited)) if signed else bytes(edited)


def _first_section_offset(command: bytes, order: str, is64: bool) -> int:
    """The file offset of the segment's first section with bytes in the file."""
    header, section, offset_at, flags_at = (72, 80, 48, 64) if is64 else (56, 68, 40, 56)
    nsects = struct.unpack_from(order + "I", command, header - 8)[0]
    offsets = []
    for index in range(nsects):
        base = header + index * section
        offset = struct.unpack_from(order + "I", command, base + offset_at)[0]
        kind = struct.unpack_from(order + "I", command, base + flags_at)[0] & 0xFF
        if offset and kind not in (0x1, 0xC, 0x12):  # zero-fill sections have no bytes
            offsets.append(offset)
    return min(offsets, default=1 << 62)


def _dylib_name(command: bytes, order: str) -> str:
    offset = struct.unpack_from(order + "I", command, 8)[0]
    end = command.index(b"\0", offset)
    return command[offset:end].decode("utf-8", "surrogateescape")


def _dylib_command(command: bytes, name: str, order: str, alignment: int) -> bytes:
    """The same dylib command (kind, timestamp, versions) naming ``name``, padded to alignment."""
    encoded = name.encode("utf-8", "surrogateescape") + b"\0"
    size = (_DYLIB_NAME_OFFSET + len(encoded) + alignment - 1) & -alignment
    cmd = struct.unpack_from(order + "I", command, 0)[0]
    head = struct.pack(order + "III", cmd, size, _DYLIB_NAME_OFFSET) + command[12:24]
    return (head + encoded).ljust(size, b"\0")
