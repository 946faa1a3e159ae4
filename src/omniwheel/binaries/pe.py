"""PE/COFF reader: Windows DLLs and ``.pyd`` extension modules from an in-memory buffer.

Windows wheels are audited from any host, so nothing here needs ``dumpbin`` or
``objdump``. The reader follows the DOS header to the PE signature, reads the
COFF and optional headers (PE32 and PE32+), the section table, and from the
data directories the imported DLLs (import and delay-load tables) and the
exported names. Every RVA is mapped through the section table and every
structure is checked against the bytes its section really has in the file, so
corrupt input raises ``PeError`` and nothing else.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any, NamedTuple

from omniwheel.binaries.base import BinaryParseError, ReadableBuffer

__all__ = [
    "PeDataDirectory",
    "PeError",
    "PeFile",
    "PeLayout",
    "PeNameField",
    "PeSection",
    "parse_pe",
    "read_pe",
]


class PeError(BinaryParseError):
    """The bytes are not a well-formed PE/COFF image."""


_DOS_MAGIC = b"MZ"
_DOS_HEADER_SIZE = 64
_E_LFANEW_OFFSET = 0x3C
_PE_SIGNATURE = b"PE\0\0"
_COFF_HEADER = struct.Struct("<HHIIIHH")
_SECTION_HEADER = struct.Struct("<8sIIIIIIHHI")
IMPORT_DESCRIPTOR = struct.Struct("<IIIII")
_DELAY_DESCRIPTOR = struct.Struct("<IIIIIIII")
_EXPORT_DIRECTORY = struct.Struct("<IIHHIIIIIII")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

_PE32_MAGIC = 0x10B
_PE32_PLUS_MAGIC = 0x20B
# Optional-header fields whose place differs between PE32 and PE32+ (Microsoft PE format
# spec): magic -> (ImageBase, its offset, offset of NumberOfRvaAndSizes, which the data
# directories follow). PE32+ has no BaseOfData, so its 8-byte ImageBase starts at 24.
_OPTIONAL_LAYOUT = {
    _PE32_MAGIC: (struct.Struct("<I"), 28, 92),
    _PE32_PLUS_MAGIC: (struct.Struct("<Q"), 24, 108),
}
_SUBSYSTEM_VERSION_OFFSET = 48
_SIZE_OF_HEADERS_OFFSET = 60
_SUBSYSTEM_OFFSET = 68
_U16_PAIR = struct.Struct("<HH")  # (major, minor) version; (Subsystem, DllCharacteristics)
_DATA_DIRECTORY = struct.Struct("<II")
_MAX_DIRECTORIES = 16

_IMAGE_FILE_DLL = 0x2000
_DIR_EXPORT, DIR_IMPORT, _DIR_LOAD_CONFIG, _DIR_DELAY_IMPORT = 0, 1, 10, 13
DIR_SECURITY, DIR_DEBUG, DIR_BOUND_IMPORT = 4, 6, 11
_DIRECTORY_NAMES = (
    "export",
    "import",
    "resource",
    "exception",
    "security",
    "basereloc",
    "debug",
    "architecture",
    "globalptr",
    "tls",
    "load_config",
    "bound_import",
    "iat",
    "delay_import",
    "clr_runtime",
    "reserved",
)
# Delay descriptors with this attribute bit hold RVAs; without it (old VC6 output), VAs.
_DELAY_RVA_BASED = 0x1
# Where each descriptor keeps its DLL name: IMAGE_IMPORT_DESCRIPTOR.Name (after
# OriginalFirstThunk, TimeDateStamp, ForwarderChain), ImgDelayDescr.rvaDLLName.
IMPORT_NAME_FIELD, _DELAY_NAME_FIELD = 12, 4

_MACHINE_AMD64 = 0x8664
# Machine -> the architecture part of the wheel tag (win_amd64, win32, win_arm64, win_arm32).
_ARCHITECTURES = {
    _MACHINE_AMD64: "amd64",
    0x14C: "win32",
    0xAA64: "arm64",
    0x1C4: "arm32",
    0xA641: "arm64ec",
}
# ARM64EC images say AMD64 in the COFF header; their load config points at CHPE metadata
# (IMAGE_LOAD_CONFIG_DIRECTORY64.CHPEMetadataPointer, at offset 200).
_CHPE_POINTER_OFFSET = 200

_MAX_NAME = 4096
_NUL = re.compile(b"\0")


@dataclass(frozen=True, slots=True)
class PeSection:
    """A section header: where its bytes live in memory (RVA) and in the file."""

    name: str
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int
    characteristics: int


@dataclass(frozen=True, slots=True)
class PeDataDirectory:
    rva: int
    size: int


@dataclass(frozen=True, slots=True)
class PeFile:
    """A parsed PE image; ``imports``/``delay_imports`` keep every descriptor as spelled."""

    machine: int
    is_pe32_plus: bool
    characteristics: int
    subsystem: int
    subsystem_version: tuple[int, int]
    dll_characteristics: int
    image_base: int
    sections: tuple[PeSection, ...]
    data_directories: tuple[PeDataDirectory, ...]
    imports: tuple[str, ...]
    delay_imports: tuple[str, ...]
    export_dll_name: str | None
    exports: tuple[str, ...]
    has_chpe_metadata: bool = False

    @property
    def format(self) -> str:
        return "pe"

    @property
    def architectures(self) -> tuple[str, ...]:
        if self.machine == _MACHINE_AMD64 and self.has_chpe_metadata:
            return ("arm64ec",)
        return (_ARCHITECTURES.get(self.machine, f"machine_0x{self.machine:04x}"),)

    @property
    def is_dll(self) -> bool:
        return bool(self.characteristics & _IMAGE_FILE_DLL)

    @property
    def needed(self) -> tuple[str, ...]:
        """Imported then delay-loaded DLLs; Windows matches DLL names case-insensitively."""
        first_spelling: dict[str, str] = {}
        for name in (*self.imports, *self.delay_imports):
            first_spelling.setdefault(name.lower(), name)
        return tuple(first_spelling.values())

    @property
    def pyinit_exports(self) -> tuple[str, ...]:
        return tuple(name for name in self.exports if name.startswith("PyInit_"))

    @property
    def is_signed(self) -> bool:
        """Whether a certificate table (an Authenticode signature) is attached."""
        directories = self.data_directories
        return len(directories) > DIR_SECURITY and directories[DIR_SECURITY].size > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "architectures": list(self.architectures),
            "needed": list(self.needed),
            "machine": self.machine,
            "pe32_plus": self.is_pe32_plus,
            "is_dll": self.is_dll,
            "characteristics": self.characteristics,
            "subsystem": self.subsystem,
            "subsystem_version": list(self.subsystem_version),
            "dll_characteristics": self.dll_characteristics,
            "image_base": self.image_base,
            "sections": [
                {
                    "name": s.name,
                    "virtual_address": s.virtual_address,
                    "virtual_size": s.virtual_size,
                    "raw_offset": s.raw_offset,
                    "raw_size": s.raw_size,
                    "characteristics": s.characteristics,
                }
                for s in self.sections
            ],
            "data_directories": {
                name: {"rva": d.rva, "size": d.size}
                for name, d in zip(_DIRECTORY_NAMES, self.data_directories, strict=False)
                if d.rva or d.size
            },
            "imports": list(self.imports),
            "delay_imports": list(self.delay_imports),
            "export_dll_name": self.export_dll_name,
            "exports": list(self.exports),
            "pyinit_exports": list(self.pyinit_exports),
        }


class PeNameField(NamedTuple):
    """Where an import or delay-import descriptor keeps the address of a DLL's name."""

    offset: int  # file offset of the 4-byte field
    name: str
    delayed: bool  # a delay-import descriptor's, not an import descriptor's
    base: int  # what the field adds to the name's RVA: 0, or ImageBase for VA-based descriptors


