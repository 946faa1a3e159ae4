"""The ELF reader on binaries built here with gcc/g++ and clang-14 + ld.lld-14, and on system files.

Every expected value below was checked with GNU readelf 2.40 and llvm-readelf-14 on the
files these fixtures build; ``test_agrees_with_readelf`` re-checks the dynamic facts of
every built and system file against ``readelf`` at run time.
"""

from __future__ import annotations

import functools
import json
import platform
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import FUZZ_SETTINGS, assert_buffer_kinds_agree, mutate, mutations, positions_in
from omniwheel.binaries.base import Binary
from omniwheel.binaries.elf import ElfError, ElfFile, parse_elf

LIB_C = """
#include <stdio.h>
#include <string.h>
int demo_answer(char *out, const char *in, unsigned n) {
    memcpy(out, in, n);
    return printf("%s\\n", out);
}
"""

CXX_CPP = """
#include <stdexcept>
#include <string>
std::string demo_greet(const std::string &name) {
    if (name.empty()) throw std::runtime_error("empty name");
    return "hello " + name;
}
"""

MAIN_C = """
#include <stdio.h>
int main(void) { puts("hi"); return 0; }
"""

# No headers, so it compiles for every target; PyInit_other stays undefined on purpose.
EXT_C = """
extern char *getenv(const char *name);
extern void *PyInit_other(void);
static int helper(const char *name) { return getenv(name) != 0; }
void *PyInit_foo(void) { return helper("FOO") ? PyInit_other() : 0; }
"""

NOLIBC_MAIN_C = """
extern char *getenv(const char *name);
int main(void) { return getenv("X") != 0; }
"""

# Stands in for a C library: gets the soname (and symbol version) the test needs.
STUB_C = "char *getenv(const char *name) { (void)name; return 0; }\n"
STUB_VERSIONS = "GLIBC_2.17 { global: getenv; local: *; };\n"

MULTI_INIT_COUNT = 40
MULTI_INIT_C = "".join(
    f"void *PyInit_m{i}(void) {{ return 0; }}\n" for i in range(MULTI_INIT_COUNT)
)

# The NDK's crtbrand layout: API level, then char ndk_version[64], char ndk_build[64].
ANDROID_NOTE_S = """
    .section .note.android.ident,"a",%note
    .balign 4
    .long 2f-1f
    .long 3f-2f
    .long 1
1:  .asciz "Android"
2:  .long 24
    .asciz "r26d"
    .fill 59,1,0
    .asciz "11394342"
    .fill 55,1,0
3:
"""

# triple -> (arch, elf_class, endianness, e_machine), per llvm-readelf-14 -h.
CROSS_TARGETS = {
    "x86_64-linux-gnu": ("x86_64", 64, "little", 62),
    "aarch64-linux-gnu": ("aarch64", 64, "little", 183),
    "armv7-linux-gnueabihf": ("armv7l", 32, "little", 40),
    "i686-linux-gnu": ("i686", 32, "little", 3),
    "riscv64-linux-gnu": ("riscv64", 64, "little", 243),
    "ppc64le-linux-gnu": ("ppc64le", 64, "little", 21),
    "powerpc64-linux-gnu": ("ppc64", 64, "big", 21),
}
HASH_STYLES = ("gnu", "sysv")

Builds = dict[str, Path]


def _run(*command: str | Path) -> None:
    args = [str(part) for part in command]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stderr}")


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def _sources(directory: Path) -> None:
    for name, text in {
        "lib.c": LIB_C,
        "cxx.cpp": CXX_CPP,
        "main.c": MAIN_C,
        "ext.c": EXT_C,
        "nolibc_main.c": NOLIBC_MAIN_C,
        "stub.c": STUB_C,
        "stub.map": STUB_VERSIONS,
        "multi.c": MULTI_INIT_C,
        "note.s": ANDROID_NOTE_S,
    }.items():
        (directory / name).write_text(text)


def _strip_sections(path: Path) -> Path:
    """Drop the section headers, as sstrip-like tools do; the loader never needs them."""
    stripped = path.with_name(f"{path.stem}_stripped{path.suffix}")
    _run("llvm-objcopy-14", "--strip-sections", path, stripped)
    return stripped


