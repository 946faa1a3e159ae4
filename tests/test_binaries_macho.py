"""The Mach-O reader on real binaries built with clang-14 / ld64.lld-14 / llvm-lipo-14.

Expected values were read off ``llvm-otool-14 -l`` / ``llvm-objdump-14 --macho
--private-headers`` for the same builds. Inputs no toolchain can make (big-endian
PowerPC, fat64, a few load-command kinds ld64.lld-14 does not emit) are derived from
the real builds or written by hand, and each is checked with llvm-objdump-14 in the
test itself so the fixture cannot drift from what real tools accept.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import FUZZ_SETTINGS, assert_buffer_kinds_agree, mutate, mutations, positions_in
from omniwheel.binaries.base import Binary, BinaryParseError
from omniwheel.binaries.macho import MachODylib, MachOError, MachOFile, parse_macho

CLANG = "clang-14"
LLD = "ld64.lld-14"
LIPO = "llvm-lipo-14"
STRIP = "llvm-strip-14"
OBJDUMP = "llvm-objdump-14"

FOO_C = """
extern int bar(void);
extern int baz(void) __attribute__((weak_import));
__attribute__((visibility("default"))) void *PyInit_foo(void) {
    return (void *)(long)(bar() + (baz ? baz() : 0));
}
"""

# name -> (clang target, -dynamiclib or -bundle); iOS extension modules are dylibs.
LINKED = {
    "ios": ("arm64-apple-ios13.0", "-dynamiclib"),
    "ios_sim": ("arm64-apple-ios13.0-simulator", "-dynamiclib"),
    "ios_sim_x86_64": ("x86_64-apple-ios13.0-simulator", "-dynamiclib"),
    "ios_sim_old": ("x86_64-apple-ios10.0-simulator", "-dynamiclib"),
    "macos_arm64": ("arm64-apple-macos11.0", "-bundle"),
    "macos_x86_64": ("x86_64-apple-macos10.9", "-bundle"),
    "catalyst": ("arm64-apple-ios14.0-macabi", "-bundle"),
}
# name -> clang target for relocatable objects: ld64.lld-14 cannot link these CPUs.
OBJECTS = {
    "i386": "i386-apple-macos10.9",
    "armv7": "armv7-apple-ios9.0",
    "armv7s": "armv7s-apple-ios9.0",
    "armv7k": "armv7k-apple-watchos5.0",
    "arm64_32": "arm64_32-apple-watchos5.0",
    "arm64e": "arm64e-apple-ios14.0",
    "x86_64h": "x86_64h-apple-macos10.15",
    "tvos": "arm64-apple-tvos13.0",
}

LC_LAZY_LOAD_DYLIB = 0x20
LC_LOAD_UPWARD_DYLIB = 0x80000023
LC_DYLD_INFO_ONLY = 0x80000022
LC_DYLD_EXPORTS_TRIE = 0x80000033

Built = dict[str, Path]


def _run(*args: str | Path) -> str:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


def _objdump(path: Path, *flags: str) -> str:
    return _run(OBJDUMP, "--macho", *flags, path)


def _parse(path: Path) -> MachOFile:
    return parse_macho(path.read_bytes())


def _link(out: Path, target: str, kind: str, *inputs: str | Path) -> Path:
    """Link with ld64.lld (``-fuse-ld=lld`` + an Apple target; ``--ld-path`` would make clang
    omit ``-platform_version``, which ld64.lld requires)."""
    _run(CLANG, "-target", target, "-fuse-ld=lld", "-nostdlib", kind, "-o", out, *inputs)
    return out


def _build_linked(root: Path, name: str, target: str, kind: str, foo: Path) -> Path:
    """foo.so linking @rpath/libbar.dylib, weakly /usr/lib/libbaz.dylib, with an LC_RPATH."""
    work = root / name
    work.mkdir()
    bar, baz = work / "bar.c", work / "baz.c"
    bar.write_text("int bar(void) { return 1; }\n")
    baz.write_text("int baz(void) { return 2; }\n")
    libbar = _link(
        work / "libbar.dylib", target, "-dynamiclib", bar, "-Wl,-install_name,@rpath/libbar.dylib"
    )
    libbaz = _link(
        work / "libbaz.dylib",
        target,
        "-dynamiclib",
        baz,
        "-Wl,-install_name,/usr/lib/libbaz.dylib",
        "-Wl,-current_version,1.2.3",
        "-Wl,-compatibility_version,1.0.0",
    )
    return _link(
        work / "foo.so",
        target,
        kind,
        foo,
        libbar,
        f"-Wl,-weak_library,{libbaz}",
        "-Wl,-rpath,@loader_path/../lib",
        "-Wl,-undefined,dynamic_lookup",
    )


def _build_kinds(root: Path) -> Path:
    """A dylib with load/reexport dylibs, two of them then patched to upward and lazy.

    ld64.lld-14 ignores ``-upward_library`` and treats ``-lazy_library`` as a plain link.
    """
    target = LINKED["macos_arm64"][0]
    work = root / "kinds"
    work.mkdir()
    src = work / "x.c"
    src.write_text("int x(void) { return 0; }\n")
    libs = {
        n: _link(
            work / f"lib{n}.dylib",
            target,
            "-dynamiclib",
            src,
            f"-Wl,-install_name,@rpath/lib{n}.dylib",
        )
        for n in ("re", "up", "lazy")
    }
    out = _link(
        work / "libkinds.dylib",
        target,
        "-dynamiclib",
        src,
        f"-Wl,-reexport_library,{libs['re']}",
        libs["up"],
        libs["lazy"],
        "-Wl,-install_name,@rpath/libkinds.dylib",
    )
    data = bytearray(out.read_bytes())
    for name, cmd in (("up", LC_LOAD_UPWARD_DYLIB), ("lazy", LC_LAZY_LOAD_DYLIB)):
        # The dylib name sits at lc_str offset 24 (llvm-otool: "(offset 24)").
        name_at = data.index(f"@rpath/lib{name}.dylib\0".encode())
        struct.pack_into("<I", data, name_at - 24, cmd)
    out.write_bytes(data)
    return out


def _exports_trie_variant(stripped: Path, out: Path) -> Path:
    """Turn LC_DYLD_INFO_ONLY into LC_DYLD_EXPORTS_TRIE, as chained-fixup linkers emit it.

    ld64.lld-14 cannot emit chained fixups, so the 48-byte command becomes the 16-byte
    one and later commands move up (they hold no absolute offsets).
    """
    data = bytearray(stripped.read_bytes())
    ncmds, sizeofcmds = struct.unpack_from("<II", data, 16)
    at = data.index(struct.pack("<II", LC_DYLD_INFO_ONLY, 48), 32, 32 + sizeofcmds)
    export = data[at + 40 : at + 48]
    end = 32 + sizeofcmds
    rest = data[at + 48 : end]
    data[at:end] = struct.pack("<II", LC_DYLD_EXPORTS_TRIE, 16) + export + rest + bytes(32)
    struct.pack_into("<II", data, 16, ncmds, sizeofcmds - 32)
    out.write_bytes(data)
    return out


def _fat64(slices: list[Path], out: Path) -> Path:
    """A universal file with the 64-bit fat header (llvm-lipo-14 has no ``-fat64``)."""
    align = 14
    header = struct.pack(">II", 0xCAFEBABF, len(slices))
    body = b""
    for path in slices:
        body = body.ljust(-(-len(body) >> align) << align, b"\0")  # align like lipo does
        thin = path.read_bytes()
        cputype, cpusubtype = struct.unpack_from("<II", thin, 4)
        offset = (1 << align) + len(body)
        header += struct.pack(">IIQQII", cputype, cpusubtype, offset, len(thin), align, 0)
        body += thin
    out.write_bytes(header.ljust(1 << align, b"\0") + body)
    return out


def _big_endian_bundle(is64: bool) -> bytes:
    """A PowerPC (MH_CIGAM / MH_CIGAM_64 to a little-endian reader) bundle, built by hand.

    No installed LLVM writes big-endian Mach-O; the layout follows <mach-o/loader.h>.
    """
    word = "Q" if is64 else "I"
    header = 32 if is64 else 28
    segment = 72 + 80 if is64 else 56 + 68
    dylib = b"/usr/lib/libSystem.B.dylib".ljust(32, b"\0")  # commands are 8-byte multiples
    rpath = b"@loader_path/../lib\0"
    cmds_size = segment + 16 + (24 + len(dylib)) + (12 + len(rpath)) + 24
    text_at = header + cmds_size
    sym_at = text_at + 4
    nlist = 16 if is64 else 12
    strings = b"\0_PyInit_foo\0_helper\0"
    str_at = sym_at + 2 * nlist
    cmds = b"".join(
        [
            struct.pack(
                f">II16s4{word}2iII",
                0x19 if is64 else 0x1,
                segment,
                b"__TEXT",
                0,
                0x1000,
                0,
                str_at + len(strings),
                7,
                5,
                1,
                0,
            ),
            struct.pack(
                f">16s16s2{word}8I" if is64 else ">16s16s9I",
                b"__text",
                b"__TEXT",
                text_at,
                4,
                text_at,
                2,
                0,
                0,
                0x80000400,
                0,
                0,
                *((0,) if is64 else ()),
            ),
            struct.pack(">4I", 0x24, 16, 0x000A0400, 0x000A0500),  # MACOSX 10.4, sdk 10.5
            struct.pack(">6I", 0xC, 24 + len(dylib), 24, 2, 0x00580100, 0x00010000) + dylib,
            struct.pack(">3I", 0x8000001C, 12 + len(rpath), 12) + rpath,
            struct.pack(">6I", 0x2, 24, sym_at, 2, str_at, len(strings)),
        ]
    )
    assert len(cmds) == cmds_size
    fixed = struct.pack(
        ">7I",
        0xFEEDFACF if is64 else 0xFEEDFACE,
        0x01000012 if is64 else 18,
        0,
        8,
        5,
        cmds_size,
        0x85,
    ) + (b"\0" * 4 if is64 else b"")
    symbols = struct.pack(f">IBBH{word}", 1, 0x0F, 1, 0, text_at) + struct.pack(
        f">IBBH{word}", 13, 0x0E, 1, 0, text_at
    )
    return fixed + cmds + struct.pack(">I", 0x4E800020) + symbols + strings


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    missing = [t for t in (CLANG, LLD, LIPO, STRIP, OBJDUMP) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"Mach-O toolchain missing: {', '.join(missing)}")
    root = tmp_path_factory.mktemp("macho")
    foo = root / "foo.c"
    foo.write_text(FOO_C)
    out: Built = {
        name: _build_linked(root, name, target, kind, foo)
        for name, (target, kind) in LINKED.items()
    }
    for name, target in OBJECTS.items():
        out[f"obj_{name}"] = root / f"{name}.o"
        _run(CLANG, "-target", target, "-c", foo, "-o", out[f"obj_{name}"])
    out["universal"] = root / "universal.so"
    _run(LIPO, "-create", out["macos_x86_64"], out["macos_arm64"], "-output", out["universal"])
    out["fat64"] = _fat64([out["macos_x86_64"], out["macos_arm64"]], root / "fat64.so")
    out["stripped"] = root / "stripped.so"
    _run(STRIP, "-o", out["stripped"], out["macos_arm64"])
    out["exports_trie"] = _exports_trie_variant(out["stripped"], root / "exports_trie.so")
    out["kinds"] = _build_kinds(root)
    for name, is64 in (("ppc", False), ("ppc64", True)):
        out[name] = root / f"{name}.bundle"
        out[name].write_bytes(_big_endian_bundle(is64))
    return out


# --- platforms and versions, one per target -------------------------------------------------


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("name", "platform", "command", "minos", "sdk", "simulator"),
    [
        # llvm-otool-14 -l: "platform ios / sdk 13.0 / minos 13.0".
        ("ios", "ios", "LC_BUILD_VERSION", (13, 0, 0), (13, 0, 0), False),
        # clang-14 raises arm64 simulator targets to iOS 14.0 ("minos 14.0" in llvm-otool).
        ("ios_sim", "ios-simulator", "LC_BUILD_VERSION", (14, 0, 0), (14, 0, 0), True),
        ("ios_sim_x86_64", "ios-simulator", "LC_BUILD_VERSION", (13, 0, 0), (13, 0, 0), True),
        # Before iOS 12 the linker writes LC_VERSION_MIN_IPHONEOS, even for the simulator.
        ("ios_sim_old", "ios", "LC_VERSION_MIN_IPHONEOS", (10, 0, 0), (10, 0, 0), True),
        ("macos_arm64", "macos", "LC_BUILD_VERSION", (11, 0, 0), (11, 0, 0), False),
        ("macos_x86_64", "macos", "LC_VERSION_MIN_MACOSX", (10, 9, 0), (10, 9, 0), False),
        # llvm-otool-14: "platform macCatalyst / sdk 13.1 / minos 14.0".
        ("catalyst", "maccatalyst", "LC_BUILD_VERSION", (14, 0, 0), (13, 1, 0), False),
        # Objects carry no SDK version: llvm-otool-14 prints "sdk n/a".
        ("obj_tvos", "tvos", "LC_BUILD_VERSION", (13, 0, 0), (0, 0, 0), False),
        ("obj_armv7k", "watchos", "LC_BUILD_VERSION", (5, 0, 0), (0, 0, 0), False),
        ("obj_i386", "macos", "LC_VERSION_MIN_MACOSX", (10, 9, 0), (0, 0, 0), False),
        ("ppc", "macos", "LC_VERSION_MIN_MACOSX", (10, 4, 0), (10, 5, 0), False),
    ],
)
def test_platform(
    built: Built,
    name: str,
    platform: str,
    command: str,
    minos: tuple[int, int, int],
    sdk: tuple[int, int, int],
    simulator: bool,
) -> None:
    (thin,) = _parse(built[name]).slices
    assert (thin.platform, thin.platform_command) == (platform, command)
    assert (thin.minos, thin.sdk, thin.is_simulator) == (minos, sdk, simulator)


@pytest.mark.toolchain
def test_build_tools_are_read_from_build_version(built: Built) -> None:
    # llvm-otool-14: "ntools 1 / tool ld / version 14.0.6" (lld records itself as TOOL_LD).
    assert _parse(built["ios"]).slices[0].build_tools == (("ld", (14, 0, 6)),)
    assert _parse(built["macos_x86_64"]).slices[0].build_tools == ()


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("name", "arch", "cputype", "cpusubtype", "filetype"),
    [
        # llvm-otool-14 -h: cputype / cpusubtype / filetype columns.
        ("ios", "arm64", 0x0100000C, 0, "dylib"),
        ("ios_sim_x86_64", "x86_64", 0x01000007, 3, "dylib"),
        ("macos_arm64", "arm64", 0x0100000C, 0, "bundle"),
        ("obj_i386", "i386", 7, 3, "object"),
        ("obj_armv7", "armv7", 12, 9, "object"),
        ("obj_armv7s", "armv7s", 12, 11, "object"),
        ("obj_armv7k", "armv7k", 12, 12, "object"),
        ("obj_arm64_32", "arm64_32", 0x0200000C, 1, "object"),
        ("obj_arm64e", "arm64e", 0x0100000C, 2, "object"),
        ("obj_x86_64h", "x86_64h", 0x01000007, 8, "object"),
        ("ppc", "ppc", 18, 0, "bundle"),
        ("ppc64", "ppc64", 0x01000012, 0, "bundle"),
    ],
)
def test_cpu_and_filetype(
    built: Built, name: str, arch: str, cputype: int, cpusubtype: int, filetype: str
) -> None:
    macho = _parse(built[name])
    (thin,) = macho.slices
    assert (thin.arch, thin.cputype, thin.cpusubtype, thin.filetype) == (
        arch,
        cputype,
        cpusubtype,
        filetype,
    )
    assert macho.architectures == (arch,)


@pytest.mark.toolchain
def test_arm64e_capability_bits_do_not_change_the_name(built: Built) -> None:
    # Apple's arm64e binaries set CPU_SUBTYPE_PTRAUTH_ABI (0x80000000) in the top byte, which
    # clang-14 does not; set it on the real object the way Apple's toolchain would.
    data = bytearray(built["obj_arm64e"].read_bytes())
    struct.pack_into("<I", data, 8, 0x80000002)
    assert parse_macho(data).slices[0].arch == "arm64e"


# --- dylibs, rpaths, install names --------------------------------------------------------------


@pytest.mark.toolchain
def test_linked_dylibs_rpaths_and_id(built: Built) -> None:
    macho = _parse(built["ios"])
    (thin,) = macho.slices
    # llvm-otool-14 -l: LC_LOAD_DYLIB @rpath/libbar.dylib (0.0.0), LC_LOAD_WEAK_DYLIB
    # /usr/lib/libbaz.dylib current 1.2.3 compatibility 1.0.0, LC_RPATH @loader_path/../lib.
    assert thin.dylibs == (
        MachODylib("load", "@rpath/libbar.dylib", (0, 0, 0), (0, 0, 0)),
        MachODylib("weak", "/usr/lib/libbaz.dylib", (1, 2, 3), (1, 0, 0)),
    )
    assert thin.rpaths == ("@loader_path/../lib",)
    assert thin.id_dylib == str(built["ios"])  # ld64.lld uses the output path as install name
    assert macho.needed == ("@rpath/libbar.dylib", "/usr/lib/libbaz.dylib")
    assert _parse(built["macos_arm64"]).slices[0].id_dylib is None  # bundles have no LC_ID_DYLIB


@pytest.mark.toolchain
def test_every_dylib_kind(built: Built) -> None:
    path = built["kinds"]
    listing = _objdump(path, "--private-headers")
    for cmd in ("LC_REEXPORT_DYLIB", "LC_LOAD_UPWARD_DYLIB", "LC_LAZY_LOAD_DYLIB"):
        assert f"cmd {cmd}" in listing
    (thin,) = _parse(path).slices
    assert thin.id_dylib == "@rpath/libkinds.dylib"
    # ld64.lld-14 writes a re-exported library twice, as LC_LOAD_DYLIB and LC_REEXPORT_DYLIB.
    assert [(d.kind, d.path) for d in thin.dylibs] == [
        ("load", "@rpath/libre.dylib"),
        ("reexport", "@rpath/libre.dylib"),
        ("upward", "@rpath/libup.dylib"),
        ("lazy", "@rpath/liblazy.dylib"),
    ]
    assert _parse(path).needed == (
        "@rpath/libre.dylib",
        "@rpath/libup.dylib",
        "@rpath/liblazy.dylib",
    )


@pytest.mark.toolchain
def test_big_endian_files_read_like_their_llvm_listing(built: Built) -> None:
    for name, header in (("ppc", "MH_MAGIC PPC ALL"), ("ppc64", "MH_MAGIC_64 PPC64 ALL")):
        listing = _objdump(built[name], "--private-headers", "--syms")
        assert header in " ".join(listing.split())
        assert "name /usr/lib/libSystem.B.dylib (offset 24)" in listing
        assert "current version 88.1.0" in listing
        assert "path @loader_path/../lib (offset 12)" in listing
        assert "__TEXT,__text _PyInit_foo" in listing
        (thin,) = _parse(built[name]).slices
        assert thin.dylibs == (
            MachODylib("load", "/usr/lib/libSystem.B.dylib", (88, 1, 0), (1, 0, 0)),
        )
        assert thin.rpaths == ("@loader_path/../lib",)
        assert thin.pyinit_exports == ("PyInit_foo",)  # the local _helper is not reported


# --- universal binaries -------------------------------------------------------------------------


@pytest.mark.toolchain
@pytest.mark.parametrize(("name", "fat64"), [("universal", False), ("fat64", True)])
def test_universal(built: Built, name: str, fat64: bool) -> None:
    headers = _objdump(built[name], "--universal-headers")
    assert f"fat_magic {'FAT_MAGIC_64' if fat64 else 'FAT_MAGIC'}\n" in headers
    macho = _parse(built[name])
    assert (macho.fat, macho.fat64) == (True, fat64)
    assert macho.architectures == ("x86_64", "arm64")
    # llvm-objdump-14 --universal-headers: offsets 4096 / 32768 from lipo, 16384 / 32768 by hand.
    offsets = (16384, 32768) if fat64 else (4096, 32768)
    assert tuple(s.offset for s in macho.slices) == offsets
    thin = [built["macos_x86_64"].read_bytes(), built["macos_arm64"].read_bytes()]
    assert tuple(s.size for s in macho.slices) == (len(thin[0]), len(thin[1]))
    data = built[name].read_bytes()
    for part, raw in zip(macho.slices, thin, strict=True):
        assert data[part.offset : part.offset + part.size] == raw
    assert [s.platform_command for s in macho.slices] == [
        "LC_VERSION_MIN_MACOSX",
        "LC_BUILD_VERSION",
    ]
    assert macho.needed == ("@rpath/libbar.dylib", "/usr/lib/libbaz.dylib")
    assert macho.slices[1].code_directory is not None  # signature offsets are slice-relative
    assert macho.slices[1].code_directory == _parse(built["macos_arm64"]).slices[0].code_directory


# --- code signatures ----------------------------------------------------------------------------


@pytest.mark.toolchain
def test_adhoc_signature_of_arm64_macos(built: Built) -> None:
    path = built["macos_arm64"]
    data = path.read_bytes()
    (thin,) = _parse(path).slices
    # llvm-otool-14 -l: LC_CODE_SIGNATURE dataoff 49424 datasize 544, ending the file.
    assert thin.is_signed
    assert thin.code_signature is not None
    dataoff, datasize = thin.code_signature
    assert dataoff + datasize == len(data)
    cd = thin.code_directory
    assert cd is not None
    assert (cd.hash_name, cd.hash_size, cd.page_size) == ("sha256", 32, 4096)
    assert cd.code_limit == dataoff  # everything before the signature is hashed
    assert cd.n_code_slots == -(-dataoff // 4096)
    assert cd.identifier == "foo.so"
    assert cd.flags & 0x2  # CS_ADHOC
    # The slots really are SHA-256 page hashes: the offsets and counts are right.
    for page in range(cd.n_code_slots):
        start = page * cd.page_size
        digest = hashlib.sha256(data[start : min(start + cd.page_size, cd.code_limit)]).digest()
        slot = cd.hash_offset + page * cd.hash_size
        assert data[slot : slot + cd.hash_size] == digest


@pytest.mark.toolchain
@pytest.mark.parametrize(
    "name", ["ios", "ios_sim", "ios_sim_x86_64", "macos_x86_64", "catalyst", "obj_arm64e"]
)
def test_unsigned_outputs(built: Built, name: str) -> None:
    # ld64.lld-14 signs only arm64 macOS output; llvm-otool-14 shows no LC_CODE_SIGNATURE here.
    (thin,) = _parse(built[name]).slices
    assert (thin.is_signed, thin.code_signature, thin.code_directory) == (False, None, None)


# --- PyInit exports -----------------------------------------------------------------------------


@pytest.mark.toolchain
def test_pyinit_from_symbol_table(built: Built) -> None:
    for name in [*LINKED, *(f"obj_{n}" for n in OBJECTS)]:
        assert _parse(built[name]).slices[0].pyinit_exports == ("PyInit_foo",), name


@pytest.mark.toolchain
def test_pyinit_from_export_trie_when_symbols_are_stripped(built: Built) -> None:
    stripped, variant = built["stripped"], built["exports_trie"]
    # llvm-objdump-14: no _PyInit_foo in SYMBOL TABLE, but "Exports trie: ... _PyInit_foo".
    assert "_PyInit_foo" not in _objdump(stripped, "--syms")
    assert "_PyInit_foo" in _objdump(stripped, "--exports-trie")
    assert _parse(stripped).slices[0].pyinit_exports == ("PyInit_foo",)
    # llvm-objdump-14 lists LC_DYLD_EXPORTS_TRIE but cannot walk it, so compare the command
    # with LC_DYLD_INFO_ONLY's export_off / export_size in the file it was made from.
    original = " ".join(_objdump(stripped, "--private-headers").split())
    moved = " ".join(_objdump(variant, "--private-headers").split())
    trie_at = re.search(r"export_off (\d+) export_size (\d+)", original)
    assert trie_at is not None
    assert (
        f"cmd LC_DYLD_EXPORTS_TRIE cmdsize 16 dataoff {trie_at[1]} datasize {trie_at[2]}" in moved
    )
    assert "_PyInit_foo" not in _objdump(variant, "--syms")
    assert _parse(variant).slices[0].pyinit_exports == ("PyInit_foo",)


@pytest.mark.toolchain
@pytest.mark.parametrize(
    ("at", "value", "expected"),
    [
        (14, 0x0F, ("PyInit_foo",)),  # unchanged: the child node starts at trie offset 15
        (14, 0x00, MachOError),  # the only edge leads back to the root
        (16, 0x08, ()),  # EXPORT_SYMBOL_FLAGS_REEXPORT: defined elsewhere, not here
    ],
)
def test_export_trie_edits(
    built: Built, at: int, value: int, expected: tuple[str, ...] | type[MachOError]
) -> None:
    data = bytearray(built["stripped"].read_bytes())
    # llvm-objdump-14 --exports-trie reads this 24-byte trie as one edge "_PyInit_foo" from a
    # non-terminal root to a terminal node (flags 0, address 0x510).
    root = data.index(b"\x00\x01_PyInit_foo\x00")
    data[root + at] = value
    if isinstance(expected, tuple):
        assert parse_macho(data).slices[0].pyinit_exports == expected
    else:
        with pytest.raises(expected, match="revisits"):
            parse_macho(data)


@pytest.mark.toolchain
def test_dylib_without_pyinit(built: Built) -> None:
    assert _parse(built["kinds"]).slices[0].pyinit_exports == ()


# --- buffers and JSON ---------------------------------------------------------------------------


@pytest.mark.toolchain
def test_every_buffer_type_reads_the_same(built: Built) -> None:
    assert_buffer_kinds_agree(parse_macho, built["universal"])


@pytest.mark.toolchain
def test_to_json_round_trips(built: Built) -> None:
    summary: Binary = _parse(built["universal"])  # mypy checks the protocol is satisfied
    doc = summary.to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["format"] == "macho"
    assert doc["architectures"] == ["x86_64", "arm64"]
    arm64 = doc["slices"][1]
    assert (arm64["platform"], arm64["minos"], arm64["sdk"]) == ("macos", "11.0.0", "11.0.0")
    assert arm64["code_signature"] == {"dataoff": 49424, "datasize": 544}
    assert arm64["code_directory"]["hash_name"] == "sha256"
    assert arm64["dylibs"][1] == {
        "kind": "weak",
        "path": "/usr/lib/libbaz.dylib",
        "current_version": "1.2.3",
        "compatibility_version": "1.0.0",
    }
    assert arm64["pyinit_exports"] == ["PyInit_foo"]


# --- rejection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xcf\xfa\xed",
        b"\x7fELF\x02\x01\x01" + bytes(57),
        b"MZ" + bytes(62),
        # Java class files share the fat magic: Java 8 (major 52) and Java 1.1 (45.3).
        b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(64),
        b"\xca\xfe\xba\xbe\x00\x03\x00\x2d" + bytes(64),
        b"\xca\xfe\xba\xbe\x00\x00\x00\x00",
    ],
    ids=["empty", "short", "elf", "pe", "java8", "java1.1", "no-slices"],
)
def test_not_macho(data: bytes) -> None:
    with pytest.raises(MachOError, match="not Mach-O"):
        parse_macho(data)


def test_elf_from_the_system_is_rejected() -> None:
    with pytest.raises(MachOError, match="not Mach-O"):
        parse_macho(Path("/bin/sh").read_bytes())


@pytest.mark.toolchain
@pytest.mark.parametrize("name", ["macos_arm64", "universal", "fat64", "ppc64", "obj_i386"])
def test_truncated(built: Built, name: str) -> None:
    data = built[name].read_bytes()
    # Every one of these files ends with data a load command or fat header points at.
    for cut in (4, 20, 40, 300, len(data) // 2, len(data) - 1):
        with pytest.raises(MachOError):
            parse_macho(data[:cut])


@pytest.mark.toolchain
def test_lc_str_must_stay_inside_its_command(built: Built) -> None:
    data = bytearray(built["ios"].read_bytes())
    name_at = data.index(b"@rpath/libbar.dylib\0")
    struct.pack_into("<I", data, name_at - 24 + 8, 4096)  # lc_str offset past cmdsize
    with pytest.raises(MachOError, match="outside its command"):
        parse_macho(data)


@pytest.mark.toolchain
def test_load_commands_must_fit(built: Built) -> None:
    data = bytearray(built["ios"].read_bytes())
    struct.pack_into("<I", data, 16, 0x7FFFFFFF)  # ncmds
    with pytest.raises(MachOError, match="load commands cannot fit"):
        parse_macho(data)


# --- fuzz ---------------------------------------------------------------------------------------

FUZZED = ["ios", "macos_arm64", "universal", "fat64", "exports_trie", "ppc", "obj_armv7k"]


@pytest.fixture(scope="session")
def fuzz_inputs(built: Built) -> dict[str, bytes]:
    return {name: built[name].read_bytes() for name in FUZZED}


@pytest.mark.toolchain
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_mutated_binaries_raise_only_macho_error(
    fuzz_inputs: dict[str, bytes], data: st.DataObject
) -> None:
    original = fuzz_inputs[data.draw(st.sampled_from(FUZZED))]
    # Half the edits land in the headers and load commands, where almost all structure lives.
    where = positions_in(range(min(len(original), 2048)), range(len(original)))
    # Words go in both byte orders: fat headers and PowerPC slices are big-endian.
    mutated = mutate(data, original, mutations(where))
    as_view = data.draw(st.booleans(), label="memoryview")  # _find has its own memoryview path
    try:
        parse_macho(memoryview(mutated) if as_view else mutated)
    except BinaryParseError as error:
        assert isinstance(error, MachOError)
