"""Ad-hoc code signatures for Mach-O slices, as the linker writes them.

Apple Silicon Macs refuse to map a binary whose pages do not match the hashes of
its signature, and editing a load command changes page 0. An ad-hoc signature is
nothing but hashes: a SuperBlob holding one CodeDirectory (version 0x20400,
SHA-256, 4 KiB pages) whose code slots hash every page up to the signature
itself. That is what ld64 and ld64.lld emit for every arm64 link ("linker-signed")
and what ``codesign -s -`` would replace it with, so no certificate or Apple tool
is involved. ``verify_page_hashes`` re-reads a slice with the Mach-O reader and
checks each slot against the bytes.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Final

from omniwheel.binaries.elf import align  # one rounding helper for every format
from omniwheel.binaries.macho import (
    CSMAGIC_CODEDIRECTORY,
    CSMAGIC_EMBEDDED_SIGNATURE,
    CSSLOT_CODEDIRECTORY,
    LC_CODE_SIGNATURE,
    LC_SEGMENT,
    LC_SEGMENT_64,
    CodeDirectory,
    MachOSlice,
    parse_macho,
)
from omniwheel.errors import OmniwheelError

__all__ = ["CodeSignError", "sign_adhoc", "verify_page_hashes"]


class CodeSignError(OmniwheelError):
    """The slice cannot be signed (no room for the signature, no __LINKEDIT)."""


_CD_VERSION: Final = 0x20400  # has execSeg fields
_CS_ADHOC: Final = 0x2
_CS_LINKER_SIGNED: Final = 0x20000
_CS_EXECSEG_MAIN_BINARY: Final = 0x1
_HASH_SHA256: Final = 2
_HASH_SIZE: Final = 32
_PAGE_SHIFT: Final = 12
_PAGE: Final = 1 << _PAGE_SHIFT
_SEGMENT_PAGE: Final = 0x4000  # __LINKEDIT's vmsize is rounded to the largest page size

# magic, length, version, flags, hashOffset, identOffset, nSpecialSlots, nCodeSlots,
# codeLimit, hashSize, hashType, platform, pageSize, spare2, scatterOffset, teamOffset,
# spare3, codeLimit64, execSegBase, execSegLimit, execSegFlags
_CODE_DIRECTORY = struct.Struct(">9I4B4IQQQQ")
_SUPER_BLOB = struct.Struct(">3I")
_BLOB_INDEX = struct.Struct(">2I")


def sign_adhoc(image: bytes, piece: MachOSlice) -> bytes:
    """Re-sign the thin slice ``image`` (which must carry LC_CODE_SIGNATURE) ad hoc.

    ``piece`` is the slice as parsed, before any edit that left its signature and
    segment commands where they were (renaming dylibs does). The identifier is
    kept, and so is the linker-signed flag when the old signature had it. The code
    limit is where the old signature began; __LINKEDIT and LC_CODE_SIGNATURE grow
    or shrink with the new signature.
    """
    if piece.code_signature is None:
        raise CodeSignError("the slice has no LC_CODE_SIGNATURE to renew")
    old = piece.code_directory
    identifier = (old.identifier if old else "a.out").encode("utf-8", "surrogateescape") + b"\0"
    flags = _CS_ADHOC | (old.flags & _CS_LINKER_SIGNED if old else _CS_LINKER_SIGNED)
    code_limit, old_size = piece.code_signature
    slots = -(-code_limit // _PAGE)
    # The linker's layout: the CodeDirectory 8-aligned after the index, hashes 16-aligned.
    directory_at = align(_SUPER_BLOB.size + _BLOB_INDEX.size, 8)
    hash_offset = align(directory_at + _CODE_DIRECTORY.size + len(identifier), 16) - directory_at
    directory_size = hash_offset + slots * _HASH_SIZE
    new_size = align(directory_at + directory_size, 16)

    signed = bytearray(image[:code_limit])
    signed += bytes(new_size)
    text = _update_load_commands(signed, piece, new_size, new_size - old_size)
    hashes = b"".join(
        hashlib.sha256(signed[offset : min(offset + _PAGE, code_limit)]).digest()
        for offset in range(0, code_limit, _PAGE)
    )
    directory = _CODE_DIRECTORY.pack(
        CSMAGIC_CODEDIRECTORY, directory_size, _CD_VERSION, flags, hash_offset,
        _CODE_DIRECTORY.size, 0, slots, code_limit, _HASH_SIZE, _HASH_SHA256, 0, _PAGE_SHIFT,
        0, 0, 0, 0, 0, text[0], text[1],
        _CS_EXECSEG_MAIN_BINARY if piece.filetype == "execute" else 0,
    )  # fmt: skip
    header = _SUPER_BLOB.pack(CSMAGIC_EMBEDDED_SIGNATURE, new_size, 1) + _BLOB_INDEX.pack(
        CSSLOT_CODEDIRECTORY, directory_at
    )
    signed[code_limit : code_limit + len(header)] = header
    at = code_limit + directory_at
    signed[at : at + _CODE_DIRECTORY.size + len(identifier)] = directory + identifier
    signed[at + hash_offset : at + directory_size] = hashes
    return bytes(signed)


def _update_load_commands(
    image: bytearray, piece: MachOSlice, signature_size: int, growth: int
) -> tuple[int, int]:
    """Set LC_CODE_SIGNATURE's size and __LINKEDIT's; return __TEXT's (fileoff, filesize)."""
    order, is64 = piece.byte_order, piece.is64
    ncmds = struct.unpack_from(order + "I", image, 16)[0]
    position = piece.header_size
    segment = struct.Struct(order + ("16sQQQQ" if is64 else "16sIIII"))
    text = (0, 0)
    for _ in range(ncmds):
        cmd, command_size = struct.unpack_from(order + "II", image, position)
        if cmd == LC_CODE_SIGNATURE:
            struct.pack_into(order + "I", image, position + 12, signature_size)
        elif cmd in (LC_SEGMENT, LC_SEGMENT_64):
            name, vmaddr, vmsize, fileoff, filesize = segment.unpack_from(image, position + 8)
            if name.rstrip(b"\0") == b"__TEXT":
                text = (fileoff, filesize)
            elif name.rstrip(b"\0") == b"__LINKEDIT" and growth:
                filesize += growth
                vmsize = max(vmsize, align(filesize, _SEGMENT_PAGE))
                segment.pack_into(image, position + 8, name, vmaddr, vmsize, fileoff, filesize)
        position += command_size
    return text


def verify_page_hashes(image: bytes, piece: MachOSlice | None = None) -> list[int]:
    """Indices of the code pages whose hash in the slice's CodeDirectory does not match.

    ``image`` is the whole file and ``piece`` one of its slices (default: a thin file's
    only slice). An empty list means every page matches.
    """
    piece = piece or parse_macho(image).slices[0]
    directory: CodeDirectory | None = piece.code_directory
    if directory is None or directory.hash_name is None:
        raise CodeSignError("the slice has no CodeDirectory with a known hash type")
    page = directory.page_size or directory.code_limit
    start = piece.offset
    bad = []
    for index in range(directory.n_code_slots):
        begin = start + index * page
        end = start + min((index + 1) * page, directory.code_limit)
        digest = hashlib.new(directory.hash_name, image[begin:end]).digest()
        slot = directory.hash_offset + piece.offset + index * directory.hash_size
        if digest[: directory.hash_size] != image[slot : slot + directory.hash_size]:
            bad.append(index)
    return bad
