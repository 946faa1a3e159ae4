"""Rewrite the DLL names a PE image imports (import and delay-import directories).

What delvewheel does to point an extension module at its vendored, renamed
DLLs, in pure Python so Windows wheels can be repaired from any host. The new
names (``foo-1a2b3c4d.dll`` for ``foo.dll``) are longer than the old ones and
nothing the linker laid out can move, so they go in one new read-only section
placed after every other: its header is appended to the section table (the
headers grow by a file-alignment step, and every section's bytes with them,
when the table has no room left), its bytes go after the last section's, and
each descriptor's name field then holds the new string's address. Everything
stored by file offset after an insertion point moves with it (section data, the
COFF symbol table, debug data); SizeOfImage, SizeOfHeaders and
SizeOfInitializedData follow, and a non-zero CheckSum is recomputed.

An Authenticode signature covers the bytes an edit changes, so editing voids it:
a signed image loses its certificate table (Windows loads unsigned DLLs alike,
but not an image marked FORCE_INTEGRITY, which is refused). Bound imports, which
name the DLLs once more with their timestamps, are refused too.
"""

from __future__ import annotations

import array
import itertools
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from omniwheel.binaries.elf import align  # one rounding helper for every format
from omniwheel.binaries.pe import (
    DIR_BOUND_IMPORT,
    DIR_DEBUG,
    DIR_IMPORT,
    DIR_SECURITY,
    IMPORT_DESCRIPTOR,
    IMPORT_NAME_FIELD,
    PeError,
    PeFile,
    PeLayout,
    read_pe,
)
from omniwheel.errors import OmniwheelError

__all__ = ["PeChanges", "PeEditError", "edit_pe", "pe_checksum"]


class PeEditError(OmniwheelError):
    """The PE image cannot be edited as asked (corrupt, bound, or it demands a signature)."""


#: The section holding the new names, and its flags: initialized data, readable.
SECTION_NAME = b".ownames"
_SECTION_FLAGS = 0x40 | 0x40000000
_SECTION_HEADER = struct.Struct("<8sIIIIIIHHI")
_RAW_POINTER_AT = 20  # PointerToRawData, then PointerToRelocations and PointerToLinenumbers
_DEBUG_ENTRY = struct.Struct("<IIHHIIII")  # IMAGE_DEBUG_DIRECTORY; PointerToRawData is last
_DATA_DIRECTORY = struct.Struct("<II")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
# Offsets in the COFF header and in the optional header (equal for PE32 and PE32+).
_NUMBER_OF_SECTIONS, _POINTER_TO_SYMBOL_TABLE = 2, 8
_SIZE_OF_INITIALIZED_DATA, _SECTION_ALIGNMENT, _FILE_ALIGNMENT = 8, 32, 36
_SIZE_OF_IMAGE, _SIZE_OF_HEADERS, _CHECKSUM, _DLL_CHARACTERISTICS = 56, 60, 64, 70
_FORCE_INTEGRITY = 0x80


@dataclass(frozen=True)
class PeChanges:
    """Imported DLL names to change; Windows matches them case-insensitively, and so does this."""

    dlls: Mapping[str, str] = field(default_factory=dict)


def edit_pe(data: bytes, changes: PeChanges) -> bytes:
    """A copy of the PE image ``data`` whose import descriptors name the new DLLs (``data``
    itself when nothing changes). Raises ``PeEditError`` for an image it cannot edit."""
    try:
        parsed, layout = read_pe(data)
    except PeError as error:
        raise PeEditError(f"not a PE image omniwheel can edit: {error}") from error
    renames = {old.lower(): new for old, new in changes.dlls.items()}
    new_names = [renames.get(f.name.lower(), f.name) for f in layout.name_fields]
    if all(new == f.name for new, f in zip(new_names, layout.name_fields, strict=True)):
        return data
    _refuse(parsed, data, layout)
    return _Edit(bytearray(data), parsed, layout).apply(new_names)


