"""Mach-O reader: thin and universal (fat, fat64) binaries from an in-memory buffer.

Wheels for macOS and iOS are audited and retagged from any host, so nothing here
shells out to ``otool`` or ``lipo``. Every offset, size and count read from the
file is checked against the slice it belongs to before it is used, so corrupt
input raises ``MachOError`` and nothing else.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

from omniwheel.binaries.base import BinaryParseError, ReadableBuffer

__all__ = [
    "CSMAGIC_CODEDIRECTORY", "CSMAGIC_EMBEDDED_SIGNATURE", "CSSLOT_CODEDIRECTORY", "DYLIB_KINDS",
    "FAT_MAGIC", "FAT_MAGIC_64", "LC_CODE_SIGNATURE", "LC_ID_DYLIB", "LC_REQ_DYLD", "LC_SEGMENT",
    "LC_SEGMENT_64", "CodeDirectory", "MachODylib", "MachOError", "MachOFile", "MachOSlice",
    "fat_arch", "parse_macho",
]  # fmt: skip


class MachOError(BinaryParseError):
    """The bytes are not a well-formed Mach-O (thin or universal) binary."""


Version = tuple[int, int, int]

FAT_MAGIC = 0xCAFEBABE
FAT_MAGIC_64 = 0xCAFEBABF
# file(1)'s cafebabe magic: Java class files put minor/major version (major >= 45) where
# fat headers keep nfat_arch, and no universal binary has anywhere near 30 slices.
_MAX_FAT_ARCHS = 30
# Magic read big-endian -> (struct byte order of the slice, 64-bit header?).
_THIN_MAGICS = {
    0xFEEDFACE: (">", False),
    0xFEEDFACF: (">", True),
    0xCEFAEDFE: ("<", False),
    0xCFFAEDFE: ("<", True),
}

_CPU_ARCH_ABI64 = 0x01000000
_CPU_ARCH_ABI64_32 = 0x02000000
_CPU_SUBTYPE_MASK = 0xFF000000  # capability bits (arm64e pointer-auth ABI, LIB64, ...)
_CPU_TYPE_X86 = 7
_CPU_TYPE_ARM = 12
_CPU_TYPE_POWERPC = 18
_CPU_NAMES = {
    _CPU_TYPE_X86: "i386",
    _CPU_TYPE_X86 | _CPU_ARCH_ABI64: "x86_64",
    _CPU_TYPE_ARM: "arm",
    _CPU_TYPE_ARM | _CPU_ARCH_ABI64: "arm64",
    _CPU_TYPE_ARM | _CPU_ARCH_ABI64_32: "arm64_32",
    _CPU_TYPE_POWERPC: "ppc",
    _CPU_TYPE_POWERPC | _CPU_ARCH_ABI64: "ppc64",
}
# (cputype, cpusubtype without capability bits) -> a more specific name than _CPU_NAMES.
_SUBTYPE_NAMES = {
    (_CPU_TYPE_X86 | _CPU_ARCH_ABI64, 8): "x86_64h",
    (_CPU_TYPE_ARM | _CPU_ARCH_ABI64, 2): "arm64e",
    (_CPU_TYPE_ARM, 5): "armv4t",
    (_CPU_TYPE_ARM, 6): "armv6",
    (_CPU_TYPE_ARM, 7): "armv5",
    (_CPU_TYPE_ARM, 9): "armv7",
    (_CPU_TYPE_ARM, 10): "armv7f",
    (_CPU_TYPE_ARM, 11): "armv7s",
    (_CPU_TYPE_ARM, 12): "armv7k",
    (_CPU_TYPE_ARM, 14): "armv6m",
    (_CPU_TYPE_ARM, 15): "armv7m",
    (_CPU_TYPE_ARM, 16): "armv7em",
}
_FILETYPES = {
    1: "object",
    2: "execute",
    3: "fvmlib",
    4: "core",
    5: "preload",
    6: "dylib",
    7: "dylinker",
    8: "bundle",
    9: "dylib_stub",
    10: "dsym",
    11: "kext_bundle",
    12: "fileset",
}
_PLATFORMS = {
    1: "macos",
    2: "ios",
    3: "tvos",
    4: "watchos",
    5: "bridgeos",
    6: "maccatalyst",
    7: "ios-simulator",
    8: "tvos-simulator",
    9: "watchos-simulator",
    10: "driverkit",
    11: "visionos",
    12: "visionos-simulator",
}
_BUILD_TOOLS = {1: "clang", 2: "swift", 3: "ld", 4: "lld"}

LC_REQ_DYLD = 0x80000000
LC_SEGMENT = 0x1
LC_SEGMENT_64 = 0x19
_LC_SYMTAB = 0x2
_LC_DYSYMTAB = 0xB
LC_ID_DYLIB = 0xD
LC_CODE_SIGNATURE = 0x1D
_LC_RPATH = 0x1C | LC_REQ_DYLD
_LC_DYLD_INFO = 0x22
_LC_DYLD_INFO_ONLY = 0x22 | LC_REQ_DYLD
_LC_DYLD_EXPORTS_TRIE = 0x33 | LC_REQ_DYLD
_LC_BUILD_VERSION = 0x32
# Dependency commands (LC_LOAD_DYLIB, _WEAK_, REEXPORT_, LAZY_LOAD_, LOAD_UPWARD_) by kind.
DYLIB_KINDS = {
    0xC: "load",
    0x18 | LC_REQ_DYLD: "weak",
    0x1F | LC_REQ_DYLD: "reexport",
    0x20: "lazy",
    0x23 | LC_REQ_DYLD: "upward",
}
# Older binaries state the platform with one of these instead of LC_BUILD_VERSION.
_VERSION_MIN = {
    0x24: ("LC_VERSION_MIN_MACOSX", "macos"),
    0x25: ("LC_VERSION_MIN_IPHONEOS", "ios"),
    0x2F: ("LC_VERSION_MIN_TVOS", "tvos"),
    0x30: ("LC_VERSION_MIN_WATCHOS", "watchos"),
}
_SIMULATOR_ARCHS = frozenset({"i386", "x86_64", "x86_64h"})

# nlist: only n_strx and n_type matter here.
_N_EXTERNAL_SECTION = 0x0F  # N_SECT | N_EXT, and neither N_STAB nor N_PEXT
_PYINIT = b"_PyInit_"
_MAX_PYINIT_NAME = 512  # module names are file names (<= 255 bytes); this bounds hostile input
_EXPORT_SYMBOL_FLAGS_REEXPORT = 0x08

CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSSLOT_CODEDIRECTORY = 0
_CS_SUPPORTS_CODELIMIT64 = 0x20300
_HASH_NAMES = {1: "sha1", 2: "sha256", 3: "sha256", 4: "sha384"}  # 3 is sha256 cut to 20 bytes


class MachODylib(NamedTuple):
    """One dylib load command: how it is linked, its install name and its versions."""

    kind: str  # load, weak, reexport, lazy or upward
    path: str
    current_version: Version
    compatibility_version: Version


@dataclass(frozen=True)
class CodeDirectory:
    """The primary CodeDirectory of an embedded signature: what re-signing and page checks need."""

    version: int
    flags: int
    hash_type: int
    hash_size: int
    page_size: int  # bytes; 0 means the whole code limit is one page
    n_code_slots: int
    n_special_slots: int
    code_limit: int
    hash_offset: int  # of code slot 0, from the start of the slice
    identifier: str

    @property
    def hash_name(self) -> str | None:
        """The hashlib name for ``hash_type`` (digests are cut to ``hash_size`` bytes)."""
        return _HASH_NAMES.get(self.hash_type)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "flags": self.flags,
            "hash_type": self.hash_type,
            "hash_name": self.hash_name,
            "hash_size": self.hash_size,
            "page_size": self.page_size,
            "n_code_slots": self.n_code_slots,
            "n_special_slots": self.n_special_slots,
            "code_limit": self.code_limit,
            "hash_offset": self.hash_offset,
            "identifier": self.identifier,
        }


@dataclass(frozen=True)
class MachOSlice:
    """One architecture's image: where it sits in the file and what it declares."""

    offset: int
    size: int
    align: int  # log2 of its alignment in a universal file (0 in a thin one)
    byte_order: str  # the slice's struct byte order: "<" or ">"
    is64: bool  # mach_header_64 (and 64-bit segment commands)
    cputype: int
    cpusubtype: int
    arch: str
    filetype: str
    flags: int
    platform: str | None
    platform_command: str | None  # LC_BUILD_VERSION or the LC_VERSION_MIN_* it came from
    minos: Version | None
    sdk: Version | None
    build_tools: tuple[tuple[str, Version], ...]
    id_dylib: str | None
    dylibs: tuple[MachODylib, ...]
    rpaths: tuple[str, ...]
    code_signature: tuple[int, int] | None  # (dataoff, datasize) within the slice
    code_directory: CodeDirectory | None
    pyinit_exports: tuple[str, ...]

    @property
    def is_signed(self) -> bool:
        return self.code_signature is not None

    @property
    def header_size(self) -> int:
        """Where the load commands start: after mach_header or mach_header_64."""
        return _header_size(self.is64)

    @property
    def is_simulator(self) -> bool:
        """Simulator builds predating LC_BUILD_VERSION say "ios" and are told apart by CPU."""
        if self.platform is None:
            return False
        if self.platform.endswith("-simulator"):
            return True
        return (
            self.platform_command is not None
            and self.platform_command.startswith("LC_VERSION_MIN_")
            and self.platform != "macos"
            and self.arch in _SIMULATOR_ARCHS
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "size": self.size,
            "arch": self.arch,
            "cputype": self.cputype,
            "cpusubtype": self.cpusubtype,
            "filetype": self.filetype,
            "flags": self.flags,
            "platform": self.platform,
            "platform_command": self.platform_command,
            "is_simulator": self.is_simulator,
            "minos": _dotted(self.minos),
            "sdk": _dotted(self.sdk),
            "build_tools": [{"tool": t, "version": _dotted(v)} for t, v in self.build_tools],
            "id_dylib": self.id_dylib,
            "dylibs": [
                {
                    "kind": d.kind,
                    "path": d.path,
                    "current_version": _dotted(d.current_version),
                    "compatibility_version": _dotted(d.compatibility_version),
                }
                for d in self.dylibs
            ],
            "rpaths": list(self.rpaths),
            "code_signature": (
                None
                if self.code_signature is None
                else {"dataoff": self.code_signature[0], "datasize": self.code_signature[1]}
            ),
            "code_directory": (
                None if self.code_directory is None else self.code_directory.to_json()
            ),
            "pyinit_exports": list(self.pyinit_exports),
        }


