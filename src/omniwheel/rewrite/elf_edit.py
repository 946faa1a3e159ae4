"""Rewrite the dynamic section of an ELF shared library: DT_NEEDED, DT_SONAME, DT_RUNPATH.

What patchelf does for ``--replace-needed``, ``--set-soname`` and ``--set-rpath``,
in pure Python so wheels for any Linux or Android target can be repaired from any
host. New names rarely fit in the old ``.dynstr``, so the edit never moves or
resizes anything the linker laid out. Instead it appends one new ``PT_LOAD``
segment at the end of the file holding:

* a copy of the program header table (grown by that ``PT_LOAD`` and, when the file
  had none, a ``PT_PHDR`` so that loaders which insist on finding the table in
  memory, such as Android's, do);
* the old ``.dynstr`` followed by the new strings, so every existing string offset
  (symbol names, version names) stays valid;
* the dynamic table itself, only when the edited table no longer fits in its slot
  (GNU ld leaves spare ``DT_NULL`` entries, lld does not).

Loaders map the new segment like any other: its file offset and address agree
modulo the segment alignment, and its address lies above every existing segment.
Version-needs entries (``vn_file``) name libraries too and are renamed in place.
Executables are refused: older Linux kernels compute ``AT_PHDR`` assuming the
program headers sit in the first segment, so moving them is only safe for
libraries loaded by the dynamic linker.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from omniwheel.binaries.elf import (
    DT_NEEDED,
    DT_NULL,
    DT_RPATH,
    DT_RUNPATH,
    DT_SONAME,
    DT_STRSZ,
    DT_STRTAB,
    ET_DYN,
    PF_R,
    PF_W,
    PN_XNUM,
    PT_DYNAMIC,
    PT_INTERP,
    PT_LOAD,
    PT_PHDR,
    SHT_DYNAMIC,
    ElfError,
    ElfReader,
    align,
    read_elf,
)
from omniwheel.errors import OmniwheelError

__all__ = ["ElfChanges", "ElfEditError", "edit_elf"]


class ElfEditError(OmniwheelError):
    """The ELF file cannot be edited as asked (not a library, a layout we refuse to touch)."""


_MIN_PAGE: Final = 0x1000


class _Phdr(NamedTuple):
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


class _Shdr(NamedTuple):
    name: int
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int


@dataclass(frozen=True)
class _Format:
    """What writing needs beyond the reader: whole records, and where header fields sit."""

    word: int
    phoff_at: int  # e_phoff's offset in the ELF header
    phnum_at: int
    phdr: struct.Struct
    shdr: struct.Struct
    u16: struct.Struct
    word_struct: struct.Struct

    def unpack_phdr(self, values: tuple[int, ...]) -> _Phdr:
        if self.word == 8:
            return _Phdr(*values)
        kind, off, vaddr, paddr, filesz, memsz, flags, alignment = values
        return _Phdr(kind, flags, off, vaddr, paddr, filesz, memsz, alignment)

    def pack_phdr(self, phdr: _Phdr) -> bytes:
        if self.word == 8:
            return self.phdr.pack(*phdr)
        return self.phdr.pack(
            phdr.type, phdr.offset, phdr.vaddr, phdr.paddr, phdr.filesz, phdr.memsz, phdr.flags,
            phdr.align,
        )  # fmt: skip


def _format(wide: bool, order: str) -> _Format:
    return _Format(
        word=8 if wide else 4,
        phoff_at=32 if wide else 28,
        phnum_at=56 if wide else 44,
        phdr=struct.Struct(order + ("IIQQQQQQ" if wide else "8I")),
        shdr=struct.Struct(order + ("IIQQQQIIQQ" if wide else "10I")),
        u16=struct.Struct(order + "H"),
        word_struct=struct.Struct(order + ("Q" if wide else "I")),
    )


_FORMATS: Final = {
    (elf_class, endianness): _format(elf_class == 64, "<" if endianness == "little" else ">")
    for elf_class in (32, 64)
    for endianness in ("little", "big")
}


@dataclass(frozen=True)
class ElfChanges:
    """What to change; an empty ``ElfChanges`` returns the file unchanged.

    ``needed`` renames DT_NEEDED entries (and the matching version-needs file names);
    ``runpath`` replaces every DT_RPATH and DT_RUNPATH with one DT_RUNPATH (an empty
    sequence removes them).
    """

    needed: Mapping[str, str] = field(default_factory=dict)
    soname: str | None = None
    runpath: Sequence[str] | None = None


def edit_elf(data: bytes, changes: ElfChanges) -> bytes:
    """Return a copy of the shared library ``data`` with ``changes`` applied."""
    try:
        return _Editor(read_elf(data)).apply(changes)
    except ElfError as error:  # every read goes through the reader's bounds checks
        raise ElfEditError(f"not an ELF file omniwheel can edit: {error}") from error


class _Editor:
    """One file's headers, dynamic table and strings, read once; ``apply`` writes the copy."""

    def __init__(self, reader: ElfReader) -> None:
        self.reader = reader
        self.data = bytearray(reader.data)
        self.fmt = _FORMATS[reader.elf_class, reader.endianness]
        self.dyn = reader.layout.dyn
        if reader.e_type != ET_DYN:
            raise ElfEditError("only shared libraries (ET_DYN) can be edited, not executables")
        if len(reader.segments) >= PN_XNUM:
            raise ElfEditError("more than 65534 program headers (PN_XNUM) is not supported")
        self.phentsize = self.fmt.phdr.size
        rows = reader.table(self.fmt.phdr, reader.phoff, len(reader.segments), "program headers")
        self.phdrs = [self.fmt.unpack_phdr(row) for row in rows]
        if any(p.type == PT_INTERP for p in self.phdrs):
            raise ElfEditError("has PT_INTERP (an executable): only libraries can be edited")
        self.shoff = reader.shoff
        rows = reader.table(self.fmt.shdr, self.shoff, len(reader.sections), "section headers")
        self.sections = [_Shdr(*row) for row in rows]
        self.dynamic = next((p for p in self.phdrs if p.type == PT_DYNAMIC), None)
        if self.dynamic is None:
            raise ElfEditError("has no dynamic segment: a static file has no libraries to edit")
        self.entries = reader.dynamic_table()
        self.tags = reader.dynamic_entries(self.entries)
        if DT_STRTAB not in self.tags or DT_STRSZ not in self.tags:
            raise ElfEditError("dynamic section has no DT_STRTAB and DT_STRSZ")
        table = reader.dynamic_strings(self.tags)
        assert table is not None  # DT_STRTAB is there
        self.string_table = table
        self.strings = bytearray(reader.data[table.offset : table.end])
        self.old_string_size = len(self.strings)

    def string(self, offset: int, what: str) -> str:
        """A name the file already had (bounds-checked by the reader)."""
        return self.reader.string(self.string_table, offset, what)

    def intern(self, text: str) -> int:
        """The offset of ``text`` in the string table, appending it if no string ends so."""
        encoded = text.encode("utf-8", "surrogateescape") + b"\0"
        found = self.strings.find(encoded)
        if found >= 0:
            return found
        self.strings += encoded
        return len(self.strings) - len(encoded)

    # -- the edit ------------------------------------------------------------------------

    def apply(self, changes: ElfChanges) -> bytes:
        entries = self._edited_entries(changes)
        self._rename_version_needs(changes.needed)
        grown = len(self.strings) > self.old_string_size
        assert self.dynamic is not None
        fits = (len(entries) + 1) * self.dyn.size <= self.dynamic.filesz
        if not grown and fits:
            self._write_dynamic(entries, self.dynamic.offset, self.dynamic.filesz)
            return bytes(self.data)
        return self._append_segment(entries, grown, fits)

    def _edited_entries(self, changes: ElfChanges) -> list[tuple[int, int]]:
        runpath = self.intern(":".join(changes.runpath)) if changes.runpath else None
        soname = None if changes.soname is None else self.intern(changes.soname)
        entries: list[tuple[int, int]] = []
        for tag, value in self.entries:
            if tag == DT_NEEDED:
                name = self.string(value, "DT_NEEDED")
                if name in changes.needed:
                    value = self.intern(changes.needed[name])
            elif tag == DT_SONAME and soname is not None:
                value, soname = soname, None
            elif tag in (DT_RPATH, DT_RUNPATH) and changes.runpath is not None:
                if runpath is None:
                    continue  # the first became the new DT_RUNPATH (none if empty): drop it
                tag, value, runpath = DT_RUNPATH, runpath, None
            entries.append((tag, value))
        # Entries the file lacked go after the DT_NEEDED block, where linkers put them.
        after_needed = max((i + 1 for i, (t, _) in enumerate(entries) if t == DT_NEEDED), default=0)
        for tag, missing in ((DT_RUNPATH, runpath), (DT_SONAME, soname)):
            if missing is not None:
                entries.insert(after_needed, (tag, missing))
        return entries

    def _rename_version_needs(self, renames: Mapping[str, str]) -> None:
        """Point each Elf_Verneed naming a renamed library at the new name (written in place)."""
        if not renames:
            return
        for need in self.reader.version_needs(self.tags, self.string_table):
            if need.file in renames:  # vn_file follows vn_version and vn_cnt
                new = self.intern(renames[need.file])
                self.reader.layout.u32.pack_into(self.data, need.offset + 4, new)

    def _write_dynamic(self, entries: list[tuple[int, int]], offset: int, size: int) -> None:
        """Write ``entries`` then DT_NULL until ``size`` bytes are filled."""
        slots = size // self.dyn.size
        padded = [*entries, *[(DT_NULL, 0)] * (slots - len(entries))]
        for index, (tag, value) in enumerate(padded):
            self.dyn.pack_into(self.data, offset + index * self.dyn.size, tag, value)

    def _append_segment(
        self, entries: list[tuple[int, int]], grown: bool, dynamic_fits: bool
    ) -> bytes:
        """Lay out [program headers | strings | dynamic table] in a new PT_LOAD at the end."""
        assert self.dynamic is not None
        word = self.fmt.word
        loads = [p for p in self.phdrs if p.type == PT_LOAD]
        alignment = max([_MIN_PAGE, *(p.align for p in loads)])
        start = align(len(self.data), 16)
        address = align(max(p.vaddr + p.memsz for p in loads), alignment) + start % alignment
        has_phdr = any(p.type == PT_PHDR for p in self.phdrs)
        phdr_size = (len(self.phdrs) + 1 + (not has_phdr)) * self.phentsize
        strings_at = phdr_size if grown else None
        end = phdr_size + (len(self.strings) if grown else 0)
        dynamic_at = None if dynamic_fits else align(end, word)
        dynamic_size = (len(entries) + 1) * self.dyn.size
        size = end if dynamic_at is None else dynamic_at + dynamic_size

        if strings_at is not None:
            entries = [
                (tag, address + strings_at if tag == DT_STRTAB else
                 len(self.strings) if tag == DT_STRSZ else value)
                for tag, value in entries
            ]  # fmt: skip
        segment = _Phdr(PT_LOAD, PF_R | (0 if dynamic_at is None else PF_W),
                        start, address, address, size, size, alignment)  # fmt: skip
        phdrs = self._new_program_headers(segment, phdr_size, dynamic_at, dynamic_size)

        self.data += bytes(start - len(self.data) + size)
        table = b"".join(self.fmt.pack_phdr(p) for p in phdrs)
        self.data[start : start + len(table)] = table
        if strings_at is not None:
            self.data[start + strings_at : start + strings_at + len(self.strings)] = self.strings
        if dynamic_at is None:
            self._write_dynamic(entries, self.dynamic.offset, self.dynamic.filesz)
        else:
            self._write_dynamic(entries, start + dynamic_at, dynamic_size)
        self.fmt.word_struct.pack_into(self.data, self.fmt.phoff_at, start)
        self.fmt.u16.pack_into(self.data, self.fmt.phnum_at, len(phdrs))
        self._update_sections(
            (start + strings_at, address + strings_at) if strings_at is not None else None,
            (start + dynamic_at, address + dynamic_at) if dynamic_at is not None else None,
            dynamic_size,
        )
        return bytes(self.data)

    def _new_program_headers(
        self, segment: _Phdr, phdr_size: int, dynamic_at: int | None, dynamic_size: int
    ) -> list[_Phdr]:
        """The old table with PT_PHDR/PT_DYNAMIC moved and the new PT_LOAD after the last one."""
        table_header = _Phdr(PT_PHDR, PF_R, segment.offset, segment.vaddr, segment.vaddr,
                             phdr_size, phdr_size, self.fmt.word)  # fmt: skip
        phdrs: list[_Phdr] = []
        if not any(p.type == PT_PHDR for p in self.phdrs):
            phdrs.append(table_header)  # PT_PHDR must precede every PT_LOAD
        for phdr in self.phdrs:
            if phdr.type == PT_PHDR:
                phdr = table_header
            elif phdr.type == PT_DYNAMIC and dynamic_at is not None:
                phdr = phdr._replace(offset=segment.offset + dynamic_at,
                                     vaddr=segment.vaddr + dynamic_at,
                                     paddr=segment.vaddr + dynamic_at,
                                     filesz=dynamic_size, memsz=dynamic_size)  # fmt: skip
            phdrs.append(phdr)
        last_load = max(i for i, p in enumerate(phdrs) if p.type == PT_LOAD)
        phdrs.insert(last_load + 1, segment)
        return phdrs

    def _update_sections(
        self,
        strings: tuple[int, int] | None,
        dynamic: tuple[int, int] | None,
        dynamic_size: int,
    ) -> None:
        """Keep section-based tools (readelf, objdump, strip) reading the live tables."""
        dynamic_index = next(
            (i for i, s in enumerate(self.sections) if s.type == SHT_DYNAMIC), None
        )
        for index, section in enumerate(self.sections):
            if (
                strings is not None
                and section.offset == self.string_table.offset
                and (dynamic_index is None or index == self.sections[dynamic_index].link)
            ):
                section = section._replace(
                    offset=strings[0], addr=strings[1], size=len(self.strings)
                )
            elif dynamic is not None and index == dynamic_index:
                section = section._replace(offset=dynamic[0], addr=dynamic[1], size=dynamic_size)
            else:
                continue
            self.fmt.shdr.pack_into(self.data, self.shoff + index * self.fmt.shdr.size, *section)
