"""The WebAssembly reader on modules built with emcc 3.1.6 and clang-14, and on hand-made ones.

Expected values were read off ``wasm-objdump -x`` (wabt 1.0.32) for the same builds;
section names and sizes are also compared with ``llvm-objdump-14 -h`` in the test
itself. Layouts no installed toolchain emits (a defined 64-bit memory, the legacy
``dylink`` section, table/tag imports, odd LEB128 encodings) are assembled byte by
byte below; the valid ones were checked with ``wasm-objdump -x`` as well.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import FUZZ_SETTINGS, assert_buffer_kinds_agree, mutate, mutations, positions_in
from omniwheel.binaries.base import BinaryParseError
from omniwheel.binaries.wasm import (
    DylinkExportInfo,
    DylinkImportInfo,
    DylinkInfo,
    WasmError,
    WasmExport,
    WasmImport,
    WasmLimits,
    WasmModule,
    parse_wasm,
)

EMCC = "emcc"
CLANG = "clang-14"
WASM_LD = "wasm-ld-14"
OBJDUMP = "llvm-objdump-14"
EMCC_FLAGS = ("-O2", "-sWASM_BIGINT", "-DNDEBUG")

BAR_C = """
#include <emscripten.h>
int counter[16];
EMSCRIPTEN_KEEPALIVE int bar_value(int x) { counter[x & 15]++; return x * 7 + counter[0]; }
"""
# Exported the way an extension's link line does it: only PyInit_foo, not foo_helper.
FOO_C = """
extern int bar_value(int);
typedef struct PyObject PyObject;
__attribute__((noinline)) int foo_helper(int x) { return bar_value(x) + 1; }
PyObject *PyInit_foo(void) { return (PyObject *)(long)foo_helper(3); }
"""
# A thread-local export and a weak import: dylink.0 gets EXPORT_INFO and IMPORT_INFO.
TLS_C = """
#include <emscripten.h>
_Thread_local int tls_counter = 5;
extern int maybe_there(void) __attribute__((weak));
EMSCRIPTEN_KEEPALIVE int bump(void) { return ++tls_counter + (maybe_there ? maybe_there() : 0); }
"""
MAIN_C = """
#include <stdio.h>
int main(void) { puts("hi"); return 0; }
"""
WASM64_C = """
int data64[4];
__attribute__((export_name("get"))) int get(int i) { return data64[i & 3]; }
"""

Built = dict[str, Path]


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd
    )
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def emcc_built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Side modules, one needing another, and a standalone (non-side) module.

    Debian's emcc runs with FROZEN_CACHE and its prebuilt cache, so EM_CACHE is left
    alone: pointing it at an empty directory makes emcc 3.1.6 refuse to build.
    """
    if shutil.which(EMCC) is None:
        pytest.skip(f"{EMCC} not installed")
    out = tmp_path_factory.mktemp("wasm")
    for name, source in {"bar.c": BAR_C, "foo.c": FOO_C, "tls.c": TLS_C, "main.c": MAIN_C}.items():
        (out / name).write_text(source)
    _run(EMCC, "-sSIDE_MODULE=1", *EMCC_FLAGS, "bar.c", "-o", "libbar.so", cwd=out)
    # SIDE_MODULE=1 exports everything; =2 honours EXPORTED_FUNCTIONS, as extensions use it.
    _run(
        EMCC,
        "-sSIDE_MODULE=2",
        "-sEXPORTED_FUNCTIONS=_PyInit_foo",
        *EMCC_FLAGS,
        "foo.c",
        "libbar.so",
        "-o",
        "foo.so",
        cwd=out,
    )
    _run(EMCC, "-sSIDE_MODULE=1", "-pthread", *EMCC_FLAGS, "tls.c", "-o", "tls.so", cwd=out)
    _run(EMCC, "-sSTANDALONE_WASM", *EMCC_FLAGS, "main.c", "-o", "main.wasm", cwd=out)
    return {p.stem: p for p in out.iterdir() if p.suffix in (".so", ".wasm")}