def _refuse(parsed: PeFile, data: bytes, layout: PeLayout) -> None:
    """Raise for the images an edit would break."""
    directories = parsed.data_directories
    if len(directories) > DIR_BOUND_IMPORT and directories[DIR_BOUND_IMPORT].size:
        raise PeEditError("its imports are bound (bind.exe): relink it without binding")
    (flags,) = _U16.unpack_from(data, layout.optional + _DLL_CHARACTERISTICS)
    if flags & _FORCE_INTEGRITY:
        raise PeEditError(
            "it is marked FORCE_INTEGRITY, so Windows loads it only with a valid signature, "
            "which editing voids"
        )
    for section in parsed.sections:
        if section.raw_size and section.raw_offset + section.raw_size > len(data):
            raise PeEditError(f"section {section.name}'s bytes run past the end of the file")
    by_address = sorted(parsed.sections, key=lambda section: section.virtual_address)
    for low, high in itertools.pairwise(by_address):
        if low.virtual_address + (low.virtual_size or low.raw_size) > high.virtual_address:
            raise PeEditError(f"its sections {low.name} and {high.name} overlap in memory")
    if len(directories) > DIR_SECURITY and directories[DIR_SECURITY].size:
        certificate = directories[DIR_SECURITY]  # its "RVA" is a file offset
        data_end = max((s.raw_offset + s.raw_size for s in parsed.sections), default=0)
        if certificate.rva + certificate.size != len(data) or certificate.rva < data_end:
            raise PeEditError("its certificate table is not at the end of the file")