@dataclass(frozen=True)
class MachOFile:
    """A thin or universal Mach-O file; satisfies the ``Binary`` protocol."""

    fat: bool
    fat64: bool
    slices: tuple[MachOSlice, ...]

    @property
    def format(self) -> str:
        return "macho"

    @property
    def architectures(self) -> tuple[str, ...]:
        return tuple(s.arch for s in self.slices)

    @property
    def needed(self) -> tuple[str, ...]:
        paths = (d.path for s in self.slices for d in s.dylibs)
        return tuple(dict.fromkeys(paths))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "fat": self.fat,
            "fat64": self.fat64,
            "architectures": list(self.architectures),
            "needed": list(self.needed),
            "slices": [s.to_json() for s in self.slices],
        }


def parse_macho(data: ReadableBuffer) -> MachOFile:
    """Read a thin or universal Mach-O; raise ``MachOError`` if it is not one or is corrupt."""
    buf: ReadableBuffer = data.cast("B") if isinstance(data, memoryview) else data
    size = len(buf)
    if size < 8:
        raise MachOError("not Mach-O: file shorter than a header")
    magic, nfat_arch = struct.unpack_from(">II", buf, 0)
    if magic in _THIN_MAGICS:
        return MachOFile(fat=False, fat64=False, slices=(_parse_slice(buf, 0, size, 0),))
    if magic not in (FAT_MAGIC, FAT_MAGIC_64):
        raise MachOError(f"not Mach-O: unknown magic {magic:#010x}")
    if not 0 < nfat_arch <= _MAX_FAT_ARCHS:
        raise MachOError(f"not Mach-O: universal header claims {nfat_arch} slices (a Java class?)")
    fat64 = magic == FAT_MAGIC_64
    entry = fat_arch(fat64)
    header_end = 8 + nfat_arch * entry.size
    if header_end > size:
        raise MachOError("universal header runs past the end of the file")
    slices = []
    for index in range(nfat_arch):
        fields = entry.unpack_from(buf, 8 + index * entry.size)
        cputype, cpusubtype, offset, length, alignment = fields[:5]
        if offset < header_end or offset + length > size:
            raise MachOError(f"universal slice {index} lies outside the file")
        thin = _parse_slice(buf, offset, length, alignment)
        if (thin.cputype, thin.cpusubtype) != (cputype, cpusubtype):
            raise MachOError(f"universal slice {index} CPU type disagrees with its header")
        slices.append(thin)
    return MachOFile(fat=True, fat64=fat64, slices=tuple(slices))


