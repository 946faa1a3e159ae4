"""The PE/COFF reader on DLLs built with MinGW-w64 gcc and with clang-14 + lld-link-14.

Expected values were read off ``x86_64-w64-mingw32-objdump -p`` (MinGW builds) and
``llvm-readobj-14 --file-headers --coff-imports --coff-exports --coff-load-config``
(all builds); the import and export lists are also compared with llvm-readobj-14 in
the test itself. Inputs no toolchain here emits (an old VA-based delay descriptor,
broken RVAs, truncations) are derived from the real builds by patching a few bytes.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import (
    FUZZ_SETTINGS,
    INTERESTING_WORDS,
    assert_buffer_kinds_agree,
    mutate,
    mutations,
    positions_in,
)
from omniwheel.binaries.base import BinaryParseError
from omniwheel.binaries.pe import PeError, PeFile, parse_pe

MINGW64 = "x86_64-w64-mingw32-gcc"
MINGW64_DLLTOOL = "x86_64-w64-mingw32-dlltool"
MINGW32 = "i686-w64-mingw32-gcc"
CLANG = "clang-14"
LLD_LINK = "lld-link-14"
DLLTOOL = "llvm-dlltool-14"
READOBJ = "llvm-readobj-14"

BAR_C = "__declspec(dllexport) int bar_value(int x) { return x * 7; }\n"
# Beep comes from an import library that spells the DLL "kernel32.dll": GNU ld then emits
# a second descriptor next to libkernel32's "KERNEL32.dll".
MINGW_FOO_C = """
#include <windows.h>
#include <stdio.h>
__declspec(dllimport) int bar_value(int);
typedef struct PyObject PyObject;
__declspec(dllexport) PyObject *PyInit_foo(void) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", bar_value(3));
    Beep(440, 1);
    return (PyObject *)GetProcAddress(GetModuleHandleA(buf), "x");
}
"""
# No CRT (-nostdlib): a stand-in __delayLoadHelper2 lets lld-link build the delay table.
LLD_FOO_C = """
__declspec(dllimport) int bar_value(int);
__declspec(dllimport) unsigned long GetLastError(void);
__declspec(dllimport) void Sleep(unsigned long);
typedef struct PyObject PyObject;
__declspec(dllexport) PyObject *PyInit_foo(void) {
    Sleep(1);
    return (PyObject *)(long long)(bar_value(3) + GetLastError());
}
__declspec(dllexport) int helper(void) { return 1; }
void *__delayLoadHelper2(void *descriptor, void *slot) { (void)descriptor; return slot; }
"""
# lld-link points the load-config directory at _load_config_used. Setting its
# CHPEMetadataPointer (offset 200 of IMAGE_LOAD_CONFIG_DIRECTORY64) is what marks an
# AMD64-machine image as ARM64EC; lld-link-14 cannot link real ARM64EC code.
EC_C = """
typedef struct {
    unsigned int size;
    unsigned int fields[49];
    const void *chpe_metadata;
    unsigned long long tail[8];
} load_config;
static const unsigned int chpe_metadata[4] = {1, 0, 0, 0};
const load_config _load_config_used = {sizeof(load_config), {0}, chpe_metadata, {0}};
__declspec(dllexport) int PyInit_ec(void) { return 0; }
"""
BAR_DEF = "LIBRARY bar.dll\nEXPORTS\n  bar_value\n"
KERNEL32_DEF = "LIBRARY KERNEL32.dll\nEXPORTS\n  GetLastError\n  Sleep\n"
BEEP_DEF = "LIBRARY kernel32.dll\nEXPORTS\n  Beep\n"
# Output name -> (clang target, llvm-dlltool machine) for the lld-link builds.
LLD_TARGETS = {
    "foo_arm64.pyd": ("aarch64-pc-windows-msvc", "arm64"),
    "foo_x64.pyd": ("x86_64-pc-windows-msvc", "i386:x86-64"),
    "foo_arm32.pyd": ("thumbv7-pc-windows-msvc", "arm"),
}

Built = dict[str, Path]


def _run(*args: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd
    )
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def _need(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"toolchain missing: {', '.join(missing)}")


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (directory / name).write_text(text)


@pytest.fixture(scope="session")
def mingw64(tmp_path_factory: pytest.TempPathFactory) -> Built:
    _need(MINGW64, MINGW64_DLLTOOL)
    out = tmp_path_factory.mktemp("mingw64")
    _write(out, {"bar.c": BAR_C, "foo.c": MINGW_FOO_C, "beep.def": BEEP_DEF})
    _run(MINGW64, "-O2", "-s", "-shared", "bar.c", "-o", "bar.dll",
         "-Wl,--out-implib,libbar.dll.a", cwd=out)  # fmt: skip
    _run(MINGW64_DLLTOOL, "-d", "beep.def", "-l", "libbeep.a", cwd=out)
    _run(MINGW64, "-O2", "-s", "-shared", "foo.c", "-o", "foo.cp312-win_amd64.pyd",
         "-L.", "-lbar", "libbeep.a", cwd=out)  # fmt: skip
    return {p.name: p for p in out.iterdir() if p.suffix in (".dll", ".pyd")}


@pytest.fixture(scope="session")
def mingw32(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """i686 builds; Debian package gcc-mingw-w64-i686."""
    _need(MINGW32)
    out = tmp_path_factory.mktemp("mingw32")
    _write(out, {"bar.c": BAR_C, "foo.c": MINGW_FOO_C.replace("Beep(440, 1);", "")})
    _run(MINGW32, "-O2", "-s", "-shared", "bar.c", "-o", "bar.dll",
         "-Wl,--out-implib,libbar.dll.a", cwd=out)  # fmt: skip
    _run(MINGW32, "-O2", "-s", "-shared", "foo.c", "-o", "foo.cp312-win32.pyd",
         "-L.", "-lbar", cwd=out)  # fmt: skip
    return {p.name: p for p in out.iterdir() if p.suffix in (".dll", ".pyd")}


@pytest.fixture(scope="session")
def lld(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """ARM64, x64 and ARM32 DLLs with a delay-loaded bar.dll, plus the ARM64EC stand-in."""
    _need(CLANG, LLD_LINK, DLLTOOL)
    out = tmp_path_factory.mktemp("lld")
    _write(out, {"foo.c": LLD_FOO_C, "ec.c": EC_C, "bar.def": BAR_DEF, "k32.def": KERNEL32_DEF})
    for output, (target, machine) in LLD_TARGETS.items():
        libs = []
        for definition in ("bar", "k32"):
            lib = f"{definition}_{target}.lib"
            _run(DLLTOOL, "-m", machine, "-d", f"{definition}.def", "-l", lib, cwd=out)
            libs.append(lib)
        _run(CLANG, "-target", target, "-fuse-ld=lld", "-nostdlib", "-O2", "-shared", "foo.c",
             *libs, "-Wl,/noentry", "-Wl,/delayload:bar.dll", "-o", output, cwd=out)  # fmt: skip
    _run(CLANG, "-target", "x86_64-pc-windows-msvc", "-fuse-ld=lld", "-nostdlib", "-O2",
         "-shared", "ec.c", "-Wl,/noentry", "-o", "ec.dll", cwd=out)  # fmt: skip
    return {p.name: p for p in out.iterdir() if p.suffix in (".dll", ".pyd")}


def _parse(path: Path) -> PeFile:
    return parse_pe(path.read_bytes())


# --- real builds --------------------------------------------------------------------------------


@pytest.mark.toolchain
def test_mingw_x86_64_extension(mingw64: Built) -> None:
    pe = _parse(mingw64["foo.cp312-win_amd64.pyd"])
    # objdump -p: "Magic 020b (PE32+)", "Subsystem 00000003 (Windows CUI)", DLL flag set.
    assert pe.format == "pe"
    assert pe.machine == 0x8664
    assert pe.architectures == ("amd64",)
    assert pe.is_pe32_plus
    assert pe.is_dll
    assert pe.subsystem == 3
    assert pe.subsystem_version == (5, 2)
    # objdump -p "DLL Name:" lines, in order; the lower-case kernel32.dll is a second
    # descriptor, so ``needed`` folds it into the first spelling.
    assert pe.imports == ("bar.dll", "KERNEL32.dll", "msvcrt.dll", "kernel32.dll")
    assert pe.delay_imports == ()
    assert pe.needed == ("bar.dll", "KERNEL32.dll", "msvcrt.dll")
    assert pe.export_dll_name == "foo.cp312-win_amd64.pyd"
    assert pe.exports == ("PyInit_foo",)
    assert pe.pyinit_exports == ("PyInit_foo",)
    assert [s.name for s in pe.sections][:3] == [".text", ".data", ".rdata"]


@pytest.mark.toolchain
def test_mingw_dependency_dll(mingw64: Built) -> None:
    pe = _parse(mingw64["bar.dll"])
    assert pe.exports == ("bar_value",)
    assert pe.pyinit_exports == ()
    assert pe.needed == ("KERNEL32.dll", "msvcrt.dll")


@pytest.mark.toolchain
def test_mingw_i686_extension(mingw32: Built) -> None:
    pe = _parse(mingw32["foo.cp312-win32.pyd"])
    # objdump -p: "Magic 010b (PE32)", "Characteristics 0x230e" (32-bit machine, DLL).
    assert pe.machine == 0x14C
    assert pe.architectures == ("win32",)
    assert not pe.is_pe32_plus
    assert pe.characteristics == 0x230E
    assert pe.is_dll
    assert pe.needed == ("bar.dll", "KERNEL32.dll", "msvcrt.dll")
    assert pe.exports == ("PyInit_foo",)


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("name", "machine", "architecture", "pe32_plus"),
    [
        ("foo_arm64.pyd", 0xAA64, "arm64", True),
        ("foo_x64.pyd", 0x8664, "amd64", True),
        ("foo_arm32.pyd", 0x1C4, "arm32", False),
    ],
)
def test_lld_link_extensions_with_delay_load(
    lld: Built, name: str, machine: int, architecture: str, pe32_plus: bool
) -> None:
    pe = _parse(lld[name])
    # llvm-readobj-14: Import KERNEL32.dll, DelayImport bar.dll (Attributes 0x1),
    # exports PyInit_foo and helper, Subsystem IMAGE_SUBSYSTEM_WINDOWS_GUI (0x2).
    assert pe.machine == machine
    assert pe.architectures == (architecture,)
    assert pe.is_pe32_plus is pe32_plus
    assert pe.is_dll
    assert pe.subsystem == 2
    assert pe.imports == ("KERNEL32.dll",)
    assert pe.delay_imports == ("bar.dll",)
    assert pe.needed == ("KERNEL32.dll", "bar.dll")
    assert pe.exports == ("PyInit_foo", "helper")
    assert pe.pyinit_exports == ("PyInit_foo",)
    assert pe.export_dll_name == name
    # llvm-readobj-14: ImageBase 0x180000000 (64-bit) / 0x10000000 (32-bit).
    assert pe.image_base == (0x180000000 if pe32_plus else 0x10000000)


@pytest.mark.toolchain
def test_chpe_metadata_marks_arm64ec(lld: Built) -> None:
    pe = _parse(lld["ec.dll"])
    # llvm-readobj-14 --coff-load-config: Size 0x110, CHPEMetadataPointer 0x180002000.
    assert pe.machine == 0x8664
    assert pe.has_chpe_metadata
    assert pe.architectures == ("arm64ec",)
    assert pe.pyinit_exports == ("PyInit_ec",)
    assert pe.needed == ()


def _readobj(path: Path) -> tuple[list[str], list[str], list[str]]:
    """Imported, delay-imported and exported names as llvm-readobj-14 lists them."""
    _need(READOBJ)
    imports: list[str] = []
    delay: list[str] = []
    exports: list[str] = []
    block: list[str] | None = None
    text = _run(READOBJ, "--coff-imports", "--coff-exports", path)
    for line in text.splitlines():
        if line in ("Import {", "DelayImport {", "Export {"):
            block = {"Import {": imports, "DelayImport {": delay, "Export {": exports}[line]
        elif line.startswith("  Name: ") and block is not None and line[8:]:
            block.append(line[8:])
    return imports, delay, exports


@pytest.mark.toolchain
@pytest.mark.parametrize("name", [*LLD_TARGETS, "ec.dll"])
def test_lld_builds_match_llvm_readobj(lld: Built, name: str) -> None:
    pe = _parse(lld[name])
    assert (list(pe.imports), list(pe.delay_imports), list(pe.exports)) == _readobj(lld[name])


@pytest.mark.toolchain
@pytest.mark.parametrize("name", ["bar.dll", "foo.cp312-win_amd64.pyd"])
def test_mingw_builds_match_llvm_readobj(mingw64: Built, name: str) -> None:
    pe = _parse(mingw64[name])
    assert (list(pe.imports), list(pe.delay_imports), list(pe.exports)) == _readobj(mingw64[name])


@pytest.mark.toolchain
def test_mmap_and_memoryview_inputs(lld: Built) -> None:
    assert_buffer_kinds_agree(parse_pe, lld["foo_arm64.pyd"])


@pytest.mark.toolchain
def test_to_json(lld: Built) -> None:
    document = json.loads(json.dumps(_parse(lld["foo_arm64.pyd"]).to_json()))
    assert document["format"] == "pe"
    assert document["architectures"] == ["arm64"]
    assert document["needed"] == ["KERNEL32.dll", "bar.dll"]
    assert document["machine"] == 0xAA64
    assert document["pe32_plus"] is True
    assert document["is_dll"] is True
    assert document["delay_imports"] == ["bar.dll"]
    assert document["pyinit_exports"] == ["PyInit_foo"]
    # llvm-readobj-14: DelayImportDescriptorRVA 0x2000, DelayImportDescriptorSize 0x40.
    assert document["data_directories"]["delay_import"] == {"rva": 0x2000, "size": 0x40}
    assert "resource" not in document["data_directories"]


# --- patched builds -----------------------------------------------------------------------------


def _pe_offsets(data: bytes | bytearray) -> tuple[int, int]:
    """(COFF header offset, data-directory array offset), from the spec's fixed layout."""
    (e_lfanew,) = struct.unpack_from("<I", data, 0x3C)
    (magic,) = struct.unpack_from("<H", data, e_lfanew + 24)
    return e_lfanew + 4, e_lfanew + 24 + (112 if magic == 0x20B else 96)