class PeLayout(NamedTuple):
    """Where the headers sit in the file, and the DLL name fields: what an editor rewrites."""

    coff: int  # file offset of the COFF header
    optional: int  # of the optional header
    directories: int  # of the first data directory entry
    section_table: int
    name_fields: tuple[PeNameField, ...]


def parse_pe(data: ReadableBuffer) -> PeFile:
    """Parse a PE/COFF image (``MZ`` executable, DLL or ``.pyd``) from memory."""
    return read_pe(data)[0]


def read_pe(data: ReadableBuffer) -> tuple[PeFile, PeLayout]:
    """``parse_pe``, plus where things are, for callers that rewrite the image (the editor)."""
    with memoryview(data) as raw, raw.cast("B") as view:
        image = _Image(view)
        parsed = image.parse()
        return parsed, image.layout


def _unpack(layout: struct.Struct, view: memoryview, offset: int, what: str) -> tuple[Any, ...]:
    if offset < 0 or offset + layout.size > len(view):
        raise PeError(f"truncated: {what} at offset 0x{offset:x} runs past the end of the file")
    return layout.unpack_from(view, offset)


class _Span(NamedTuple):
    """RVAs ``[start, stop)`` live at file offset ``offset``; the file has them up to ``end``."""

    start: int
    stop: int
    offset: int
    end: int
    name: str