@pytest.fixture(scope="session")
def native(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """Host (x86_64 glibc) builds with gcc/g++; expected versions are x86_64 glibc's."""
    _require("gcc", "g++", "llvm-objcopy-14")
    if platform.machine() != "x86_64":
        pytest.skip("the expected symbol versions were taken on x86_64")
    d = tmp_path_factory.mktemp("elf-native")
    _sources(d)
    rpath = "-Wl,-rpath,$ORIGIN/../lib:/opt/demo"
    so = ["gcc", "-shared", "-fPIC"]
    out: Builds = {name: d / name for name in ("runpath.so", "rpath.so", "cxx.so", "pie", "exe")}
    _run(*so, "-o", out["runpath.so"], d / "lib.c", "-Wl,-soname,libdemo.so.1", rpath)
    _run(
        *so,
        "-o",
        out["rpath.so"],
        d / "lib.c",
        "-Wl,-soname,libdemo.so.1",
        rpath,
        "-Wl,--disable-new-dtags",
    )
    _run("g++", "-shared", "-fPIC", "-o", out["cxx.so"], d / "cxx.cpp")
    _run("gcc", "-o", out["pie"], d / "main.c")
    _run("gcc", "-no-pie", "-o", out["exe"], d / "main.c")
    for style in HASH_STYLES:
        for stem, source in (("ext", "ext.c"), ("multi", "multi.c")):
            path = d / f"{stem}_{style}.so"
            _run(*so, "-o", path, d / source, f"-Wl,--hash-style={style}")
            out[path.name] = path
            out[f"{stem}_{style}_stripped.so"] = _strip_sections(path)
    # musl: a stand-in C library with Alpine's soname, and an executable using musl's loader.
    musl = d / "libc.musl-x86_64.so.1"
    _run(*so, "-nostdlib", "-o", musl, d / "stub.c", "-Wl,-soname,libc.musl-x86_64.so.1")
    out["musl_ext.so"] = d / "musl_ext.so"
    _run(*so, "-nostdlib", "-o", out["musl_ext.so"], d / "ext.c", musl)
    out["musl_exe"] = d / "musl_exe"
    _run(
        "gcc",
        "-nostdlib",
        "-o",
        out["musl_exe"],
        d / "nolibc_main.c",
        musl,
        "-Wl,-e,main",
        "-Wl,--dynamic-linker=/lib/ld-musl-x86_64.so.1",
    )
    return out


@pytest.fixture(scope="session")
def cross(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """clang-14/ld.lld-14 builds for other targets, each against a stub libc.so.6."""
    _require("clang-14", "ld.lld-14", "llvm-objcopy-14")
    d = tmp_path_factory.mktemp("elf-cross")
    _sources(d)
    out: Builds = {}

    def link(triple: str, output: Path, *args: str | Path) -> Path:
        _run(
            "clang-14",
            "-target",
            triple,
            "-nostdlib",
            "-shared",
            "-fPIC",
            "-fuse-ld=lld",
            "-o",
            output,
            *args,
        )
        return output

    for triple in CROSS_TARGETS:
        stub = link(
            triple,
            d / f"{triple}-libc.so.6",
            d / "stub.c",
            "-Wl,-soname,libc.so.6",
            f"-Wl,--version-script={d / 'stub.map'}",
        )
        for style in HASH_STYLES:
            path = link(
                triple, d / f"{triple}_{style}.so", d / "ext.c", stub, f"-Wl,--hash-style={style}"
            )
            out[path.name] = path
            out[f"{triple}_{style}_stripped.so"] = _strip_sections(path)
    # ld.lld-14 cannot link s390x, so that one is a relocatable object.
    out["s390x.o"] = d / "s390x.o"
    _run("clang-14", "-target", "s390x-linux-gnu", "-c", "-fPIC", "-o", out["s390x.o"], d / "ext.c")

    android = "aarch64-linux-android24"
    stubs = d / "android-stubs"
    stubs.mkdir()
    for name in ("c", "m", "python3.13"):
        link(android, stubs / f"lib{name}.so", d / "stub.c", f"-Wl,-soname,lib{name}.so")
    libs = ("-L", stubs, "-lc", "-lm", "-lpython3.13")
    out["android.so"] = link(android, d / "android.so", d / "ext.c", d / "note.s", *libs)
    out["android_stripped.so"] = _strip_sections(out["android.so"])
    out["android_nonote.so"] = link(android, d / "android_nonote.so", d / "ext.c", *libs)
    out["android_note.o"] = d / "android_note.o"
    _run("clang-14", "-target", android, "-c", "-o", out["android_note.o"], d / "note.s")
    return out


def _parse(path: Path) -> ElfFile:
    return parse_elf(path.read_bytes())


# -- gcc builds (host) ----------------------------------------------------------------


@pytest.mark.toolchain
def test_shared_library_with_soname_and_runpath(native: Builds) -> None:
    elf = _parse(native["runpath.so"])
    assert (elf.format, elf.architectures, elf.arch, elf.e_machine) == (
        "elf",
        ("x86_64",),
        "x86_64",
        62,
    )
    assert (elf.elf_class, elf.endianness, elf.e_type, elf.osabi) == (64, "little", "dyn", "sysv")
    assert elf.soname == "libdemo.so.1"
    assert elf.needed == ("libc.so.6",)
    assert elf.runpath == ("$ORIGIN/../lib", "/opt/demo")
    assert elf.rpath == ()
    assert elf.interpreter is None
    # readelf -V: memcpy@GLIBC_2.14, printf@GLIBC_2.2.5.
    assert dict(elf.version_requirements) == {"libc.so.6": ("GLIBC_2.14", "GLIBC_2.2.5")}
    assert elf.glibc_requirement == (2, 14)
    assert elf.glibcxx_requirement is None
    assert elf.libc == "glibc"
    assert elf.android_api_level is None
    assert elf.pyinit_exports == ()


@pytest.mark.toolchain
def test_disable_new_dtags_gives_rpath(native: Builds) -> None:
    elf = _parse(native["rpath.so"])
    assert elf.rpath == ("$ORIGIN/../lib", "/opt/demo")
    assert elf.runpath == ()
    assert elf.soname == "libdemo.so.1"


@pytest.mark.toolchain
def test_cxx_library_versions(native: Builds) -> None:
    elf = _parse(native["cxx.so"])
    assert elf.needed == ("libstdc++.so.6", "libgcc_s.so.1", "libc.so.6")
    assert dict(elf.version_requirements) == {
        "libgcc_s.so.1": ("GCC_3.0",),
        "libc.so.6": ("GLIBC_2.2.5",),
        "libstdc++.so.6": ("GLIBCXX_3.4", "CXXABI_1.3", "GLIBCXX_3.4.21"),
    }
    assert elf.glibcxx_requirement == (3, 4, 21)
    assert elf.cxxabi_requirement == (1, 3)
    assert elf.gcc_requirement == (3, 0)
    assert elf.glibc_requirement == (2, 2)
    assert elf.highest_version("ZLIB") is None


@pytest.mark.toolchain
@pytest.mark.parametrize(("name", "e_type"), [("pie", "dyn"), ("exe", "exec")])
def test_executables_name_their_interpreter(native: Builds, name: str, e_type: str) -> None:
    elf = _parse(native[name])
    assert elf.e_type == e_type
    assert elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert elf.needed == ("libc.so.6",)
    assert dict(elf.version_requirements) == {"libc.so.6": ("GLIBC_2.2.5", "GLIBC_2.34")}
    assert elf.glibc_requirement == (2, 34)
    assert elf.libc == "glibc"


@pytest.mark.toolchain
@pytest.mark.parametrize("style", HASH_STYLES)
@pytest.mark.parametrize("stripped", [False, True], ids=["sections", "no-sections"])
def test_extension_exports_only_its_defined_pyinit(
    native: Builds, style: str, stripped: bool
) -> None:
    """Without section headers the symbol count comes from DT_GNU_HASH or DT_HASH."""
    elf = _parse(native[f"ext_{style}{'_stripped' if stripped else ''}.so"])
    assert elf.pyinit_exports == ("PyInit_foo",)  # PyInit_other is undefined (UND)
    assert elf.needed == ("libc.so.6",)
    assert dict(elf.version_requirements) == {"libc.so.6": ("GLIBC_2.2.5",)}


@pytest.mark.toolchain
@pytest.mark.parametrize("style", HASH_STYLES)
@pytest.mark.parametrize("stripped", [False, True], ids=["sections", "no-sections"])
def test_every_symbol_is_counted(native: Builds, style: str, stripped: bool) -> None:
    """40 exports spread over many hash buckets: a short count would miss some of them."""
    elf = _parse(native[f"multi_{style}{'_stripped' if stripped else ''}.so"])
    assert sorted(elf.pyinit_exports) == sorted(f"PyInit_m{i}" for i in range(MULTI_INIT_COUNT))


@pytest.mark.toolchain
def test_musl_from_needed_library(native: Builds) -> None:
    elf = _parse(native["musl_ext.so"])
    assert elf.needed == ("libc.musl-x86_64.so.1",)
    assert elf.interpreter is None
    assert elf.libc == "musl"


@pytest.mark.toolchain
def test_musl_from_interpreter(native: Builds) -> None:
    elf = _parse(native["musl_exe"])
    assert elf.interpreter == "/lib/ld-musl-x86_64.so.1"
    assert elf.libc == "musl"


# -- clang-14 / ld.lld-14 cross builds ------------------------------------------------


@pytest.mark.toolchain
@pytest.mark.parametrize("triple", CROSS_TARGETS)
@pytest.mark.parametrize("style", HASH_STYLES)
@pytest.mark.parametrize("stripped", [False, True], ids=["sections", "no-sections"])
def test_cross_targets(cross: Builds, triple: str, style: str, stripped: bool) -> None:
    elf = _parse(cross[f"{triple}_{style}{'_stripped' if stripped else ''}.so"])
    arch, elf_class, endianness, machine = CROSS_TARGETS[triple]
    assert (elf.arch, elf.elf_class, elf.endianness, elf.e_machine) == (
        arch,
        elf_class,
        endianness,
        machine,
    )
    assert elf.e_type == "dyn"
    assert elf.needed == ("libc.so.6",)
    assert dict(elf.version_requirements) == {"libc.so.6": ("GLIBC_2.17",)}
    assert elf.glibc_requirement == (2, 17)
    assert elf.libc == "glibc"
    assert elf.pyinit_exports == ("PyInit_foo",)


@pytest.mark.toolchain
def test_s390x_object(cross: Builds) -> None:
    elf = _parse(cross["s390x.o"])
    assert (elf.arch, elf.elf_class, elf.endianness, elf.e_machine, elf.e_type) == (
        "s390x",
        64,
        "big",
        22,
        "rel",
    )
    assert (elf.needed, elf.pyinit_exports, elf.libc) == ((), (), None)


@pytest.mark.toolchain
def test_loongarch64_machine_number(cross: Builds) -> None:
    """clang-14 has no LoongArch target, so EM_LOONGARCH (258) is patched into a real file."""
    data = bytearray(cross["x86_64-linux-gnu_gnu.so"].read_bytes())
    struct.pack_into("<H", data, 18, 258)
    assert parse_elf(data).arch == "loongarch64"
    struct.pack_into("<H", data, 18, 4242)
    assert parse_elf(data).arch == "em_4242"


@pytest.mark.toolchain
@pytest.mark.parametrize("name", ["android.so", "android_stripped.so"])
def test_android_extension(cross: Builds, name: str) -> None:
    """The stripped copy keeps the note only in PT_NOTE."""
    elf = _parse(cross[name])
    assert elf.android_api_level == 24
    assert elf.libc == "bionic"
    assert elf.needed == ("libc.so", "libm.so", "libpython3.13.so")
    assert elf.arch == "aarch64"
    assert elf.pyinit_exports == ("PyInit_foo",)
    assert dict(elf.version_requirements) == {}


@pytest.mark.toolchain
def test_android_without_note_is_bionic_by_bare_libc(cross: Builds) -> None:
    elf = _parse(cross["android_nonote.so"])
    assert elf.android_api_level is None
    assert elf.libc == "bionic"


@pytest.mark.toolchain
def test_android_note_in_object_file_section(cross: Builds) -> None:
    """A relocatable object has no program headers: the note is found by section name."""
    elf = _parse(cross["android_note.o"])
    assert (elf.e_type, elf.android_api_level) == ("rel", 24)


# -- system files ----------------------------------------------------------------------

SYSTEM_LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")
SYSTEM_PYTHON = Path("/usr/bin/python3")


def _system_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not on this system")
    return path


def test_system_glibc() -> None:
    elf = _parse(_system_file(SYSTEM_LIBC))
    assert elf.soname == "libc.so.6"
    assert elf.needed == ("ld-linux-x86-64.so.2",)
    assert elf.libc == "glibc"
    assert elf.arch == "x86_64"
    assert elf.osabi == "gnu"  # readelf -h: "UNIX - GNU"
    assert set(elf.version_requirements) == {"ld-linux-x86-64.so.2"}
    assert "GLIBC_PRIVATE" in elf.version_requirements["ld-linux-x86-64.so.2"]


def test_system_python_interpreter() -> None:
    elf = _parse(_system_file(SYSTEM_PYTHON).resolve())
    assert elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert elf.e_type in {"exec", "dyn"}
    assert elf.libc == "glibc"


def _readelf_facts(path: Path) -> dict[str, Any]:
    """The same facts as ``readelf -W -l -d -V`` prints them."""
    text = subprocess.run(
        ["readelf", "-W", "-l", "-d", "-V", str(path)], check=True, capture_output=True, text=True
    ).stdout

    def bracketed(label: str) -> list[str]:
        return re.findall(rf"{label}: \[(.*)\]", text)

    versions: dict[str, list[str]] = {}
    needs = text.partition("Version needs section")[2]
    for line in needs.splitlines():
        if file := re.search(r"File: (\S+)\s+Cnt:", line):
            current = versions.setdefault(file[1], [])
        elif name := re.search(r"^\s+0x[0-9a-f]+:\s+Name: (\S+)\s+Flags:", line):
            current.append(name[1])
    facts = {
        "interpreter": next(
            iter(re.findall(r"\[Requesting program interpreter: (.*)\]", text)), None
        ),
        "needed": list(dict.fromkeys(bracketed("Shared library"))),
        "soname": next(iter(bracketed("Library soname")), None),
        "rpath": [p for value in bracketed("Library rpath") for p in value.split(":")],
        "runpath": [p for value in bracketed("Library runpath") for p in value.split(":")],
        "version_requirements": {k: list(dict.fromkeys(v)) for k, v in versions.items()},
    }
    if "(VERNEED)" in text and not needs:
        del facts["version_requirements"]  # readelf -V finds versions through sections only
    return facts


@pytest.mark.toolchain
def test_agrees_with_readelf(native: Builds, cross: Builds) -> None:
    _require("readelf")
    paths = [*native.values(), *cross.values()]
    paths += [p.resolve() for p in (SYSTEM_LIBC, SYSTEM_PYTHON) if p.exists()]
    for path in paths:
        ours = _parse(path).to_json()
        theirs = _readelf_facts(path)
        assert {key: ours[key] for key in theirs} == theirs, path


# -- input kinds and JSON --------------------------------------------------------------


@pytest.mark.toolchain
def test_every_buffer_kind_reads_the_same(native: Builds) -> None:
    assert_buffer_kinds_agree(parse_elf, native["runpath.so"])


@pytest.mark.toolchain
def test_to_json(native: Builds) -> None:
    elf: Binary = _parse(native["cxx.so"])
    document = elf.to_json()
    assert json.loads(json.dumps(document)) == document
    assert document == {
        "format": "elf",
        "architectures": ["x86_64"],
        "elf_class": 64,
        "endianness": "little",
        "e_type": "dyn",
        "osabi": "sysv",
        "e_machine": 62,
        "arch": "x86_64",
        "interpreter": None,
        "soname": None,
        "needed": ["libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"],
        "rpath": [],
        "runpath": [],
        "version_requirements": {
            "libgcc_s.so.1": ["GCC_3.0"],
            "libc.so.6": ["GLIBC_2.2.5"],
            "libstdc++.so.6": ["GLIBCXX_3.4", "CXXABI_1.3", "GLIBCXX_3.4.21"],
        },
        "highest_versions": {"GLIBC": "2.2.5", "GLIBCXX": "3.4.21", "CXXABI": "1.3", "GCC": "3.0"},
        "libc": "glibc",
        "android_api_level": None,
        "pyinit_exports": [],
    }


# -- malformed input -------------------------------------------------------------------


def _dynamic_entry(data: bytes | bytearray, tag: int) -> int:
    """File offset of the first ``tag`` entry in PT_DYNAMIC of a little-endian ELF64 file."""
    phoff, phentsize, phnum = (
        struct.unpack_from("<Q", data, 0x20)[0],
        *struct.unpack_from("<HH", data, 0x36),
    )
    for index in range(phnum):
        p_type, _, p_offset = struct.unpack_from("<IIQ", data, phoff + index * phentsize)
        if p_type == 2:
            for entry in range(p_offset, len(data), 16):
                if struct.unpack_from("<Q", data, entry)[0] == tag:
                    return entry
    raise AssertionError(f"no dynamic tag {tag}")


def _patched(path: Path, edit: Callable[[bytearray], None]) -> bytearray:
    data = bytearray(path.read_bytes())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"MZ\x90\x00" + bytes(200), "not an ELF file"),
        (b"\x7fEL", "not an ELF file"),
        (b"\x7fELF\x03\x01\x01" + bytes(60), "unknown ELF class 3"),
        (b"\x7fELF\x02\x03\x01" + bytes(60), "unknown ELF data encoding 3"),
    ],
)
def test_not_elf(data: bytes, message: str) -> None:
    with pytest.raises(ElfError, match=message):
        parse_elf(data)