def fat_arch(fat64: bool) -> struct.Struct:
    """One universal header entry: cputype, cpusubtype, offset, size, align (and, in
    fat_arch_64, a reserved word); entries follow the 8-byte magic and count."""
    return _struct(">IIQQII" if fat64 else ">IIIII")


def _header_size(is64: bool) -> int:
    return 32 if is64 else 28


@functools.cache
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


def _version(packed: int) -> Version:
    """Decode Apple's nibble-packed xxxx.yy.zz version."""
    return (packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)


def _text(raw: bytes) -> str:
    """Mach-O strings are bytes; keep undecodable ones round-trippable, as ``os.fsdecode`` does."""
    return raw.decode("utf-8", "surrogateescape")


def _dotted(version: Version | None) -> str | None:
    return None if version is None else ".".join(map(str, version))


def _find(buf: ReadableBuffer, needle: bytes, start: int, end: int) -> int:
    """``bytes.find`` within [start, end) for any buffer; memoryviews are copied in chunks."""
    if not isinstance(buf, memoryview):
        return buf.find(needle, start, end)
    chunk = 1 << 16
    pos = start
    while pos < end:
        stop = min(pos + chunk, end)
        found = bytes(buf[pos:stop]).find(needle)
        if found >= 0:
            return pos + found
        if stop == end:
            break
        pos = stop - len(needle) + 1
    return -1


