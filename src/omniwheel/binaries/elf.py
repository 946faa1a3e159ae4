"""Read the facts a wheel audit needs from an ELF binary (Linux and Android).

The facts come from the program headers and the dynamic segment, the parts the
loader itself reads, so a binary whose section headers were stripped reads the
same; section headers are only a fallback (symbol count, a note kept outside
PT_NOTE). Every offset, size and count taken from the file is checked against
the buffer before use, so hostile input raises ``ElfError`` and no loop can run
longer than the file is big.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, NamedTuple

from omniwheel.binaries.base import BinaryParseError, ReadableBuffer

__all__ = [
    "DT_NEEDED", "DT_NULL", "DT_RPATH", "DT_RUNPATH", "DT_SONAME", "DT_STRSZ", "DT_STRTAB",
    "DT_VERNEED", "DT_VERNEEDNUM", "ET_DYN", "PF_R", "PF_W", "PN_XNUM", "PT_DYNAMIC",
    "PT_INTERP", "PT_LOAD", "PT_PHDR", "SHT_DYNAMIC", "ElfError", "ElfFile", "ElfReader",
    "align", "parse_elf", "read_elf",
]  # fmt: skip


class ElfError(BinaryParseError):
    """The bytes are not a well-formed ELF file."""


PT_LOAD: Final = 1
PT_DYNAMIC: Final = 2
PT_INTERP: Final = 3
PT_NOTE: Final = 4
PT_PHDR: Final = 6
PF_W: Final = 2
PF_R: Final = 4
PN_XNUM: Final = 0xFFFF
ET_DYN: Final = 3

SHT_DYNAMIC: Final = 6
_SHT_NOBITS: Final = 8
_SHT_DYNSYM: Final = 11
_SHN_UNDEF: Final = 0
_SHN_XINDEX: Final = 0xFFFF

DT_NULL: Final = 0
DT_NEEDED: Final = 1
DT_HASH: Final = 4
DT_STRTAB: Final = 5
DT_SYMTAB: Final = 6
DT_STRSZ: Final = 10
DT_SYMENT: Final = 11
DT_SONAME: Final = 14
DT_RPATH: Final = 15
DT_RUNPATH: Final = 29
DT_GNU_HASH: Final = 0x6FFFFEF5
DT_VERNEED: Final = 0x6FFFFFFE
DT_VERNEEDNUM: Final = 0x6FFFFFFF

_NT_ANDROID_IDENT: Final = 1
_ANDROID_NOTE_NAME: Final = b"Android\0"
_ANDROID_NOTE_SECTION: Final = b".note.android.ident\0"

_EM_S390: Final = 22
_EM_ALPHA: Final = 0x9026

# (e_machine, class, byte order) -> the machine name wheel platform tags use.
_ARCHES: Final = {
    (3, 32, "little"): "i686",
    (62, 64, "little"): "x86_64",
    (40, 32, "little"): "armv7l",
    (183, 64, "little"): "aarch64",
    (21, 64, "little"): "ppc64le",
    (21, 64, "big"): "ppc64",
    (22, 64, "big"): "s390x",
    (243, 64, "little"): "riscv64",
    (258, 64, "little"): "loongarch64",
}

_OSABIS: Final = {
    0: "sysv",
    1: "hpux",
    2: "netbsd",
    3: "gnu",
    6: "solaris",
    7: "aix",
    8: "irix",
    9: "freebsd",
    10: "tru64",
    11: "modesto",
    12: "openbsd",
    13: "openvms",
    14: "nsk",
    15: "aros",
    16: "fenixos",
    17: "cloudabi",
    18: "openvos",
    97: "arm",
    255: "standalone",
}

_E_TYPES: Final = {0: "none", 1: "rel", 2: "exec", ET_DYN: "dyn", 4: "core"}

_IDENT = struct.Struct("4xBBxB")  # EI_CLASS, EI_DATA, EI_OSABI
# Names in the dynamic string table are sonames, paths and version names; the cap keeps
# hostile tables (long runs without NUL, many entries pointing into them) from going quadratic.
_MAX_STRING: Final = 16384
_NUL = re.compile(b"\0")
_PYINIT = re.compile(b"PyInit_")


class _Layout(NamedTuple):
    """The record shapes of one ELF class and byte order, reduced to the fields we read."""

    order: str
    word_size: int
    header: struct.Struct  # e_type, e_machine, phoff, shoff, phentsize, phnum, shentsize...
    phdr: struct.Struct  # p_type, p_offset, p_vaddr, p_filesz, p_align
    shdr: struct.Struct  # sh_name, sh_type, sh_addr, sh_offset, sh_size, sh_link, sh_info,...
    dyn: struct.Struct  # d_tag, d_val
    sym: struct.Struct  # st_name, st_shndx
    u32: struct.Struct
    note: struct.Struct  # n_namesz, n_descsz, n_type
    verneed: struct.Struct  # vn_cnt, vn_file, vn_aux, vn_next
    vernaux: struct.Struct  # vna_name, vna_next


def _layout(elf_class: int, order: str) -> _Layout:
    """Build the struct shapes once per class/byte order; pad bytes skip unused fields."""
    wide = elf_class == 64
    return _Layout(
        order=order,
        word_size=8 if wide else 4,
        header=struct.Struct(order + ("HH4x8xQQ4x2xHHHHH" if wide else "HH4x4xII4x2xHHHHH")),
        phdr=struct.Struct(order + ("I4xQQ8xQ8xQ" if wide else "III4xI8xI")),
        shdr=struct.Struct(order + ("II8xQQQIIQ8x" if wide else "II4xIIIIII4x")),
        dyn=struct.Struct(order + ("QQ" if wide else "II")),
        sym=struct.Struct(order + ("I2xH16x" if wide else "I8x2xH")),
        u32=struct.Struct(order + "I"),
        note=struct.Struct(order + "III"),
        verneed=struct.Struct(order + "2xHIII"),
        vernaux=struct.Struct(order + "8xII"),
    )


_LAYOUTS: Final = {
    (elf_class, data): _layout(elf_class, order)
    for elf_class in (32, 64)
    for data, order in ((1, "<"), (2, ">"))
}


class _Segment(NamedTuple):
    type: int
    offset: int
    vaddr: int
    filesz: int
    align: int


class _Section(NamedTuple):
    name: int
    type: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    align: int


class StringTable(NamedTuple):
    """Where a string table lies in the file: ``[offset, end)``."""

    offset: int
    end: int


class VersionNeed(NamedTuple):
    """One Elf_Verneed: its file offset, the library file it names, its Elf_Vernaux."""

    offset: int
    file: str
    aux_count: int
    aux: int  # first Elf_Vernaux, from ``offset``


@dataclass(frozen=True)
class ElfFile:
    """What an ELF binary asks of the system that loads it.

    ``e_type`` is ``"exec"``, ``"dyn"`` (shared library or PIE), ``"rel"``, ``"core"``
    or ``"et_0x..."``; ``osabi`` is the EI_OSABI name (``"sysv"``, ``"gnu"``, ...);
    ``arch`` uses the wheel-tag machine names, ``"em_<n>"`` for machines without one.
    ``version_requirements`` maps each library named in DT_VERNEED to the symbol
    versions needed from it, in file order; treat it as read-only. ``libc`` is
    ``"glibc"``, ``"musl"``, ``"bionic"`` or ``None`` (no evidence either way).
    """

    elf_class: int
    endianness: str
    e_type: str
    osabi: str
    e_machine: int
    arch: str
    interpreter: str | None
    soname: str | None
    needed: tuple[str, ...]
    rpath: tuple[str, ...]
    runpath: tuple[str, ...]
    version_requirements: Mapping[str, tuple[str, ...]] = field(hash=False)
    libc: str | None
    android_api_level: int | None
    pyinit_exports: tuple[str, ...]

    @property
    def format(self) -> str:
        """Always ``"elf"``: the discriminator of the ``Binary`` protocol."""
        return "elf"

    @property
    def architectures(self) -> tuple[str, ...]:
        """An ELF file is built for one machine."""
        return (self.arch,)

    def highest_version(self, prefix: str) -> tuple[int, ...] | None:
        """The highest ``<prefix>_x.y[.z]`` symbol version needed, e.g. ``prefix="GLIBCXX"``.

        Non-numeric names such as ``GLIBC_PRIVATE`` or ``CXXABI_TM_1`` are ignored.
        """
        return self._highest_versions.get(prefix)

    @cached_property
    def _highest_versions(self) -> dict[str, tuple[int, ...]]:
        """Prefix -> highest numeric version needed: one pass, then every prefix a lookup."""
        highest: dict[str, tuple[int, ...]] = {}
        for names in self.version_requirements.values():
            for name in names:
                prefix, _, text = name.rpartition("_")
                version = _numeric_version(text)
                if prefix and version and version > highest.get(prefix, ()):
                    highest[prefix] = version
        return highest

    @property
    def glibc_requirement(self) -> tuple[int, int] | None:
        """The oldest glibc (major, minor) that provides every ``GLIBC_`` version needed."""
        version = self.highest_version("GLIBC")
        return None if version is None else (version[0], version[1] if len(version) > 1 else 0)

    @property
    def glibcxx_requirement(self) -> tuple[int, ...] | None:
        """The highest libstdc++ ``GLIBCXX_`` version needed."""
        return self.highest_version("GLIBCXX")

    @property
    def cxxabi_requirement(self) -> tuple[int, ...] | None:
        """The highest libstdc++ ``CXXABI_`` version needed."""
        return self.highest_version("CXXABI")

    @property
    def gcc_requirement(self) -> tuple[int, ...] | None:
        """The highest libgcc_s ``GCC_`` version needed."""
        return self.highest_version("GCC")

    def to_json(self) -> dict[str, Any]:
        """The parsed facts; ``highest_versions`` holds the dotted maxima present."""
        highest = {
            prefix: ".".join(map(str, version))
            for prefix in ("GLIBC", "GLIBCXX", "CXXABI", "GCC")
            if (version := self.highest_version(prefix)) is not None
        }
        return {
            "format": self.format,
            "architectures": list(self.architectures),
            "elf_class": self.elf_class,
            "endianness": self.endianness,
            "e_type": self.e_type,
            "osabi": self.osabi,
            "e_machine": self.e_machine,
            "arch": self.arch,
            "interpreter": self.interpreter,
            "soname": self.soname,
            "needed": list(self.needed),
            "rpath": list(self.rpath),
            "runpath": list(self.runpath),
            "version_requirements": {
                library: list(names) for library, names in self.version_requirements.items()
            },
            "highest_versions": highest,
            "libc": self.libc,
            "android_api_level": self.android_api_level,
            "pyinit_exports": list(self.pyinit_exports),
        }


def parse_elf(data: ReadableBuffer) -> ElfFile:
    """Parse the ELF file held in ``data`` (bytes, bytearray, memoryview or mmap)."""
    return read_elf(data).parse()


def read_elf(data: ReadableBuffer) -> ElfReader:
    """The bounds-checked reader of ``data``'s headers, for callers that read more than
    ``parse_elf`` keeps (the ELF editor)."""
    if len(data) < 16 or data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file (no \\x7fELF magic at offset 0)")
    class_byte, data_byte, osabi = _IDENT.unpack_from(data, 0)
    if class_byte not in (1, 2):
        raise ElfError(f"unknown ELF class {class_byte} at offset 0x4")
    if data_byte not in (1, 2):
        raise ElfError(f"unknown ELF data encoding {data_byte} at offset 0x5")
    elf_class = 32 * class_byte
    return ElfReader(
        data,
        _LAYOUTS[elf_class, data_byte],
        elf_class,
        "little" if data_byte == 1 else "big",
        _OSABIS.get(osabi, f"osabi_{osabi}"),
    )


def _numeric_version(text: str) -> tuple[int, ...] | None:
    """``"2.17"`` -> ``(2, 17)``; ``None`` for anything that is not dotted digits."""
    parts = text.split(".")
    return tuple(map(int, parts)) if all(part.isdigit() for part in parts) else None


def align(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (a power of two)."""
    return (value + alignment - 1) & -alignment