@pytest.mark.toolchain
def test_truncated_header(native: Builds) -> None:
    with pytest.raises(ElfError, match=r"ELF header at offset 0x10 \(48 bytes\)"):
        parse_elf(native["runpath.so"].read_bytes()[:40])


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: struct.pack_into("<Q", d, 0x20, 0xFFFF_FFFF_FFFF), "program headers"),
        (lambda d: struct.pack_into("<H", d, 0x38, 0xFFFE), r"program headers \(65534 entries\)"),
        (lambda d: struct.pack_into("<H", d, 0x36, 12), "e_phentsize is 12, expected 56"),
        (lambda d: struct.pack_into("<Q", d, 0x28, 1 << 40), "section header 0"),
    ],
    ids=["phoff", "phnum", "phentsize", "shoff"],
)
def test_bogus_header_fields(
    native: Builds, edit: Callable[[bytearray], None], message: str
) -> None:
    with pytest.raises(ElfError, match=message):
        parse_elf(_patched(native["runpath.so"], edit))


@pytest.mark.toolchain
def test_string_table_out_of_range(native: Builds) -> None:
    def move_strtab(data: bytearray) -> None:
        struct.pack_into("<Q", data, _dynamic_entry(data, 5) + 8, 0xDEAD_0000)

    def needed_past_strsz(data: bytearray) -> None:
        struct.pack_into("<Q", data, _dynamic_entry(data, 1) + 8, 0xFFFF_FFFF)

    with pytest.raises(ElfError, match="DT_STRTAB address 0xdead0000 is not inside any PT_LOAD"):
        parse_elf(_patched(native["runpath.so"], move_strtab))
    with pytest.raises(ElfError, match="DT_NEEDED at offset"):
        parse_elf(_patched(native["runpath.so"], needed_past_strsz))