@dataclass(frozen=True)
class _View:
    """A bounded window (one slice, or one blob in it) read with a fixed byte order."""

    buf: ReadableBuffer
    start: int
    end: int
    order: str

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[Any, ...]:
        layout = _struct(self.order + fmt)
        self.check(offset, layout.size, what)
        return layout.unpack_from(self.buf, self.start + offset)

    def check(self, offset: int, length: int, what: str) -> None:
        if offset < 0 or length < 0 or self.start + offset + length > self.end:
            raise MachOError(f"{what} runs past the end of its container")

    def sub(self, offset: int, length: int, what: str, order: str | None = None) -> _View:
        self.check(offset, length, what)
        start = self.start + offset
        return _View(self.buf, start, start + length, order or self.order)

    def cstring(self, offset: int, end: int, what: str) -> bytes:
        """The NUL-terminated bytes at ``offset``; the NUL must come before ``end``."""
        self.check(offset, end - offset, what)
        first = self.start + offset
        nul = _find(self.buf, b"\0", first, self.start + end)
        if nul < 0:
            raise MachOError(f"{what} is not NUL-terminated")
        return bytes(self.buf[first:nul])


class _LoadCommands:
    """Everything gathered from one slice's load commands before the linkedit data is read."""

    def __init__(self) -> None:
        self.platform: str | None = None
        self.platform_command: str | None = None
        self.minos: Version | None = None
        self.sdk: Version | None = None
        self.build_tools: tuple[tuple[str, Version], ...] = ()
        self.id_dylib: str | None = None
        self.dylibs: list[MachODylib] = []
        self.rpaths: list[str] = []
        self.code_signature: tuple[int, int] | None = None
        self.symtab: tuple[int, int, int, int] | None = None
        self.extdefs: tuple[int, int] | None = None
        self.export_trie: tuple[int, int] | None = None

    def set_platform(self, command: str, platform: str, minos: int, sdk: int) -> bool:
        """Keep the first platform statement (zippered binaries add one for Catalyst)."""
        if self.platform is not None:
            return False
        self.platform, self.platform_command = platform, command
        self.minos, self.sdk = _version(minos), _version(sdk)
        return True