def _patched_directory(path: Path, index: int, rva: int) -> bytearray:
    data = bytearray(path.read_bytes())
    _, directories = _pe_offsets(data)
    struct.pack_into("<I", data, directories + 8 * index, rva)
    return data


@pytest.mark.toolchain
def test_va_based_delay_descriptor(lld: Built) -> None:
    """Old (VC6) delay descriptors hold VAs and leave attribute bit 0 clear."""
    pe = _parse(lld["foo_arm32.pyd"])
    data = bytearray(lld["foo_arm32.pyd"].read_bytes())
    descriptor_rva = pe.data_directories[13].rva
    section = next(
        s for s in pe.sections if 0 <= descriptor_rva - s.virtual_address < s.virtual_size
    )
    offset = section.raw_offset + descriptor_rva - section.virtual_address
    attributes, name_rva = struct.unpack_from("<II", data, offset)
    assert attributes == 1
    struct.pack_into("<II", data, offset, 0, name_rva + pe.image_base)
    assert parse_pe(data).delay_imports == ("bar.dll",)


@pytest.mark.toolchain
def test_unknown_machine_is_named_by_number(lld: Built) -> None:
    data = bytearray(lld["foo_arm64.pyd"].read_bytes())
    coff, _ = _pe_offsets(data)
    struct.pack_into("<H", data, coff, 0x5064)  # RISC-V 64
    assert parse_pe(data).architectures == ("machine_0x5064",)


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("index", "rva", "message"),
    [
        (1, 0x7FFF0000, "RVA 0x7fff0000 is in no section"),
        (13, 0x7FFF0000, "RVA 0x7fff0000 is in no section"),
        (0, 0x7FFF0000, "RVA 0x7fff0000 is in no section"),
        # .bss (objdump -h: VMA image base + 0xc000, ALLOC without CONTENTS) exists only in memory.
        (1, 0xC000, "RVA 0xc000 lies in a part of .bss the file lacks"),
    ],
)
def test_bogus_directory_rvas(mingw64: Built, index: int, rva: int, message: str) -> None:
    with pytest.raises(PeError, match=message):
        parse_pe(_patched_directory(mingw64["foo.cp312-win_amd64.pyd"], index, rva))


