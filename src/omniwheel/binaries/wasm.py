"""WebAssembly reader: core modules, Emscripten side modules and their ``dylink.0`` metadata.

Pyodide extension modules are side modules whose first section is ``dylink.0``;
the audit needs that fact, the libraries it lists as needed (and the runtime
path the loader searches for them), the imports a host must satisfy and the
``PyInit_*`` exports. Only the sections holding those are
decoded (type and code sections are skipped by size). Every LEB128 is bounded
to its 5 or 10 bytes and every size and count is checked against the enclosing
section, so corrupt input raises ``WasmError`` and nothing else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from omniwheel.binaries.base import BinaryParseError, ReadableBuffer

__all__ = [
    "DylinkExportInfo",
    "DylinkImportInfo",
    "DylinkInfo",
    "WasmError",
    "WasmExport",
    "WasmImport",
    "WasmLimits",
    "WasmModule",
    "WasmSection",
    "parse_wasm",
]


class WasmError(BinaryParseError):
    """The bytes are not a well-formed WebAssembly core module."""


_MAGIC = b"\0asm"
_SECTION_NAMES = (
    "custom",
    "type",
    "import",
    "function",
    "table",
    "memory",
    "global",
    "export",
    "start",
    "element",
    "code",
    "data",
    "datacount",
    "tag",
)
_SECTION_CUSTOM, _SECTION_IMPORT, _SECTION_MEMORY, _SECTION_EXPORT = 0, 2, 5, 7
_EXTERN_KINDS = ("func", "table", "memory", "global", "tag")
_KIND_FUNC, _KIND_TABLE, _KIND_MEMORY, _KIND_GLOBAL, _KIND_TAG = range(5)
# Reference types with an explicit heap type (function-references / GC proposals).
_REF_WITH_HEAP_TYPE = (0x63, 0x64)
_LIMITS_HAS_MAX = 0x01
_LIMITS_64 = 0x04
_LIMITS_PAGE_SIZE = 0x08
_LIMITS_KNOWN = 0x0F  # has-max, shared, 64-bit, custom page size

_DYLINK0 = "dylink.0"
_DYLINK_LEGACY = "dylink"
_DYLINK_MEM_INFO = 1
_DYLINK_NEEDED = 2
_DYLINK_EXPORT_INFO = 3
_DYLINK_IMPORT_INFO = 4
_DYLINK_RUNTIME_PATH = 5


@dataclass(frozen=True, slots=True)
class WasmSection:
    """One section header; ``offset`` is where its payload starts (after a custom name)."""

    id: int
    name: str
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class WasmLimits:
    """Limits of a memory or table; 64-bit memories (memory64) count pages in u64."""

    flags: int
    minimum: int
    maximum: int | None

    @property
    def is_64(self) -> bool:
        return bool(self.flags & _LIMITS_64)

    def to_json(self) -> dict[str, Any]:
        return {"flags": self.flags, "minimum": self.minimum, "maximum": self.maximum}


@dataclass(frozen=True, slots=True)
class WasmImport:
    """An import the host must provide; ``limits`` only for memory and table imports."""

    module: str
    field: str
    kind: str
    limits: WasmLimits | None = None

    def to_json(self) -> dict[str, Any]:
        limits = self.limits.to_json() if self.limits else None
        return {"module": self.module, "field": self.field, "kind": self.kind, "limits": limits}


@dataclass(frozen=True, slots=True)
class WasmExport:
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class DylinkExportInfo:
    """Extra flags for an export (``WASM_SYMBOL_TLS`` = 0x100 marks thread-locals)."""

    name: str
    flags: int


@dataclass(frozen=True, slots=True)
class DylinkImportInfo:
    """Extra flags for an import (``WASM_SYMBOL_BINDING_WEAK`` = 0x1 marks weak symbols)."""

    module: str
    field: str
    flags: int


@dataclass(frozen=True, slots=True)
class DylinkInfo:
    """What the dynamic loader reserves and loads first; alignments are log2 values."""

    memory_size: int = 0
    memory_alignment: int = 0
    table_size: int = 0
    table_alignment: int = 0
    needed: tuple[str, ...] = ()
    export_info: tuple[DylinkExportInfo, ...] = ()
    import_info: tuple[DylinkImportInfo, ...] = ()
    #: Where the loader looks for ``needed`` (``$ORIGIN`` is the module's directory).
    runtime_path: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "memory_size": self.memory_size,
            "memory_alignment": self.memory_alignment,
            "table_size": self.table_size,
            "table_alignment": self.table_alignment,
            "needed": list(self.needed),
            "export_info": [{"name": e.name, "flags": e.flags} for e in self.export_info],
            "import_info": [
                {"module": i.module, "field": i.field, "flags": i.flags} for i in self.import_info
            ],
            "runtime_path": list(self.runtime_path),
        }


@dataclass(frozen=True, slots=True)
class WasmModule:
    """A parsed core module. ``dylink`` is set only for side modules (dylink first)."""

    sections: tuple[WasmSection, ...]
    dylink: DylinkInfo | None
    imports: tuple[WasmImport, ...]
    exports: tuple[WasmExport, ...]
    memories: tuple[WasmLimits, ...]

    @property
    def format(self) -> str:
        return "wasm"

    @property
    def architectures(self) -> tuple[str, ...]:
        """``wasm64`` as soon as one memory, defined or imported, is 64-bit."""
        imported = (i.limits for i in self.imports if i.kind == "memory" and i.limits)
        if any(limits.is_64 for limits in (*self.memories, *imported)):
            return ("wasm64",)
        return ("wasm32",)

    @property
    def needed(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.dylink.needed)) if self.dylink else ()

    @property
    def is_side_module(self) -> bool:
        return self.dylink is not None

    @property
    def pyinit_exports(self) -> tuple[str, ...]:
        return tuple(
            e.name for e in self.exports if e.kind == "func" and e.name.startswith("PyInit_")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "architectures": list(self.architectures),
            "needed": list(self.needed),
            "is_side_module": self.is_side_module,
            "sections": [
                {"id": s.id, "name": s.name, "offset": s.offset, "size": s.size}
                for s in self.sections
            ],
            "dylink": self.dylink.to_json() if self.dylink else None,
            "imports": [i.to_json() for i in self.imports],
            "exports": [{"name": e.name, "kind": e.kind} for e in self.exports],
            "memories": [m.to_json() for m in self.memories],
            "pyinit_exports": list(self.pyinit_exports),
        }


class _Reader:
    """A cursor confined to ``[pos, end)``: every read is checked, so nothing indexes past it."""

    __slots__ = ("end", "pos", "view")

    def __init__(self, view: memoryview, pos: int, end: int) -> None:
        self.view = view
        self.pos = pos
        self.end = end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise WasmError(f"unexpected end of data at offset 0x{self.pos:x}")
        value = self.view[self.pos]
        self.pos += 1
        return value

    def uleb(self, bits: int = 32) -> int:
        """An unsigned LEB128 of at most ``ceil(bits / 7)`` bytes whose value fits ``bits``."""
        start = self.pos
        if start < self.end and self.view[start] < 0x80:  # the common one-byte case, inline
            self.pos += 1
            return self.view[start]
        result = 0
        for shift in range(0, bits, 7):
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if result >> bits:
                    raise WasmError(f"LEB128 at offset 0x{start:x} overflows u{bits}")
                return result
        raise WasmError(f"LEB128 at offset 0x{start:x} is longer than u{bits} allows")

    def skip_sleb33(self) -> None:
        """Skip a signed 33-bit LEB128 (a heap type) of at most 5 bytes."""
        start = self.pos
        for _ in range(5):
            if not self.byte() & 0x80:
                return
        raise WasmError(f"LEB128 at offset 0x{start:x} is longer than s33 allows")

    def skip(self, size: int, what: str) -> int:
        """Skip the next ``size`` bytes, which must all be there; return where they start."""
        start = self.pos
        if size > self.end - start:
            raise WasmError(
                f"{what} at offset 0x{start:x} claims {size} bytes, only {self.end - start} remain"
            )
        self.pos = start + size
        return start

    def sub(self, size: int, what: str) -> _Reader:
        """A reader over the next ``size`` bytes, which this reader then skips."""
        start = self.skip(size, what)
        return _Reader(self.view, start, self.pos)

    def name(self) -> str:
        start = self.skip(self.uleb(), "name")
        try:
            return str(self.view[start : self.pos], "utf-8")
        except UnicodeDecodeError:
            raise WasmError(f"name at offset 0x{start:x} is not valid UTF-8") from None

    def count(self, what: str) -> int:
        """A vector length; each element takes at least one byte, so it cannot exceed the rest."""
        start = self.pos
        count = self.uleb()
        if count > self.end - self.pos:
            raise WasmError(f"{what} count {count} at offset 0x{start:x} exceeds its section")
        return count

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise WasmError(f"{what} ends at 0x{self.pos:x}, but its size says 0x{self.end:x}")


def parse_wasm(data: ReadableBuffer) -> WasmModule:
    """Parse a WebAssembly binary module (version 1) from memory."""
    with memoryview(data) as raw, raw.cast("B") as view:
        return _parse(view)


def _parse(view: memoryview) -> WasmModule:
    if len(view) < 8 or view[:4] != _MAGIC:
        raise WasmError("not a WebAssembly module: no \\0asm magic")
    version, layer = struct.unpack_from("<HH", view, 4)
    if layer != 0:
        raise WasmError(f"a WebAssembly component (layer {layer}), not a core module")
    if version != 1:
        raise WasmError(f"unsupported WebAssembly version {version} (expected 1)")

    sections: list[WasmSection] = []
    seen: set[int] = set()
    dylink: DylinkInfo | None = None
    imports: tuple[WasmImport, ...] = ()
    exports: tuple[WasmExport, ...] = ()
    memories: tuple[WasmLimits, ...] = ()
    cursor = _Reader(view, 8, len(view))
    while cursor.pos < cursor.end:
        header = cursor.pos
        section_id = cursor.byte()
        if section_id >= len(_SECTION_NAMES):
            raise WasmError(f"unknown section id {section_id} at offset 0x{header:x}")
        payload = cursor.sub(cursor.uleb(), f"section {section_id}")
        if section_id == _SECTION_CUSTOM:
            name = payload.name()
        elif section_id in seen:
            raise WasmError(f"duplicate {_SECTION_NAMES[section_id]} section at 0x{header:x}")
        else:
            seen.add(section_id)
            name = _SECTION_NAMES[section_id]
        sections.append(WasmSection(section_id, name, payload.pos, payload.end - payload.pos))
        if section_id == _SECTION_CUSTOM and len(sections) == 1 and name == _DYLINK0:
            dylink = _dylink0(payload)
        elif section_id == _SECTION_CUSTOM and len(sections) == 1 and name == _DYLINK_LEGACY:
            dylink = _dylink_legacy(payload)
        elif section_id == _SECTION_IMPORT:
            imports = _imports(payload)
        elif section_id == _SECTION_MEMORY:
            memories = tuple(_limits(payload) for _ in range(payload.count("memory")))
            payload.expect_end("memory section")
        elif section_id == _SECTION_EXPORT:
            exports = _exports(payload)
    return WasmModule(tuple(sections), dylink, imports, exports, memories)


def _limits(r: _Reader) -> WasmLimits:
    start = r.pos
    flags = r.byte()
    if flags & ~_LIMITS_KNOWN:
        raise WasmError(f"unknown limits flags 0x{flags:02x} at offset 0x{start:x}")
    bits = 64 if flags & _LIMITS_64 else 32
    minimum = r.uleb(bits)
    maximum = r.uleb(bits) if flags & _LIMITS_HAS_MAX else None
    if flags & _LIMITS_PAGE_SIZE:
        r.uleb()  # log2 of the custom page size; the audit does not need it
    return WasmLimits(flags, minimum, maximum)


def _skip_value_type(r: _Reader) -> None:
    """Skip a value or reference type: one byte, or a ref prefix and a heap type."""
    if r.byte() in _REF_WITH_HEAP_TYPE:
        r.skip_sleb33()


def _imports(r: _Reader) -> tuple[WasmImport, ...]:
    imports = []
    for _ in range(r.count("import")):
        module = r.name()
        field = r.name()
        kind_at = r.pos
        kind = r.byte()
        limits = None
        if kind == _KIND_FUNC:
            r.uleb()
        elif kind == _KIND_TABLE:
            _skip_value_type(r)
            limits = _limits(r)
        elif kind == _KIND_MEMORY:
            limits = _limits(r)
        elif kind == _KIND_GLOBAL:
            _skip_value_type(r)
            r.byte()  # mutability
        elif kind == _KIND_TAG:
            r.byte()  # attribute
            r.uleb()
        else:
            raise WasmError(f"unknown import kind {kind} at offset 0x{kind_at:x}")
        imports.append(WasmImport(module, field, _EXTERN_KINDS[kind], limits))
    r.expect_end("import section")
    return tuple(imports)


def _exports(r: _Reader) -> tuple[WasmExport, ...]:
    exports = []
    for _ in range(r.count("export")):
        name = r.name()
        kind_at = r.pos
        kind = r.byte()
        if kind >= len(_EXTERN_KINDS):
            raise WasmError(f"unknown export kind {kind} at offset 0x{kind_at:x}")
        r.uleb()
        exports.append(WasmExport(name, _EXTERN_KINDS[kind]))
    r.expect_end("export section")
    return tuple(exports)


def _strings(r: _Reader) -> tuple[str, ...]:
    return tuple(r.name() for _ in range(r.count("needed library")))


def _dylink0(r: _Reader) -> DylinkInfo:
    """The ``dylink.0`` subsections (tool-conventions DynamicLinking.md); unknown ones skipped."""
    mem_info = (0, 0, 0, 0)
    needed: list[str] = []
    export_info: list[DylinkExportInfo] = []
    import_info: list[DylinkImportInfo] = []
    runtime_path: tuple[str, ...] = ()
    while r.pos < r.end:
        kind = r.byte()
        sub = r.sub(r.uleb(), f"dylink.0 subsection {kind}")
        if kind == _DYLINK_MEM_INFO:
            mem_info = (sub.uleb(), sub.uleb(), sub.uleb(), sub.uleb())
        elif kind == _DYLINK_NEEDED:
            needed.extend(_strings(sub))
        elif kind == _DYLINK_EXPORT_INFO:
            for _ in range(sub.count("export info")):
                export_info.append(DylinkExportInfo(sub.name(), sub.uleb()))
        elif kind == _DYLINK_IMPORT_INFO:
            for _ in range(sub.count("import info")):
                import_info.append(DylinkImportInfo(sub.name(), sub.name(), sub.uleb()))
        elif kind == _DYLINK_RUNTIME_PATH:
            runtime_path = _strings(sub)
        else:
            continue
        sub.expect_end(f"dylink.0 subsection {kind}")
    return DylinkInfo(
        *mem_info, tuple(needed), tuple(export_info), tuple(import_info), runtime_path
    )


def _dylink_legacy(r: _Reader) -> DylinkInfo:
    """The layout older Emscripten releases wrote before ``dylink.0``: mem/table info, needed."""
    info = DylinkInfo(r.uleb(), r.uleb(), r.uleb(), r.uleb(), _strings(r))
    r.expect_end("dylink section")
    return info