def _parse_slice(buf: ReadableBuffer, offset: int, size: int, alignment: int) -> MachOSlice:
    view = _View(buf, offset, offset + size, ">")
    (magic,) = view.unpack("I", 0, "Mach-O header")
    if magic not in _THIN_MAGICS:
        raise MachOError(f"not Mach-O: unknown magic {magic:#010x}")
    order, is64 = _THIN_MAGICS[magic]
    view = _View(buf, offset, offset + size, order)
    header_size = _header_size(is64)
    cputype, cpusubtype, filetype, ncmds, sizeofcmds, flags = view.unpack("6I", 4, "Mach-O header")
    if ncmds * 8 > sizeofcmds or header_size + sizeofcmds > size:
        raise MachOError(f"{ncmds} load commands cannot fit in {sizeofcmds} bytes")
    found = _read_load_commands(view.sub(header_size, sizeofcmds, "load commands"), ncmds)
    signature = found.code_signature
    return MachOSlice(
        offset=offset,
        size=size,
        align=alignment,
        byte_order=order,
        is64=is64,
        cputype=cputype,
        cpusubtype=cpusubtype,
        arch=_arch_name(cputype, cpusubtype),
        filetype=_FILETYPES.get(filetype, f"unknown-{filetype}"),
        flags=flags,
        platform=found.platform,
        platform_command=found.platform_command,
        minos=found.minos,
        sdk=found.sdk,
        build_tools=found.build_tools,
        id_dylib=found.id_dylib,
        dylibs=tuple(found.dylibs),
        rpaths=tuple(found.rpaths),
        code_signature=signature,
        code_directory=None if signature is None else _code_directory(view, *signature),
        pyinit_exports=_pyinit_exports(view, is64, found),
    )


def _arch_name(cputype: int, cpusubtype: int) -> str:
    subtype = cpusubtype & ~_CPU_SUBTYPE_MASK
    named = _SUBTYPE_NAMES.get((cputype, subtype)) or _CPU_NAMES.get(cputype)
    return named or f"unknown-{cputype:#x}-{subtype}"


def _read_load_commands(commands: _View, ncmds: int) -> _LoadCommands:
    found = _LoadCommands()
    position = 0
    for index in range(ncmds):
        cmd, cmdsize = commands.unpack("II", position, f"load command {index}")
        if cmdsize < 8 or cmdsize % 4:
            raise MachOError(f"load command {index} has invalid size {cmdsize}")
        command = commands.sub(position, cmdsize, f"load command {index}")
        _read_command(command, cmd, found)
        position += cmdsize
    return found


