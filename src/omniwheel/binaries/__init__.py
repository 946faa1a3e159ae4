"""Host-independent readers for the binaries wheels carry: ELF, Mach-O, WebAssembly, PE.

``sniff`` tells a binary from any other member by its first bytes; ``parse_binary``
hands it to its format's reader. Every reader raises only its ``BinaryParseError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from omniwheel.binaries.base import Binary, BinaryParseError, ReadableBuffer
from omniwheel.binaries.elf import ElfFile, parse_elf
from omniwheel.binaries.macho import MachOFile, parse_macho
from omniwheel.binaries.pe import PeFile, parse_pe
from omniwheel.binaries.wasm import WasmModule, parse_wasm

#: Bytes ``sniff`` needs from the start of a member.
SNIFF_BYTES = 8
_MACHO_THIN = {b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"}
_FAT = {b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"}
# Java class files share the fat magic; their next word (the class version, >= 45)
# is far above any real number of architectures.
_MAX_FAT_ARCHS = 16

_READERS: dict[str, Callable[[ReadableBuffer], Binary]] = {
    "elf": parse_elf,
    "macho": parse_macho,
    "wasm": parse_wasm,
    "pe": parse_pe,
}


def sniff(head: bytes) -> str | None:
    """The binary format whose magic ``head`` starts with, or None for any other file."""
    magic = head[:4]
    if magic == b"\x7fELF":
        return "elf"
    if magic in _MACHO_THIN:
        return "macho"
    if magic in _FAT and len(head) >= 8:
        return "macho" if struct.unpack(">I", head[4:8])[0] <= _MAX_FAT_ARCHS else None
    if magic == b"\0asm":
        return "wasm"
    if head[:2] == b"MZ":
        return "pe"
    return None


def parse_binary(data: ReadableBuffer) -> Binary | None:
    """Parse ``data`` with the reader its magic names; None when it is no binary."""
    kind = sniff(bytes(data[:SNIFF_BYTES]))
    return None if kind is None else _READERS[kind](data)


__all__ = [
    "SNIFF_BYTES",
    "Binary",
    "BinaryParseError",
    "ElfFile",
    "MachOFile",
    "PeFile",
    "ReadableBuffer",
    "WasmModule",
    "parse_binary",
    "sniff",
]