@pytest.mark.toolchain
def test_bogus_export_name_table(mingw64: Built) -> None:
    path = mingw64["bar.dll"]
    pe = _parse(path)
    data = bytearray(path.read_bytes())
    export = next(s for s in pe.sections if s.name == ".edata")
    struct.pack_into("<I", data, export.raw_offset + 32, 0x7FFF0000)  # AddressOfNames
    with pytest.raises(PeError, match="RVA 0x7fff0000 is in no section"):
        parse_pe(data)
    struct.pack_into("<I", data, export.raw_offset + 24, 0x00FFFFFF)  # NumberOfNames
    struct.pack_into("<I", data, export.raw_offset + 32, export.virtual_address)
    with pytest.raises(PeError, match="16777215 export name pointers"):
        parse_pe(data)


@pytest.mark.toolchain
def test_unknown_optional_header_magic(lld: Built) -> None:
    data = bytearray(lld["foo_arm64.pyd"].read_bytes())
    coff, _ = _pe_offsets(data)
    struct.pack_into("<H", data, coff + 20, 0x107)  # ROM image
    with pytest.raises(PeError, match="unknown optional header magic 0x107"):
        parse_pe(data)


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (0x3C, "no MZ header"),
        (0x7A, "without a PE signature"),  # e_lfanew is 0x78 in lld-link output
        (0x78 + 12, "COFF header"),
        (0x78 + 60, "optional header"),
        (0x78 + 24 + 240 + 20, "section headers"),
        # Headers only: the export directory (first read, RVA 0x2064) has no file bytes left.
        (0x400, "RVA 0x2064 lies in a part of .rdata the file lacks"),
    ],
)
def test_truncated_images(lld: Built, cut: int, message: str) -> None:
    data = lld["foo_arm64.pyd"].read_bytes()
    # llvm-readobj-14: AddressOfNewExeHeader 120, OptionalHeaderSize 240, SizeOfHeaders 1024.
    assert struct.unpack_from("<I", data, 0x3C) == (0x78,)
    with pytest.raises(PeError, match=message):
        parse_pe(data[:cut])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no MZ header"),
        (b"\x7fELF" + bytes(60), "no MZ header"),
        (b"MZ" + bytes(62), "without a PE signature at e_lfanew 0x0"),
        (b"MZ" + bytes(58) + struct.pack("<I", 0xFFFFFFF0), "without a PE signature"),
        (b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\0\0" + bytes(8), "COFF header"),
    ],
)
def test_not_pe(data: bytes, message: str) -> None:
    with pytest.raises(PeError, match=message):
        parse_pe(data)