def _read_command(command: _View, cmd: int, found: _LoadCommands) -> None:
    """Record the facts one load command carries; commands the audit ignores are skipped."""
    if cmd in DYLIB_KINDS or cmd == LC_ID_DYLIB:
        name_offset, _, current, compatibility = command.unpack("4I", 8, "dylib command")
        path = _lc_str(command, name_offset, 24)
        if cmd == LC_ID_DYLIB:
            found.id_dylib = path
        else:
            kind = DYLIB_KINDS[cmd]
            found.dylibs.append(MachODylib(kind, path, _version(current), _version(compatibility)))
    elif cmd == _LC_RPATH:
        (path_offset,) = command.unpack("I", 8, "LC_RPATH")
        found.rpaths.append(_lc_str(command, path_offset, 12))
    elif cmd == _LC_BUILD_VERSION:
        platform, minos, sdk, ntools = command.unpack("4I", 8, "LC_BUILD_VERSION")
        name = _PLATFORMS.get(platform, f"unknown-{platform}")
        command.check(24, ntools * 8, "LC_BUILD_VERSION tools")
        if found.set_platform("LC_BUILD_VERSION", name, minos, sdk):
            tools = (command.unpack("II", 24 + 8 * i, "build tool") for i in range(ntools))
            found.build_tools = tuple(
                (_BUILD_TOOLS.get(tool, f"tool-{tool}"), _version(version))
                for tool, version in tools
            )
    elif cmd in _VERSION_MIN:
        version, sdk = command.unpack("II", 8, "version-min command")
        found.set_platform(*_VERSION_MIN[cmd], version, sdk)
    elif cmd == LC_CODE_SIGNATURE:
        found.code_signature = command.unpack("II", 8, "LC_CODE_SIGNATURE")
    elif cmd == _LC_SYMTAB:
        found.symtab = command.unpack("4I", 8, "LC_SYMTAB")
    elif cmd == _LC_DYSYMTAB:
        found.extdefs = command.unpack("II", 16, "LC_DYSYMTAB")
    elif cmd in (_LC_DYLD_INFO, _LC_DYLD_INFO_ONLY):
        found.export_trie = command.unpack("II", 40, "LC_DYLD_INFO")
    elif cmd == _LC_DYLD_EXPORTS_TRIE:
        found.export_trie = command.unpack("II", 8, "LC_DYLD_EXPORTS_TRIE")


def _lc_str(command: _View, offset: int, fixed_size: int) -> str:
    """An lc_str: a NUL-terminated string at an offset inside its own load command."""
    length = command.end - command.start
    if not fixed_size <= offset < length:
        raise MachOError(f"load command string offset {offset} is outside its command")
    return _text(command.cstring(offset, length, "load command string"))


def _code_directory(slice_view: _View, dataoff: int, datasize: int) -> CodeDirectory | None:
    """The primary CodeDirectory, if the signature is an embedded-signature SuperBlob."""
    blob = slice_view.sub(dataoff, datasize, "code signature", ">")
    if datasize < 12 or blob.unpack("I", 0, "code signature")[0] != CSMAGIC_EMBEDDED_SIGNATURE:
        return None
    (count,) = blob.unpack("I", 8, "code signature")
    blob.check(12, count * 8, "code signature index")
    for index in range(count):
        slot, cd_offset = blob.unpack("II", 12 + 8 * index, "code signature index")
        if slot == CSSLOT_CODEDIRECTORY:
            return _read_code_directory(blob, cd_offset, dataoff + cd_offset)
    return None


def _read_code_directory(blob: _View, offset: int, slice_offset: int) -> CodeDirectory:
    magic, length = blob.unpack("II", offset, "CodeDirectory")
    if magic != CSMAGIC_CODEDIRECTORY:
        raise MachOError(f"code signature slot 0 has magic {magic:#x}, not a CodeDirectory")
    cd = blob.sub(offset, length, "CodeDirectory")
    (version, flags, hash_offset, ident_offset, n_special, n_code, code_limit) = cd.unpack(
        "7I", 8, "CodeDirectory"
    )
    hash_size, hash_type, _, page_shift = cd.unpack("4B", 36, "CodeDirectory")
    if version >= _CS_SUPPORTS_CODELIMIT64:
        code_limit = cd.unpack("Q", 56, "CodeDirectory")[0] or code_limit
    cd.check(hash_offset - n_special * hash_size, (n_special + n_code) * hash_size, "hash slots")
    if page_shift >= 32:
        raise MachOError(f"CodeDirectory page size 2**{page_shift} is implausible")
    identifier = _text(cd.cstring(ident_offset, length, "CodeDirectory identifier"))
    return CodeDirectory(
        version=version,
        flags=flags,
        hash_type=hash_type,
        hash_size=hash_size,
        page_size=1 << page_shift if page_shift else 0,
        n_code_slots=n_code,
        n_special_slots=n_special,
        code_limit=code_limit,
        hash_offset=slice_offset + hash_offset,
        identifier=identifier,
    )