@pytest.fixture(scope="session")
def wasm64_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A memory64 module: clang-14 --target=wasm64 linked by wasm-ld-14, memory imported."""
    missing = [tool for tool in (CLANG, WASM_LD) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"wasm64 toolchain missing: {', '.join(missing)}")
    out = tmp_path_factory.mktemp("wasm64")
    (out / "m64.c").write_text(WASM64_C)
    target = out / "m64.wasm"
    _run(
        CLANG,
        "--target=wasm64-unknown-unknown",
        "-O2",
        "-nostdlib",
        "-Wl,--no-entry",
        "-Wl,--import-memory",
        out / "m64.c",
        "-o",
        target,
    )
    return target


def _parse(path: Path) -> WasmModule:
    return parse_wasm(path.read_bytes())


# --- real modules -------------------------------------------------------------------------------


@pytest.mark.toolchain
def test_side_module_needing_another(emcc_built: Built) -> None:
    module = _parse(emcc_built["foo"])
    assert module.format == "wasm"
    assert module.architectures == ("wasm32",)
    assert module.is_side_module
    assert [s.name for s in module.sections] == [
        "dylink.0",
        "type",
        "import",
        "function",
        "export",
        "code",
        "target_features",
    ]
    # wasm-objdump: mem_size 0, mem_p2align 0, table 0/0, needed_dynlibs[1]: libbar.so.
    assert module.dylink == DylinkInfo(needed=("libbar.so",))
    assert module.needed == ("libbar.so",)
    assert module.imports == (WasmImport("env", "bar_value", "func"),)
    assert module.exports == (
        WasmExport("__wasm_call_ctors", "func"),
        WasmExport("PyInit_foo", "func"),
    )
    assert module.pyinit_exports == ("PyInit_foo",)


@pytest.mark.toolchain
def test_side_module_with_data_and_imported_memory(emcc_built: Built) -> None:
    module = _parse(emcc_built["libbar"])
    assert module.is_side_module
    # wasm-objdump: mem_size 64, mem_p2align 4, no needed_dynlibs.
    assert module.dylink == DylinkInfo(memory_size=64, memory_alignment=4)
    assert module.needed == ()
    assert module.imports == (
        WasmImport("env", "__memory_base", "global"),
        WasmImport("GOT.mem", "counter", "global"),
        WasmImport("env", "memory", "memory", WasmLimits(flags=0, minimum=1, maximum=None)),
    )
    assert [(e.name, e.kind) for e in module.exports] == [
        ("__wasm_call_ctors", "func"),
        ("bar_value", "func"),
        ("counter", "global"),
    ]
    assert module.pyinit_exports == ()


@pytest.mark.toolchain
def test_dylink_export_and_import_info(emcc_built: Built) -> None:
    module = _parse(emcc_built["tls"])
    # wasm-objdump: exports[1] tls_counter [tls], imports[1] env.maybe_there [undefined weak].
    assert module.dylink == DylinkInfo(
        memory_size=4,
        memory_alignment=2,
        export_info=(DylinkExportInfo("tls_counter", 0x100),),
        import_info=(DylinkImportInfo("env", "maybe_there", 0x11),),
    )
    # -pthread: "memory[0] pages: initial=1 max=65536 shared <- env.memory".
    memory = next(i for i in module.imports if i.kind == "memory")
    assert memory == WasmImport("env", "memory", "memory", WasmLimits(3, 1, 65536))
    assert [s.name for s in module.sections][5:7] == ["export", "datacount"]


@pytest.mark.toolchain
def test_standalone_module_is_not_a_side_module(emcc_built: Built) -> None:
    module = _parse(emcc_built["main"])
    assert not module.is_side_module
    assert module.dylink is None
    assert module.needed == ()
    assert module.architectures == ("wasm32",)
    # wasm-objdump: "memory[0] pages: initial=256 max=256", WASI imports, _start exported.
    assert module.memories == (WasmLimits(1, 256, 256),)
    assert module.imports == (
        WasmImport("wasi_snapshot_preview1", "proc_exit", "func"),
        WasmImport("wasi_snapshot_preview1", "fd_write", "func"),
    )
    assert [e.name for e in module.exports] == [
        "memory",
        "__indirect_function_table",
        "_start",
        "__errno_location",
        "stackSave",
        "stackRestore",
        "stackAlloc",
    ]
    assert module.exports[0].kind == "memory"
    assert module.exports[1].kind == "table"


@pytest.mark.toolchain
def test_imported_64_bit_memory_makes_wasm64(wasm64_module: Path) -> None:
    module = _parse(wasm64_module)
    # wasm-objdump: "memory[0] pages: initial=2 i64 <- env.memory".
    assert module.imports == (WasmImport("env", "memory", "memory", WasmLimits(4, 2, None)),)
    assert module.architectures == ("wasm64",)
    assert module.exports == (WasmExport("get", "func"),)
    assert not module.is_side_module


def _objdump_sections(path: Path) -> list[tuple[str, int]]:
    """``llvm-objdump-14 -h``: rows ``Idx Name Size VMA [Type]``; standard names upper-case."""
    rows = []
    for line in _run(OBJDUMP, "-h", path).splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0].isdigit():
            rows.append((fields[1], int(fields[2], 16)))
    return rows


@pytest.mark.toolchain
@pytest.mark.parametrize("name", ["foo", "libbar", "tls", "main"])
def test_sections_match_llvm_objdump(emcc_built: Built, name: str) -> None:
    if shutil.which(OBJDUMP) is None:
        pytest.skip(f"{OBJDUMP} not installed")
    module = _parse(emcc_built[name])
    ours = [(s.name.upper() if s.id else s.name, s.size) for s in module.sections]
    theirs = [
        ("ELEMENT" if n == "ELEM" else n, size) for n, size in _objdump_sections(emcc_built[name])
    ]
    assert ours == theirs


@pytest.mark.toolchain
def test_mmap_and_memoryview_inputs(emcc_built: Built) -> None:
    assert_buffer_kinds_agree(parse_wasm, emcc_built["foo"])


@pytest.mark.toolchain
def test_to_json(emcc_built: Built) -> None:
    document = json.loads(json.dumps(_parse(emcc_built["foo"]).to_json()))
    assert document["format"] == "wasm"
    assert document["architectures"] == ["wasm32"]
    assert document["needed"] == ["libbar.so"]
    assert document["is_side_module"] is True
    assert document["pyinit_exports"] == ["PyInit_foo"]
    assert document["sections"][0] == {"id": 0, "name": "dylink.0", "offset": 19, "size": 19}
    assert document["dylink"]["needed"] == ["libbar.so"]
    assert document["imports"] == [
        {"module": "env", "field": "bar_value", "kind": "func", "limits": None}
    ]


# --- hand-made modules --------------------------------------------------------------------------


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def name(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return leb(len(raw)) + raw


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + leb(len(payload)) + payload


def custom(section_name: str | bytes, payload: bytes) -> bytes:
    return section(0, name(section_name) + payload)


def subsection(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + leb(len(payload)) + payload


def module(*sections: bytes) -> bytes:
    return b"\0asm\x01\0\0\0" + b"".join(sections)


DYLINK0 = (
    subsection(1, leb(5) + leb(1) + leb(3) + leb(2))
    + subsection(2, leb(2) + name("libfoo.so") + name("libbar.so"))
    + subsection(3, leb(1) + name("tls_x") + leb(0x100))
    + subsection(4, leb(1) + name("env") + name("weak_f") + leb(1))
)
# env.f func, env.tbl funcref 2..10, env.g mut i32, env.mem shared 1..16, env.ex tag.
IMPORTS = (
    leb(5)
    + name("env")
    + name("f")
    + b"\x00"
    + leb(0)
    + name("env")
    + name("tbl")
    + b"\x01\x70\x01"
    + leb(2)
    + leb(10)
    + name("env")
    + name("g")
    + b"\x03\x7f\x01"
    + name("env")
    + name("mem")
    + b"\x02\x03"
    + leb(1)
    + leb(16)
    + name("env")
    + name("ex")
    + b"\x04\x00"
    + leb(0)
)
FUNC_TYPE = section(1, leb(1) + b"\x60\x00\x00")


def test_all_dylink0_subsections() -> None:
    # wasm-objdump: mem_size 5, mem_p2align 1, table_size 3, table_p2align 2, needed
    # libfoo.so libbar.so, exports tls_x [tls], imports env.weak_f [binding=weak].
    parsed = parse_wasm(module(custom("dylink.0", DYLINK0 + subsection(0x7F, b"future"))))
    assert parsed.dylink == DylinkInfo(
        5,
        1,
        3,
        2,
        ("libfoo.so", "libbar.so"),
        (DylinkExportInfo("tls_x", 0x100),),
        (DylinkImportInfo("env", "weak_f", 1),),
    )
    assert parsed.needed == ("libfoo.so", "libbar.so")


def test_repeated_needed_library_is_listed_once() -> None:
    payload = subsection(2, leb(2) + name("libA.so") + name("libA.so"))
    parsed = parse_wasm(module(custom("dylink.0", payload)))
    assert parsed.dylink is not None
    assert parsed.dylink.needed == ("libA.so", "libA.so")
    assert parsed.needed == ("libA.so",)


def test_legacy_dylink_section() -> None:
    payload = leb(1024) + leb(3) + leb(2) + leb(0) + leb(2) + name("libA.so") + name("libB.so")
    parsed = parse_wasm(module(custom("dylink", payload), FUNC_TYPE))
    # wasm-objdump: mem_size 1024, mem_p2align 3, table_size 2, needed libA.so libB.so.
    assert parsed.is_side_module
    assert parsed.dylink == DylinkInfo(1024, 3, 2, 0, ("libA.so", "libB.so"))
    assert parsed.needed == ("libA.so", "libB.so")


def test_dylink_that_is_not_first_does_not_make_a_side_module() -> None:
    parsed = parse_wasm(module(FUNC_TYPE, custom("dylink.0", DYLINK0)))
    assert not parsed.is_side_module
    assert parsed.needed == ()
    assert [s.name for s in parsed.sections] == ["type", "dylink.0"]


def test_defined_64_bit_memory_makes_wasm64() -> None:
    # wasm-objdump: "memory[0] pages: initial=1 max=2 i64".
    parsed = parse_wasm(module(section(5, leb(1) + b"\x05" + leb(1) + leb(2))))
    assert parsed.memories == (WasmLimits(5, 1, 2),)
    assert parsed.memories[0].is_64
    assert parsed.architectures == ("wasm64",)


def test_memory64_limits_above_u32() -> None:
    parsed = parse_wasm(module(section(5, leb(1) + b"\x04" + leb(2**40))))
    assert parsed.memories == (WasmLimits(4, 2**40, None),)


def test_every_import_kind() -> None:
    # wasm-objdump: func env.f, table funcref initial=2 max=10, global i32 mutable,
    # memory initial=1 max=16 shared, tag env.ex.
    parsed = parse_wasm(module(FUNC_TYPE, section(2, IMPORTS)))
    assert parsed.imports == (
        WasmImport("env", "f", "func"),
        WasmImport("env", "tbl", "table", WasmLimits(1, 2, 10)),
        WasmImport("env", "g", "global"),
        WasmImport("env", "mem", "memory", WasmLimits(3, 1, 16)),
        WasmImport("env", "ex", "tag"),
    )
    assert parsed.architectures == ("wasm32",)


def test_reference_types_with_a_heap_type() -> None:
    # (ref null func) as 0x63 0x70 and (ref 0) as 0x64 0x00 (Wasm 3.0 encoding).
    imports = (
        leb(2)
        + name("env")
        + name("g")
        + b"\x03\x63\x70\x00"
        + name("env")
        + name("t")
        + b"\x01\x64\x00\x00"
        + leb(1)
    )
    parsed = parse_wasm(module(section(2, imports)))
    assert parsed.imports == (
        WasmImport("env", "g", "global"),
        WasmImport("env", "t", "table", WasmLimits(0, 1, None)),
    )


def test_padded_leb128_is_accepted() -> None:
    # wasm-ld pads section sizes to five bytes; 0x80 0x80 0x80 0x80 0x00 is still 0.
    parsed = parse_wasm(module(b"\x01\x81\x80\x80\x80\x00" + b"\x00"))
    assert [(s.name, s.size) for s in parsed.sections] == [("type", 1)]


def test_exports_filter_pyinit_functions() -> None:
    exports = (
        leb(3) + name("PyInit_a") + b"\x00\x00" + name("PyInit_g") + b"\x03\x00" + name("x")
    ) + b"\x00\x01"
    parsed = parse_wasm(module(section(7, exports)))
    assert parsed.pyinit_exports == ("PyInit_a",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no \\\\0asm magic"),
        (b"\0as", "no \\\\0asm magic"),
        (b"\x7fELF\x02\x01\x01\0", "no \\\\0asm magic"),
        (b"\0asm\x02\0\0\0", "unsupported WebAssembly version 2"),
        (b"\0asm\x0d\0\x01\0", "a WebAssembly component"),
        (module(b"\x01\x0a\x00\x00"), "claims 10 bytes, only 2 remain"),
        (module(b"\x01"), "unexpected end of data"),
        (module(b"\x01\x80\x80\x80\x80\x80\x00"), "longer than u32 allows"),
        (module(b"\x01\xff\xff\xff\xff\x1f"), "overflows u32"),
        (module(section(14, b"")), "unknown section id 14"),
        (module(FUNC_TYPE, FUNC_TYPE), "duplicate type section"),
        (module(custom(b"\xff\xfe", b"")), "not valid UTF-8"),
        (module(section(2, leb(1) + name("a") + name("b") + b"\x05")), "unknown import kind 5"),
        (module(section(7, leb(1) + name("a") + b"\x09\x00")), "unknown export kind 9"),
        (module(section(2, leb(1000) + name("a"))), "import count 1000 .* exceeds"),
        (module(section(2, leb(0) + b"\x00")), "import section ends at"),
        (module(section(5, leb(1) + b"\x10\x00")), "unknown limits flags 0x10"),
        (module(section(5, leb(1) + b"\x00\x80\x80\x80\x80\x80\x01")), "longer than u32"),
        (module(section(5, leb(1) + b"\x04" + b"\x80" * 10 + b"\x00")), "longer than u64"),
        (module(section(2, leb(1) + name("a") + name("b") + b"\x03\x63" + b"\x80" * 5)), "s33"),
        (module(custom("dylink.0", subsection(2, leb(3)))), "needed library count 3 .* exceeds"),
        (module(custom("dylink.0", subsection(2, leb(1) + leb(5) + b"a"))), "name at .* claims 5"),
        (module(custom("dylink.0", b"\x01\x20\x00")), "claims 32 bytes, only 1 remain"),
        (module(custom("dylink.0", subsection(1, leb(0) * 5))), "subsection 1 ends at"),
        (module(custom("dylink", leb(0) * 5 + b"\x00")), "dylink section ends at"),
    ],
)
def test_malformed_modules_raise_wasm_error(data: bytes, message: str) -> None:
    with pytest.raises(WasmError, match=message):
        parse_wasm(data)


# --- fuzz ---------------------------------------------------------------------------------------

FUZZED = ["foo", "libbar", "tls", "main"]
# Byte runs that stress LEB128 decoding: continuation chains, u32 overflow, zero, -1.
LEB_RUNS = (b"\x80" * 12, b"\xff\xff\xff\xff\x0f", b"\xff\xff\xff\xff\x7f", b"\x00", b"\x7f")


@pytest.fixture(scope="session")
def fuzz_inputs(emcc_built: Built) -> dict[str, bytes]:
    return {name: emcc_built[name].read_bytes() for name in FUZZED}


@pytest.mark.toolchain
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_mutated_modules_raise_only_wasm_error(
    fuzz_inputs: dict[str, bytes], data: st.DataObject
) -> None:
    original = fuzz_inputs[data.draw(st.sampled_from(FUZZED))]
    # No fixed-width words in WebAssembly: plant LEB128 runs instead.
    edits = mutations(positions_in(range(len(original))), words=(), snippets=LEB_RUNS)
    try:
        parse_wasm(mutate(data, original, edits))
    except BinaryParseError as error:
        assert isinstance(error, WasmError)