class _Edit:
    """One edit of one image: new names at the end, the descriptors pointed at them."""

    def __init__(self, image: bytearray, parsed: PeFile, layout: PeLayout) -> None:
        self.image, self.parsed, self.layout = image, parsed, layout
        optional = layout.optional
        self.section_alignment, self.file_alignment = struct.unpack_from(
            "<II", image, optional + _SECTION_ALIGNMENT
        )
        if self.file_alignment == 0 or self.section_alignment == 0:
            raise PeEditError("its optional header gives an alignment of 0")
        (self.size_of_headers,) = _U32.unpack_from(image, optional + _SIZE_OF_HEADERS)
        table_end = layout.section_table + _SECTION_HEADER.size * len(parsed.sections)
        first_raw = min((s.raw_offset for s in parsed.sections if s.raw_size), default=len(image))
        if not table_end <= self.size_of_headers <= first_raw:
            raise PeEditError(
                f"its SizeOfHeaders 0x{self.size_of_headers:x} does not end between the "
                f"section table (0x{table_end:x}) and the first section's bytes (0x{first_raw:x})"
            )
        if any(f.offset < self.size_of_headers for f in layout.name_fields):
            raise PeEditError("its import descriptors lie in the headers, not in a section")

    def apply(self, new_names: list[str]) -> bytes:
        """The image with each name field (``layout.name_fields``) naming ``new_names``."""
        parsed, layout = self.parsed, self.layout
        end = max(
            (s.virtual_address + max(s.virtual_size, s.raw_size) for s in parsed.sections),
            default=self.size_of_headers,
        )
        virtual_address = _u32(align(end, self.section_alignment), "the new section's address")
        blob = self._new_names(virtual_address, new_names)
        self._drop_certificate()
        # Two insertions: room for one more section header, then the new section's bytes.
        table_end = layout.section_table + _SECTION_HEADER.size * len(parsed.sections)
        slot = slice(table_end, table_end + _SECTION_HEADER.size)
        if any(self.image[slot.start : min(slot.stop, self.size_of_headers)]):
            raise PeEditError("its headers hold data right after the section table")
        grow = max(0, align(slot.stop, self.file_alignment) - self.size_of_headers)
        lowest = min((s.virtual_address for s in parsed.sections), default=0)
        if grow and self.size_of_headers + grow > lowest:
            raise PeEditError(
                f"no room for one more section header: the headers would overlap the first "
                f"section at RVA 0x{lowest:x}"
            )
        data_end = max(
            (s.raw_offset + s.raw_size for s in parsed.sections if s.raw_size),
            default=self.size_of_headers,
        )
        start = align(data_end, self.file_alignment)
        raw_size = align(len(blob), self.file_alignment)
        inserts = [
            (self.size_of_headers, bytes(grow)),
            (data_end, bytes(start - data_end) + bytes(blob).ljust(raw_size, b"\0")),
        ]
        self._move_file_offsets(inserts)
        output = _spliced(self.image, inserts)
        header = _SECTION_HEADER.pack(
            SECTION_NAME, len(blob), virtual_address, raw_size, start + grow, 0, 0, 0, 0,
            _SECTION_FLAGS,
        )  # fmt: skip
        output[slot] = header
        self._update_headers(output, virtual_address + len(blob), raw_size, grow)
        if _U32.unpack_from(output, layout.optional + _CHECKSUM)[0]:
            _U32.pack_into(output, layout.optional + _CHECKSUM, pe_checksum(output, layout))
        return bytes(output)

    def _new_names(self, virtual_address: int, new_names: list[str]) -> bytearray:
        """The new section's bytes (at ``virtual_address``); the descriptors point into it."""
        image, fields = self.image, self.layout.name_fields
        blob = bytearray()
        strings: dict[str, int] = {}

        def address(name: str) -> int:
            """The RVA of ``name`` in the new section, added once."""
            if name not in strings:
                strings[name] = virtual_address + len(blob)
                try:
                    blob.extend(name.encode("ascii") + b"\0")
                except UnicodeEncodeError as error:
                    raise PeEditError(f"the DLL name {name!r} is not ASCII") from error
            return strings[name]

        imports = [(f, new) for f, new in zip(fields, new_names, strict=True) if not f.delayed]
        if any(f.name != new for f, new in imports):
            # The import directory moves along, every name with it: readers (GNU objdump
            # among them) look for the names in the directory's own section. Only the
            # loader reads the directory, so nothing else points at it.
            first = imports[0][0].offset - IMPORT_NAME_FIELD
            blob += image[first : first + IMPORT_DESCRIPTOR.size * len(imports)]
            blob += bytes(IMPORT_DESCRIPTOR.size)
            _DATA_DIRECTORY.pack_into(
                image, self._directory(DIR_IMPORT), virtual_address, len(blob)
            )
            for index, (_, new) in enumerate(imports):
                at = index * IMPORT_DESCRIPTOR.size + IMPORT_NAME_FIELD
                _U32.pack_into(blob, at, _u32(address(new), "the new section's address"))
        # Delay-load descriptors stay: the code that loads each DLL points at its own.
        for f, new in zip(fields, new_names, strict=True):
            if f.delayed and f.name != new:
                _U32.pack_into(image, f.offset, _u32(address(new) + f.base, "a delay-load name"))
        return blob

    def _drop_certificate(self) -> None:
        """Remove the Authenticode signature (``_refuse`` made sure it ends the file)."""
        directories = self.parsed.data_directories
        if len(directories) > DIR_SECURITY and directories[DIR_SECURITY].size:
            del self.image[directories[DIR_SECURITY].rva :]
            _DATA_DIRECTORY.pack_into(self.image, self._directory(DIR_SECURITY), 0, 0)

    def _directory(self, index: int) -> int:
        return self.layout.directories + _DATA_DIRECTORY.size * index

    def _move_file_offsets(self, inserts: list[tuple[int, bytes]]) -> None:
        """Rewrite, in place, every header field holding a file offset the inserts move."""
        image, layout = self.image, self.layout

        def moved(offset: int) -> int:
            shifted = offset + sum(len(data) for at, data in inserts if at <= offset)
            return _u32(shifted, f"the file offset 0x{offset:x}")

        for index, section in enumerate(self.parsed.sections):
            header = layout.section_table + index * _SECTION_HEADER.size
            for at in range(header + _RAW_POINTER_AT, header + _RAW_POINTER_AT + 12, 4):
                (offset,) = _U32.unpack_from(image, at)
                if offset and (section.raw_size or at != header + _RAW_POINTER_AT):
                    _U32.pack_into(image, at, moved(offset))
        symbols = layout.coff + _POINTER_TO_SYMBOL_TABLE
        (offset,) = _U32.unpack_from(image, symbols)
        if offset:
            _U32.pack_into(image, symbols, moved(offset))
        for at in self._debug_raw_pointers():
            (offset,) = _U32.unpack_from(image, at)
            if offset:
                _U32.pack_into(image, at, moved(offset))

    def _debug_raw_pointers(self) -> list[int]:
        """File offsets of each debug directory entry's PointerToRawData field."""
        directories = self.parsed.data_directories
        if len(directories) <= DIR_DEBUG or not directories[DIR_DEBUG].size:
            return []
        debug = directories[DIR_DEBUG]
        section = next(
            (s for s in self.parsed.sections
             if s.virtual_address <= debug.rva < s.virtual_address + s.raw_size),
            None,
        )  # fmt: skip
        if section is None:
            raise PeEditError(f"its debug directory at RVA 0x{debug.rva:x} is in no section")
        first = section.raw_offset + debug.rva - section.virtual_address
        count = debug.size // _DEBUG_ENTRY.size
        end = min(section.raw_offset + section.raw_size, len(self.image))
        if first + count * _DEBUG_ENTRY.size > end:
            raise PeEditError(f"its debug directory at RVA 0x{debug.rva:x} overruns its section")
        return [first + i * _DEBUG_ENTRY.size + 24 for i in range(count)]

    def _update_headers(self, output: bytearray, image_end: int, raw_size: int, grow: int) -> None:
        """Section count, SizeOfImage, SizeOfHeaders and SizeOfInitializedData after the edit."""
        coff, optional = self.layout.coff, self.layout.optional
        _U16.pack_into(output, coff + _NUMBER_OF_SECTIONS, len(self.parsed.sections) + 1)
        size_of_image = _u32(align(image_end, self.section_alignment), "SizeOfImage")
        _U32.pack_into(output, optional + _SIZE_OF_IMAGE, size_of_image)
        _U32.pack_into(output, optional + _SIZE_OF_HEADERS, self.size_of_headers + grow)
        (initialized,) = _U32.unpack_from(output, optional + _SIZE_OF_INITIALIZED_DATA)
        _U32.pack_into(
            output, optional + _SIZE_OF_INITIALIZED_DATA, (initialized + raw_size) & 0xFFFFFFFF
        )


def _u32(value: int, what: str) -> int:
    """``value``, which must fit the 32-bit field it goes to."""
    if value > 0xFFFFFFFF:
        raise PeEditError(f"{what} would be 0x{value:x}, beyond the 32 bits PE gives it")
    return value


def _spliced(image: bytearray, inserts: list[tuple[int, bytes]]) -> bytearray:
    """``image`` with each ``(offset, bytes)`` inserted at its original offset."""
    output = bytearray()
    position = 0
    for at, data in sorted(inserts, key=lambda insert: insert[0]):
        output += image[position:at]
        output += data
        position = at
    output += image[position:]
    return output


def pe_checksum(image: bytes | bytearray, layout: PeLayout) -> int:
    """The optional header's CheckSum as the linker and ``MapFileAndCheckSum`` compute it:
    the 16-bit one's-complement sum of the file (the field itself read as zero) plus its size."""
    field_at = layout.optional + _CHECKSUM
    padded = bytes(image[:field_at]) + bytes(4) + bytes(image[field_at + 4 :])
    if len(padded) % 2:
        padded += b"\0"
    words = array.array("H", padded)
    if sys.byteorder == "big":
        words.byteswap()
    total = sum(words)
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return (total + len(image)) & 0xFFFFFFFF
