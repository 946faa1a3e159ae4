"""Host-independent readers for the binaries wheels carry: ELF, Mach-O, WebAssembly, PE.

``sniff`` tells a binary from any other member by its first bytes; ``parse_binary``
hands it to its format's reader. Every reader raises only its ``BinaryParseError``.

A format's reader module loads the first time a binary of that format (or one of
its classes) is asked for: checking a Linux wheel never pays for the Mach-O,
WebAssembly and PE readers.
"""

from __future__ import annotations

import importlib
import struct
from typing import TYPE_CHECKING, Any

from omniwheel.binaries.base import Binary, BinaryParseError, ReadableBuffer
from omniwheel.lazy import lazy_exports

if TYPE_CHECKING:
    from omniwheel.binaries.elf import ElfFile
    from omniwheel.binaries.macho import MachOFile
    from omniwheel.binaries.pe import PeFile
    from omniwheel.binaries.wasm import WasmModule

#: Bytes ``sniff`` needs from the start of a member.
SNIFF_BYTES = 8
_MACHO_THIN = {b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"}
_FAT = {b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"}
# Java class files share the fat magic; their next word (the class version, >= 45)
# is far above any real number of architectures.
_MAX_FAT_ARCHS = 16

# format -> (its reader module under omniwheel.binaries, the parse function there)
_READERS = {
    "elf": ("elf", "parse_elf"),
    "macho": ("macho", "parse_macho"),
    "wasm": ("wasm", "parse_wasm"),
    "pe": ("pe", "parse_pe"),
}
# The classes exported here, by the reader module that defines each.
_CLASSES = {"ElfFile": "elf", "MachOFile": "macho", "PeFile": "pe", "WasmModule": "wasm"}


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
    if kind is None:
        return None
    module, function = _READERS[kind]
    parse: Any = getattr(importlib.import_module(f"omniwheel.binaries.{module}"), function)
    binary: Binary = parse(data)
    return binary


__getattr__ = lazy_exports(__name__, _CLASSES)


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