@pytest.mark.toolchain
def test_gnu_hash_bucket_out_of_range(native: Builds) -> None:
    """A bucket naming a symbol far past the table must not send the chain walk off the file."""

    def corrupt_bucket(data: bytearray) -> None:
        gnu_hash = struct.unpack_from("<Q", data, _dynamic_entry(data, 0x6FFFFEF5) + 8)[0]
        _, _, bloom_size = struct.unpack_from("<III", data, gnu_hash)  # vaddr == offset here
        struct.pack_into("<I", data, gnu_hash + 16 + 8 * bloom_size, 0xFFFF_FFF0)

    with pytest.raises(ElfError, match="DT_GNU_HASH chain at offset"):
        parse_elf(_patched(native["multi_gnu_stripped.so"], corrupt_bucket))


# -- fuzzing ---------------------------------------------------------------------------

FUZZ_FILES = (
    "cxx.so",
    "ext_gnu_stripped.so",
    "multi_sysv_stripped.so",
    "pie",
    "armv7-linux-gnueabihf_gnu_stripped.so",
    "powerpc64-linux-gnu_sysv.so",
    "i686-linux-gnu_sysv_stripped.so",
    "android.so",
    "android_note.o",
)

# Half the edits land in the first KiB (ELF header, program headers); positions wrap around
# the file, so the rest spread over all of it. Instead of aligned words, these snippets go in
# anywhere: all-ones and all-zeros words and quads, big-endian INT32_MAX, a lone 1.
_EDITS = mutations(
    positions_in(range(1024), range(1 << 20)),
    words=(),
    snippets=(b"\xff" * 4, b"\x00" * 4, b"\xff" * 8, b"\x7f\xff\xff\xff", b"\x01"),
)


@functools.cache
def _contents(path: Path) -> bytes:
    return path.read_bytes()


@pytest.fixture(scope="session")
def fuzz_corpus(native: Builds, cross: Builds) -> Builds:
    return {**native, **cross}


@pytest.mark.toolchain
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_input_raises_only_elf_error(fuzz_corpus: Builds, data: st.DataObject) -> None:
    original = _contents(fuzz_corpus[data.draw(st.sampled_from(FUZZ_FILES))])
    try:
        elf = parse_elf(mutate(data, original, _EDITS, min_edits=0, max_edits=6))
    except ElfError:
        return
    json.dumps(elf.to_json())