def _split_path(values: list[str]) -> tuple[str, ...]:
    """Split DT_RPATH/DT_RUNPATH on ':'.

    An empty entry inside the list is kept: the loader reads it as the current directory.
    """
    return tuple(entry for value in values if value for entry in value.split(":"))


def _infer_libc(
    interpreter: str | None,
    needed: tuple[str, ...],
    versions: Mapping[str, tuple[str, ...]],
    android_api_level: int | None,
) -> str | None:
    """Name the C library from the loader, or for shared libraries from what they link."""
    if interpreter is not None:
        loader = interpreter.rpartition("/")[2]
        if loader.startswith("ld-musl-"):
            return "musl"
        if loader.startswith(("ld-linux", "ld64.so")):
            return "glibc"
        if interpreter.startswith("/system/bin/linker"):
            return "bionic"
    glibc_versions = any(name.startswith("GLIBC_") for names in versions.values() for name in names)
    if android_api_level is not None or ("libc.so" in needed and not glibc_versions):
        return "bionic"
    if any(library.startswith("libc.musl-") for library in needed):
        return "musl"
    if "libc.so.6" in needed or glibc_versions:
        return "glibc"
    return None


class ElfReader:
    """Bounds-checked reads of one ELF file; each read names what it was reading."""

    def __init__(
        self, data: ReadableBuffer, layout: _Layout, elf_class: int, endianness: str, osabi: str
    ) -> None:
        self.data = data
        self.size = len(data)
        self.layout = layout
        self.elf_class, self.endianness, self.osabi = elf_class, endianness, osabi
        (
            self.e_type,
            self.e_machine,
            self.phoff,
            self.shoff,
            phentsize,
            phnum,
            shentsize,
            shnum,
            self.shstrndx,
        ) = self.unpack(layout.header, 16, "ELF header")
        shoff, phoff = self.shoff, self.phoff
        if shoff:
            self.expect_entry_size(shentsize, layout.shdr, "e_shentsize")
            zero = _Section(*self.unpack(layout.shdr, shoff, "section header 0"))
            # Extended numbering: counts too big for the header live in section 0.
            shnum = shnum or zero.size
            self.shstrndx = zero.link if self.shstrndx == _SHN_XINDEX else self.shstrndx
            phnum = zero.info if phnum == PN_XNUM else phnum
        self.sections = (
            [_Section(*row) for row in self.table(layout.shdr, shoff, shnum, "section headers")]
            if shoff
            else []
        )
        if phnum:
            self.expect_entry_size(phentsize, layout.phdr, "e_phentsize")
        self.segments = (
            [_Segment(*row) for row in self.table(layout.phdr, phoff, phnum, "program headers")]
            if phnum
            else []
        )

    # -- primitive reads -------------------------------------------------------------

    def check(self, offset: int, length: int, what: str) -> None:
        if offset + length > self.size:
            raise ElfError(
                f"{what} at offset {offset:#x} ({length} bytes) runs past the end of the "
                f"{self.size}-byte file"
            )

    def unpack(self, shape: struct.Struct, offset: int, what: str) -> tuple[int, ...]:
        self.check(offset, shape.size, what)
        values: tuple[int, ...] = shape.unpack_from(self.data, offset)
        return values

    def table(
        self, shape: struct.Struct, offset: int, count: int, what: str
    ) -> Iterator[tuple[int, ...]]:
        """Records of ``shape``; the whole table is checked first, so counts can't outrun it."""
        self.check(offset, shape.size * count, f"{what} ({count} entries)")
        return (shape.unpack_from(self.data, offset + i * shape.size) for i in range(count))

    def words(self, offset: int, count: int, what: str, word: str = "I") -> tuple[int, ...]:
        self.check(offset, count * struct.calcsize(word), what)
        values: tuple[int, ...] = struct.unpack_from(
            f"{self.layout.order}{count}{word}", self.data, offset
        )
        return values

    def cstring(self, offset: int, end: int, what: str) -> str:
        limit = min(end, self.size, offset + _MAX_STRING)
        terminator = _NUL.search(self.data, offset, limit) if offset < limit else None
        if terminator is None:
            raise ElfError(f"{what} at offset {offset:#x} is not a NUL-terminated string in range")
        return bytes(self.data[offset : terminator.start()]).decode("utf-8", "surrogateescape")

    def string(self, table: StringTable, index: int, what: str) -> str:
        return self.cstring(table.offset + index, table.end, what)

    @staticmethod
    def expect_entry_size(size: int, shape: struct.Struct, what: str) -> None:
        if size != shape.size:
            raise ElfError(f"{what} is {size}, expected {shape.size}")

    def file_offset(self, address: int, what: str) -> int:
        """Map a virtual address to its file offset through the PT_LOAD segments."""
        for segment in self.segments:
            if segment.type == PT_LOAD and 0 <= address - segment.vaddr < segment.filesz:
                offset: int = segment.offset + address - segment.vaddr
                self.check(offset, 1, what)
                return offset
        raise ElfError(f"{what} address {address:#x} is not inside any PT_LOAD segment")

    # -- the facts ---------------------------------------------------------------------

    def parse(self) -> ElfFile:
        elf_class, endianness = self.elf_class, self.endianness
        dynamic = self.dynamic_entries()
        strings = self.dynamic_strings(dynamic)

        def texts(tag: int, what: str) -> list[str]:
            values = dynamic.get(tag, [])
            if not values:
                return []
            if strings is None:
                raise ElfError(f"dynamic segment has {what} but no DT_STRTAB")
            return [self.string(strings, value, what) for value in values]

        needed = tuple(dict.fromkeys(texts(DT_NEEDED, "DT_NEEDED")))
        soname = next(iter(texts(DT_SONAME, "DT_SONAME")), None)
        versions = self.version_requirements(dynamic, strings)
        interpreter = self.interpreter()
        android_api_level = self.android_api_level()
        return ElfFile(
            elf_class=elf_class,
            endianness=endianness,
            e_type=_E_TYPES.get(self.e_type, f"et_{self.e_type:#x}"),
            osabi=self.osabi,
            e_machine=self.e_machine,
            arch=_ARCHES.get((self.e_machine, elf_class, endianness), f"em_{self.e_machine}"),
            interpreter=interpreter,
            soname=soname,
            needed=needed,
            rpath=_split_path(texts(DT_RPATH, "DT_RPATH")),
            runpath=_split_path(texts(DT_RUNPATH, "DT_RUNPATH")),
            version_requirements=versions,
            libc=_infer_libc(interpreter, needed, versions, android_api_level),
            android_api_level=android_api_level,
            pyinit_exports=self.pyinit_exports(dynamic, strings),
        )

    def interpreter(self) -> str | None:
        for segment in self.segments:
            if segment.type == PT_INTERP:
                self.check(segment.offset, segment.filesz, "PT_INTERP")
                return self.cstring(segment.offset, segment.offset + segment.filesz, "PT_INTERP")
        return None

    def dynamic_table(self) -> list[tuple[int, int]]:
        """PT_DYNAMIC's (tag, value) entries in file order, up to DT_NULL."""
        segment = next((s for s in self.segments if s.type == PT_DYNAMIC), None)
        if segment is None:
            return []
        count = segment.filesz // self.layout.dyn.size
        entries = []
        for tag, value in self.table(self.layout.dyn, segment.offset, count, "PT_DYNAMIC"):
            if tag == DT_NULL:
                break
            entries.append((tag, value))
        return entries

    def dynamic_entries(
        self, table: Sequence[tuple[int, int]] | None = None
    ) -> dict[int, list[int]]:
        """Every value of every tag in PT_DYNAMIC (or ``table``, as ``dynamic_table`` gave it),
        in file order."""
        entries: dict[int, list[int]] = {}
        for tag, value in self.dynamic_table() if table is None else table:
            entries.setdefault(tag, []).append(value)
        return entries

    def dynamic_strings(self, dynamic: dict[int, list[int]]) -> StringTable | None:
        if DT_STRTAB not in dynamic:
            return None
        offset = self.file_offset(dynamic[DT_STRTAB][0], "DT_STRTAB")
        if DT_STRSZ not in dynamic:
            return StringTable(offset, self.size)
        size = dynamic[DT_STRSZ][0]
        self.check(offset, size, "DT_STRTAB")
        return StringTable(offset, offset + size)

    def version_requirements(
        self, dynamic: dict[int, list[int]], strings: StringTable | None
    ) -> Mapping[str, tuple[str, ...]]:
        """Walk the DT_VERNEED chain: library file -> version names it must define."""
        needs: dict[str, dict[str, None]] = {}  # ordered sets of version names
        budget = self.size // 16  # as in version_needs, for all Elf_Vernaux together
        for entry in self.version_needs(dynamic, strings):
            assert strings is not None  # version_needs yields nothing without it
            names = needs.setdefault(entry.file, {})
            aux_offset = entry.offset + entry.aux
            for _ in range(entry.aux_count):
                budget = self.spend(budget, aux_offset)
                name, next_aux = self.unpack(self.layout.vernaux, aux_offset, "Elf_Vernaux")
                names[self.string(strings, name, "vna_name")] = None
                if not next_aux:
                    break
                aux_offset += next_aux
        return {library: tuple(names) for library, names in needs.items()}

    def version_needs(
        self, dynamic: dict[int, list[int]], strings: StringTable | None
    ) -> Iterator[VersionNeed]:
        """Each Elf_Verneed of the DT_VERNEED chain, with the library file it names."""
        if DT_VERNEED not in dynamic:
            return
        if strings is None:
            raise ElfError("dynamic segment has DT_VERNEED but no DT_STRTAB")
        offset = self.file_offset(dynamic[DT_VERNEED][0], "DT_VERNEED")
        remaining = dynamic.get(DT_VERNEEDNUM, [self.size])[0]
        # Each real entry has 16 bytes of its own; more steps than that means a loop.
        budget = self.size // 16
        while remaining:
            remaining -= 1
            budget = self.spend(budget, offset)
            count, file, aux, next_need = self.unpack(self.layout.verneed, offset, "Elf_Verneed")
            yield VersionNeed(offset, self.string(strings, file, "vn_file"), count, aux)
            if not next_need:
                break
            offset += next_need

    @staticmethod
    def spend(budget: int, offset: int) -> int:
        if budget <= 0:
            raise ElfError(f"version needs chain at offset {offset:#x} is longer than the file")
        return budget - 1

    def pyinit_exports(
        self, dynamic: dict[int, list[int]], strings: StringTable | None
    ) -> tuple[str, ...]:
        """Defined dynamic symbols named ``PyInit_*``; skipped fast when no such name exists."""
        if strings is None or DT_SYMTAB not in dynamic:
            return ()
        starts = {
            match.start() - strings.offset
            for match in _PYINIT.finditer(self.data, strings.offset, strings.end)
        }
        if not starts:
            return ()
        sym = self.layout.sym
        if DT_SYMENT in dynamic:
            self.expect_entry_size(dynamic[DT_SYMENT][0], sym, "DT_SYMENT")
        offset = self.file_offset(dynamic[DT_SYMTAB][0], "DT_SYMTAB")
        count = self.dynamic_symbol_count(dynamic, offset)
        names = [
            self.string(strings, name, "dynamic symbol name")
            for name, section in self.table(sym, offset, count, "dynamic symbol table")
            if name in starts and section != _SHN_UNDEF
        ]
        return tuple(dict.fromkeys(names))

    def dynamic_symbol_count(self, dynamic: dict[int, list[int]], symtab: int) -> int:
        """Symbol count from the section header, else DT_GNU_HASH, else DT_HASH's nchain."""
        for section in self.sections:
            if section.type == _SHT_DYNSYM and section.offset == symtab:
                return section.size // self.layout.sym.size
        if DT_GNU_HASH in dynamic:
            return self.gnu_hash_symbol_count(
                self.file_offset(dynamic[DT_GNU_HASH][0], "DT_GNU_HASH"), symtab
            )
        if DT_HASH in dynamic:
            offset = self.file_offset(dynamic[DT_HASH][0], "DT_HASH")
            # 64-bit s390 and Alpha use 8-byte hash table words.
            wide = self.layout.word_size == 8 and self.e_machine in (_EM_S390, _EM_ALPHA)
            return self.words(offset, 2, "DT_HASH header", "Q" if wide else "I")[1]
        raise ElfError("no DT_HASH, DT_GNU_HASH or .dynsym section gives the symbol count")

    def gnu_hash_symbol_count(self, offset: int, symtab: int) -> int:
        """One past the last symbol of the last hash chain (a chain ends at an odd value)."""
        nbuckets, symoffset, bloom_size, _shift = self.words(offset, 4, "DT_GNU_HASH header")
        buckets_offset = offset + 16 + bloom_size * self.layout.word_size
        last = max(self.words(buckets_offset, nbuckets, "DT_GNU_HASH buckets"), default=0)
        if last < symoffset:
            return symoffset
        most = (self.size - symtab) // self.layout.sym.size
        chain = buckets_offset + 4 * nbuckets + 4 * (last - symoffset)
        u32 = self.layout.u32
        while not self.unpack(u32, chain, "DT_GNU_HASH chain")[0] & 1:
            last += 1
            chain += 4
            if last >= most:
                raise ElfError(f"DT_GNU_HASH chain at offset {chain:#x} outruns the symbol table")
        return last + 1

    def android_api_level(self) -> int | None:
        """The API level from the NDK's ``.note.android.ident`` note (PT_NOTE or section)."""
        for segment in self.segments:
            if segment.type == PT_NOTE:
                level = self.android_note(segment.offset, segment.filesz, segment.align)
                if level is not None:
                    return level
        for section in self.sections_named(_ANDROID_NOTE_SECTION):
            level = self.android_note(section.offset, section.size, section.align)
            if level is not None:
                return level
        return None

    def android_note(self, offset: int, size: int, alignment: int) -> int | None:
        self.check(offset, size, "note area")
        step = 8 if alignment == 8 else 4
        end = offset + size
        while offset + self.layout.note.size <= end:
            namesz, descsz, kind = self.unpack(self.layout.note, offset, "note header")
            # Name and descriptor each start at a multiple of the note alignment.
            name = offset + self.layout.note.size
            desc = offset + align(self.layout.note.size + namesz, step)
            following = offset + align(desc - offset + descsz, step)
            if following > end:
                raise ElfError(f"note at offset {offset:#x} runs past the end of its note area")
            if (
                kind == _NT_ANDROID_IDENT
                and descsz >= 4
                and namesz == len(_ANDROID_NOTE_NAME)
                and self.data[name : name + namesz] == _ANDROID_NOTE_NAME
            ):
                level: int = self.unpack(self.layout.u32, desc, "Android note")[0]
                return level
            offset = following
        return None

    def sections_named(self, name: bytes) -> Iterator[_Section]:
        """Sections whose name (NUL included) is ``name``, by bytes, without decoding names."""
        if not 0 < self.shstrndx < len(self.sections):
            return
        names = self.sections[self.shstrndx]
        self.check(names.offset, names.size, "section name table")
        for section in self.sections:
            start = names.offset + section.name
            if (
                section.type != _SHT_NOBITS
                and section.name + len(name) <= names.size
                and self.data[start : start + len(name)] == name
            ):
                yield section