def _pyinit_exports(view: _View, is64: bool, found: _LoadCommands) -> tuple[str, ...]:
    """Exported ``PyInit_*`` names: from the symbol table, else from the dyld export trie."""
    names = _symtab_pyinit(view, is64, found.symtab, found.extdefs) if found.symtab else ()
    if not names and found.export_trie:
        names = _trie_pyinit(view, *found.export_trie)
    return tuple(sorted(names))


def _symtab_pyinit(
    view: _View,
    is64: bool,
    symtab: tuple[int, int, int, int],
    extdefs: tuple[int, int] | None,
) -> tuple[str, ...]:
    symoff, nsyms, stroff, strsize = symtab
    layout = _struct(view.order + ("IB11x" if is64 else "IB7x"))
    symbols = view.sub(symoff, nsyms * layout.size, "symbol table")
    strings = view.sub(stroff, strsize, "string table")
    # Nearly every nlist can be skipped unread: only strings containing the prefix matter.
    candidates = set()
    hit = _find(strings.buf, _PYINIT, strings.start, strings.end)
    while hit >= 0:
        candidates.add(hit - strings.start)
        hit = _find(strings.buf, _PYINIT, hit + 1, strings.end)
    if not candidates:
        return ()
    first, count = extdefs or (0, nsyms)
    if first + count > nsyms:
        raise MachOError("LC_DYSYMTAB external symbols lie outside the symbol table")
    names = []
    table_start = symbols.start + first * layout.size
    with memoryview(view.buf)[table_start : table_start + count * layout.size] as table:
        for strx, ntype in layout.iter_unpack(table):
            if ntype == _N_EXTERNAL_SECTION and strx in candidates:
                end = min(strsize, strx + _MAX_PYINIT_NAME + 1)
                names.append(_text(strings.cstring(strx, end, "PyInit symbol name")[1:]))
    return tuple(names)


def _trie_pyinit(view: _View, trie_offset: int, trie_size: int) -> tuple[str, ...]:
    """Walk the export trie along the edges that can spell ``_PyInit_*``.

    In a well-formed trie each byte belongs to one node and each node is reached once, so
    reading more than ``trie_size`` bytes of child lists means the input is hostile.
    """
    trie = view.sub(trie_offset, trie_size, "export trie")
    if not trie_size:
        return ()
    names = []
    pending = [(0, b"")]
    visited = set()
    budget = trie_size
    while pending:
        node, prefix = pending.pop()
        if node in visited:
            raise MachOError("export trie revisits a node")
        visited.add(node)
        terminal_size, position = _uleb128(trie, node)
        if terminal_size and prefix.startswith(_PYINIT):
            flags, _ = _uleb128(trie, position)
            if not flags & _EXPORT_SYMBOL_FLAGS_REEXPORT:
                names.append(_text(prefix[1:]))
        position += terminal_size
        (children,) = trie.unpack("B", position, "export trie node")
        position += 1
        for _ in range(children):
            edge = trie.cstring(position, trie_size, "export trie edge")
            child, after = _uleb128(trie, position + len(edge) + 1)
            budget -= after - position
            if budget < 0:
                raise MachOError("export trie nodes overlap")
            position = after
            label = prefix + edge
            if label.startswith(_PYINIT) or _PYINIT.startswith(label):
                if len(label) > _MAX_PYINIT_NAME:
                    raise MachOError("export trie has an over-long PyInit name")
                pending.append((child, label))
    return tuple(names)


def _uleb128(trie: _View, position: int) -> tuple[int, int]:
    """Decode a ULEB128 of at most 64 bits; returns the value and the position after it."""
    value = 0
    for shift in range(0, 64, 7):
        (byte,) = trie.unpack("B", position, "export trie")
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
    raise MachOError("export trie number longer than 64 bits")