class _Image:
    """The headers of one image plus the RVA mapping the directory readers share."""

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.spans: list[_Span] = []
        # Consecutive lookups (export names, say) mostly hit the same section.
        self.last_span = _Span(0, 0, 0, 0, "")
        self.layout = PeLayout(0, 0, 0, 0, ())
        self.name_fields: list[PeNameField] = []

    def parse(self) -> PeFile:
        view = self.view
        if len(view) < _DOS_HEADER_SIZE or view[:2] != _DOS_MAGIC:
            raise PeError("not a PE image: no MZ header")
        (e_lfanew,) = _U32.unpack_from(view, _E_LFANEW_OFFSET)
        if view[e_lfanew : e_lfanew + 4] != _PE_SIGNATURE:
            raise PeError(f"an MZ file without a PE signature at e_lfanew 0x{e_lfanew:x}")
        coff = e_lfanew + 4
        machine, n_sections, _, _, _, optional_size, characteristics = _unpack(
            _COFF_HEADER, view, coff, "COFF header"
        )
        optional = coff + _COFF_HEADER.size
        if optional + optional_size > len(view):
            raise PeError(f"truncated: optional header at 0x{optional:x} runs past the end")
        (magic,) = _unpack(_U16, view, optional, "optional header")
        if magic not in _OPTIONAL_LAYOUT:
            raise PeError(f"unknown optional header magic 0x{magic:x} (expected PE32 or PE32+)")
        base_layout, base_offset, count_offset = _OPTIONAL_LAYOUT[magic]
        directories_offset = count_offset + 4
        if optional_size < directories_offset:
            raise PeError(f"optional header of {optional_size} bytes is too small for its magic")
        (image_base,) = base_layout.unpack_from(view, optional + base_offset)
        subsystem_version = _U16_PAIR.unpack_from(view, optional + _SUBSYSTEM_VERSION_OFFSET)
        subsystem, dll_characteristics = _U16_PAIR.unpack_from(view, optional + _SUBSYSTEM_OFFSET)
        (size_of_headers,) = _U32.unpack_from(view, optional + _SIZE_OF_HEADERS_OFFSET)
        (n_directories,) = _U32.unpack_from(view, optional + count_offset)
        n_directories = min(n_directories, _MAX_DIRECTORIES)
        if directories_offset + _DATA_DIRECTORY.size * n_directories > optional_size:
            raise PeError(f"{n_directories} data directories do not fit the optional header")
        directories = tuple(
            PeDataDirectory(*_DATA_DIRECTORY.unpack_from(view, offset))
            for offset in range(
                optional + directories_offset,
                optional + directories_offset + _DATA_DIRECTORY.size * n_directories,
                _DATA_DIRECTORY.size,
            )
        )
        sections = self._section_table(optional + optional_size, n_sections)
        file_size = len(view)
        self.spans = [
            _Span(
                s.virtual_address,
                s.virtual_address + max(s.virtual_size, s.raw_size),
                s.raw_offset,
                min(s.raw_offset + s.raw_size, file_size),
                s.name,
            )
            for s in sections
        ]
        # The headers are mapped at RVA 0 as they are in the file; sections take precedence.
        headers_end = min(size_of_headers, file_size)
        self.spans.append(_Span(0, headers_end, 0, headers_end, "the headers"))

        def directory(index: int) -> PeDataDirectory | None:
            entry = directories[index] if index < len(directories) else None
            return entry if entry and entry.rva else None

        imports = directory(DIR_IMPORT)
        delay = directory(_DIR_DELAY_IMPORT)
        export = directory(_DIR_EXPORT)
        load_config = directory(_DIR_LOAD_CONFIG)
        export_dll_name, exports = self._exports(export.rva) if export else (None, ())
        parsed = PeFile(
            machine=machine,
            is_pe32_plus=magic == _PE32_PLUS_MAGIC,
            characteristics=characteristics,
            subsystem=subsystem,
            subsystem_version=subsystem_version,
            dll_characteristics=dll_characteristics,
            image_base=image_base,
            sections=sections,
            data_directories=directories,
            imports=self._imports(imports.rva) if imports else (),
            delay_imports=self._delay_imports(delay.rva, image_base) if delay else (),
            export_dll_name=export_dll_name,
            exports=exports,
            has_chpe_metadata=bool(
                load_config
                and machine == _MACHINE_AMD64
                and magic == _PE32_PLUS_MAGIC
                and self._chpe_pointer(load_config.rva)
            ),
        )
        self.layout = PeLayout(
            coff,
            optional,
            optional + directories_offset,
            optional + optional_size,
            tuple(self.name_fields),
        )
        return parsed

    def _section_table(self, offset: int, count: int) -> tuple[PeSection, ...]:
        if offset + count * _SECTION_HEADER.size > len(self.view):
            raise PeError(f"truncated: {count} section headers at 0x{offset:x} run past the end")
        sections = []
        for index in range(count):
            name, vsize, vaddr, raw_size, raw_offset, *_, flags = _SECTION_HEADER.unpack_from(
                self.view, offset + index * _SECTION_HEADER.size
            )
            text = name.rstrip(b"\0").decode("utf-8", "backslashreplace")
            sections.append(PeSection(text, vaddr, vsize, raw_offset, raw_size, flags))
        return tuple(sections)

    def _locate(self, rva: int) -> tuple[int, int]:
        """Map an RVA to ``(file offset, end of the file bytes backing it)``."""
        span = self.last_span
        if not span.start <= rva < span.stop:
            found = next((s for s in self.spans if s.start <= rva < s.stop), None)
            if found is None:
                raise PeError(f"RVA 0x{rva:x} is in no section of the file")
            span = self.last_span = found
        offset = span.offset + rva - span.start
        if offset >= span.end:
            raise PeError(f"RVA 0x{rva:x} lies in a part of {span.name} the file lacks")
        return offset, span.end

    def _read(self, layout: struct.Struct, rva: int, what: str) -> tuple[Any, ...]:
        offset, end = self._locate(rva)
        if offset + layout.size > end:
            raise PeError(f"{what} at RVA 0x{rva:x} runs past the end of its section")
        return layout.unpack_from(self.view, offset)

    def _string(self, rva: int, what: str) -> str:
        offset, end = self._locate(rva)
        nul = _NUL.search(self.view, offset, min(end, offset + _MAX_NAME))
        if nul is None:
            raise PeError(f"{what} at RVA 0x{rva:x} is not NUL-terminated")
        return str(self.view[offset : nul.start()], "ascii", "backslashreplace")

    def _descriptors(
        self, layout: struct.Struct, rva: int, what: str
    ) -> list[tuple[int, tuple[Any, ...]]]:
        """A zero-terminated descriptor array, each entry with its file offset; the section
        bounds it, however corrupt."""
        offset, end = self._locate(rva)
        entries: list[tuple[int, tuple[Any, ...]]] = []
        while True:
            if offset + layout.size > end:
                raise PeError(f"{what} at RVA 0x{rva:x} has no terminating entry")
            entry = layout.unpack_from(self.view, offset)
            if not any(entry):
                return entries
            entries.append((offset, entry))
            offset += layout.size

    def _imports(self, rva: int) -> tuple[str, ...]:
        names = []
        for offset, (*_, name_rva, first_thunk) in self._descriptors(
            IMPORT_DESCRIPTOR, rva, "import directory"
        ):
            if not (name_rva and first_thunk):  # where the Windows loader stops, too
                break
            names.append(self._string(name_rva, "imported DLL name"))
            self.name_fields.append(PeNameField(offset + IMPORT_NAME_FIELD, names[-1], False, 0))
        return tuple(names)

    def _delay_imports(self, rva: int, image_base: int) -> tuple[str, ...]:
        names = []
        for offset, (attributes, name, *_) in self._descriptors(
            _DELAY_DESCRIPTOR, rva, "delay import directory"
        ):
            if not name:
                break
            base = 0 if attributes & _DELAY_RVA_BASED else image_base
            names.append(self._string(name - base, "delay-loaded DLL name"))
            self.name_fields.append(PeNameField(offset + _DELAY_NAME_FIELD, names[-1], True, base))
        return tuple(names)

    def _exports(self, rva: int) -> tuple[str | None, tuple[str, ...]]:
        fields = self._read(_EXPORT_DIRECTORY, rva, "export directory")
        name_rva, n_names, names_rva = fields[4], fields[7], fields[9]
        dll_name = self._string(name_rva, "export DLL name") if name_rva else None
        if not n_names:
            return dll_name, ()
        offset, end = self._locate(names_rva)
        if offset + 4 * n_names > end:
            raise PeError(f"{n_names} export name pointers at RVA 0x{names_rva:x} overrun")
        pointers = struct.unpack_from(f"<{n_names}I", self.view, offset)
        return dll_name, tuple(self._string(p, "export name") for p in pointers)

    def _chpe_pointer(self, rva: int) -> int:
        """The load config's CHPE metadata pointer, or 0 when the structure predates it."""
        (size,) = self._read(_U32, rva, "load config directory")
        if size < _CHPE_POINTER_OFFSET + _U64.size:
            return 0
        offset, end = self._locate(rva)
        if offset + _CHPE_POINTER_OFFSET + _U64.size > end:
            raise PeError(f"load config directory at RVA 0x{rva:x} runs past its section")
        (pointer,) = _U64.unpack_from(self.view, offset + _CHPE_POINTER_OFFSET)
        return int(pointer)
