"""Rewrite the dylib load commands of a Mach-O file, as ``install_name_tool -change/-id`` does,
and join thin files into a universal one, as ``lipo -create`` does.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from omniwheel.binaries.elf import align  # one rounding helper for every format
from omniwheel.binaries.macho import (
    DYLIB_KINDS,
    FAT_MAGIC,
    LC_ID_DYLIB,
    LC_SEGMENT,
    LC_SEGMENT_64,
    MachOError,
    MachOSlice,
    fat_arch,
    parse_macho,
)
from omniwheel.errors import OmniwheelError
from omniwheel.rewrite.codesign import sign_adhoc

__all__ = ["MachOChanges", "MachOEditError", "edit_macho"]


class MachOEditError(OmniwheelError):
    """The Mach-O file cannot be edited as asked (most often: no room for longer names)."""


_DYLIB_NAME_OFFSET = 24  # after cmd, cmdsize, name offset, timestamp, two versions
_CPU_TYPE_ARM64 = 0x0100000C
_MAX_ALIGNMENT = 15  # MachOUniversalBinary::MaxSectionAlignment


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
        return _edit_slice(data, parsed.slices[0], changes)
    # Each slice edited, then laid out again at its alignment, in the same order.
    edited = [
        (piece, _edit_slice(data[piece.offset : piece.offset + piece.size], piece, changes))
        for piece in parsed.slices
    ]
    return _universal(data[:8], edited, parsed.fat64)


def _universal(magic: bytes, slices: list[tuple[MachOSlice, bytes]], fat64: bool) -> bytes:
    """A universal file: header (``magic`` and count), then each slice at its alignment."""
    entry = fat_arch(fat64)
    output = bytearray(magic[:4] + struct.pack(">I", len(slices)))
    output += bytes(len(slices) * entry.size)
    for index, (piece, image) in enumerate(slices):
        offset = align(len(output), 1 << piece.align)
        output += bytes(offset - len(output)) + image
        fields = (piece.cputype, piece.cpusubtype, offset, len(image), piece.align)
        entry.pack_into(output, 8 + index * entry.size, *fields, *((0,) if fat64 else ()))
    return bytes(output)


def join_macho(images: Sequence[bytes]) -> bytes:
    """One universal file of thin Mach-O ``images`` (one per architecture), laid out as
    ``llvm-lipo -create`` lays it out: arm64 last, otherwise by alignment, each slice
    aligned to its segments' addresses (at least 4 bytes, at most 32 KiB)."""
    slices: list[tuple[MachOSlice, bytes]] = []
    for image in images:
        try:
            parsed = parse_macho(image)
        except MachOError as error:
            raise MachOEditError(f"cannot join a file that is not Mach-O: {error}") from error
        if parsed.fat:
            raise MachOEditError("cannot join universal files: give one thin file per architecture")
        thin = parsed.slices[0]
        slices.append((replace(thin, align=_segment_alignment(image, thin)), image))
    arches = [piece.arch for piece, _ in slices]
    if len(set(arches)) != len(arches):
        raise MachOEditError(f"two files of one architecture cannot be joined: {arches}")
    slices.sort(key=lambda pair: (pair[0].cputype == _CPU_TYPE_ARM64, pair[0].align))
    return _universal(struct.pack(">I", FAT_MAGIC), slices, fat64=False)


def _segment_alignment(image: bytes, piece: MachOSlice) -> int:
    """log2 of the alignment lipo gives a slice: the fewest trailing zero bits among its
    segments' addresses, between 2 and 15 (llvm-lipo's ``calculateAlignment``)."""
    order = piece.byte_order
    ncmds = struct.unpack_from(order + "I", image, 16)[0]
    position = piece.header_size
    alignment = _MAX_ALIGNMENT
    for _ in range(ncmds):
        cmd, size = struct.unpack_from(order + "II", image, position)
        if cmd in (LC_SEGMENT, LC_SEGMENT_64):
            address = struct.unpack_from(
                order + ("Q" if cmd == LC_SEGMENT_64 else "I"), image, position + 24
            )[0]
            zeros = (address & -address).bit_length() - 1 if address else 64 if piece.is64 else 32
            alignment = min(alignment, zeros)
        position += size
    return max(2, alignment)


def _edit_slice(image: bytes, piece: MachOSlice, changes: MachOChanges) -> bytes:
    """``image`` (the slice ``piece`` was parsed from) with its dylib commands renamed."""
    order, is64, header_size = piece.byte_order, piece.is64, piece.header_size
    ncmds, sizeofcmds = struct.unpack_from(order + "II", image, 16)
    dependencies = iter(piece.dylibs)  # the reader kept them in command order
    commands: list[bytes] = []
    changed = False
    first_section = len(image)
    position = header_size
    for _ in range(ncmds):
        cmd, size = struct.unpack_from(order + "II", image, position)
        command = image[position : position + size]
        position += size
        if cmd in (LC_SEGMENT, LC_SEGMENT_64):
            first_section = min(first_section, _first_section_offset(command, order, is64))
        elif cmd in DYLIB_KINDS or cmd == LC_ID_DYLIB:
            if cmd == LC_ID_DYLIB:
                name, new = piece.id_dylib, changes.id_dylib
            else:
                name = next(dependencies).path
                new = changes.dylibs.get(name)
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
    return sign_adhoc(bytes(edited), piece) if piece.is_signed else bytes(edited)


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


def _dylib_command(command: bytes, name: str, order: str, alignment: int) -> bytes:
    """The same dylib command (kind, timestamp, versions) naming ``name``, padded to alignment."""
    encoded = name.encode("utf-8", "surrogateescape") + b"\0"
    size = align(_DYLIB_NAME_OFFSET + len(encoded), alignment)
    cmd = struct.unpack_from(order + "I", command, 0)[0]
    head = struct.pack(order + "III", cmd, size, _DYLIB_NAME_OFFSET) + command[12:24]
    return (head + encoded).ljust(size, b"\0")