# --- fuzz ---------------------------------------------------------------------------------------

FUZZED = ["foo_arm64.pyd", "foo_arm32.pyd", "ec.dll", "foo.cp312-win_amd64.pyd"]
# PE is little-endian only; 0x1000 is the usual section alignment.
WORDS = (*INTERESTING_WORDS, 0x1000)


def _hot_ranges(data: bytes) -> list[range]:
    """The headers, the sections holding imports/exports/load config, and the whole file."""
    pe = parse_pe(data)
    wanted = {0, 1, 10, 13}
    rvas = [d.rva for i, d in enumerate(pe.data_directories) if i in wanted and d.rva]
    hot = [range(0, min(len(data), 0x400)), range(len(data))]
    for s in pe.sections:
        if s.raw_size and any(0 <= rva - s.virtual_address < s.raw_size for rva in rvas):
            hot.append(range(s.raw_offset, s.raw_offset + s.raw_size))
    return hot


@pytest.fixture(scope="session")
def fuzz_inputs(lld: Built, mingw64: Built) -> dict[str, tuple[bytes, list[range]]]:
    built = {**lld, **mingw64}
    return {
        name: (data, _hot_ranges(data)) for name in FUZZED for data in [built[name].read_bytes()]
    }


@pytest.mark.toolchain
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_mutated_images_raise_only_pe_error(
    fuzz_inputs: dict[str, tuple[bytes, list[range]]], data: st.DataObject
) -> None:
    original, hot = fuzz_inputs[data.draw(st.sampled_from(FUZZED))]
    # Most edits land in the headers or the directories, where the reader looks.
    edits = mutations(positions_in(*hot), words=WORDS, byte_orders=("<I",))
    try:
        parse_pe(mutate(data, original, edits))
    except BinaryParseError as error:
        assert isinstance(error, PeError)
