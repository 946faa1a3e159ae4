"""PE editing and Windows repair on DLLs built here with MinGW-w64, run under Wine.

The proof the issue asks for: ``bar.dll`` and ``Foo.dll`` (which imports it) are
built outside every path, an extension module imports ``Foo.dll``; after
``repair`` the wheel is unpacked, the build directory's DLLs are deleted, the
patched ``__init__.py`` is executed to learn the directory it adds, and a
MinGW-built stand-in for CPython's import (``AddDllDirectory`` then
``LoadLibraryExW`` with the flags CPython uses) loads the module under Wine and
calls into it. It fails on the unrepaired tree and on the repaired one without
the directory. The editor is checked against GNU objdump (which reads the import
names only from the import directory's own section), llvm-readobj-14 and
osslsigncode (PE checksum, Authenticode), on stripped and unstripped builds and on
one whose section table is full, so the headers grow.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import FUZZ_SETTINGS, INTERESTING_WORDS, mutate, mutations, positions_in
from omniwheel.audit import check_wheel
from omniwheel.binaries.pe import parse_pe, read_pe
from omniwheel.cli.main import main
from omniwheel.platforms import parse_platform
from omniwheel.rewrite.dll_directory import START, DllDirectoryError
from omniwheel.rewrite.pe_edit import PeChanges, PeEditError, edit_pe, pe_checksum
from omniwheel.rewrite.repair import RepairError, repair_wheel
from omniwheel.wheel import Wheel
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel
from realwheels import fetch
from toolrun import run

pytestmark = pytest.mark.toolchain

# arch -> (MinGW-w64 triple, wheel platform tag)
ARCHES = {"x86_64": ("x86_64-w64-mingw32", "win_amd64"), "i686": ("i686-w64-mingw32", "win32")}
BAR_C = "__declspec(dllexport) int bar_value(void) { return 2; }\n"
FOO_C = (
    "extern int bar_value(void);\n"
    "__declspec(dllexport) int foo_value(void) { return 40 + bar_value(); }\n"
)
EXT_C = """
extern int foo_value(void);
__declspec(dllexport) void *PyInit__ext(void) { return 0; }
__declspec(dllexport) int ext_value(void) { return foo_value() + 1; }
"""
OTHER_C = """
extern int bar_value(void);
__declspec(dllexport) void *PyInit__other(void) { return 0; }
__declspec(dllexport) int other_value(void) { return bar_value(); }
"""
FILLER = '__attribute__((used, section(".fill{n}"))) const char filler{n}[] = "{n}";\n'
# What CPython does for ``import demo._ext`` after ``os.add_dll_directory(argv[1])``:
# AddDllDirectory, then LoadLibraryExW with _PyImport_FindSharedFuncptrWindows's flags.
LOADER_C = """
#include <windows.h>
#include <stdio.h>
int wmain(int argc, wchar_t **argv) {
    if (argc != 3) return 64;
    if (argv[1][0] && !AddDllDirectory(argv[1])) {
        printf("AddDllDirectory failed: %lu\\n", GetLastError());
        return 2;
    }
    HMODULE module = LoadLibraryExW(
        argv[2], NULL, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS | LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR);
    if (!module) {
        printf("LoadLibraryExW failed: %lu\\n", GetLastError());
        return 3;
    }
    int (*value)(void) = (int (*)(void))GetProcAddress(module, "ext_value");
    if (!value) return 4;
    printf("ext_value=%d\\n", value());
    return 0;
}
"""
# Extension variants: name -> extra gcc arguments.
VARIANTS = {
    "_ext.pyd": ("-s",),
    "_ext_symbols.pyd": (),  # unstripped: a COFF symbol table after the sections
    "_ext_full.pyd": ("-s", "-Wl,--build-id", "filler.c"),  # full section table, debug data
}
SECTION_HEADER_SIZE = 40
RENAMES = {"foo.dll": "Foo-0123abcd.dll"}

Built = dict[str, Path]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Per architecture: ``deps/`` (bar.dll, Foo.dll), the extension variants, ``_other.pyd``
    (imports bar.dll), and ``bin/loader.exe`` alone in its directory."""
    result: dict[str, Built] = {}
    for arch, (triple, _) in ARCHES.items():
        gcc = f"{triple}-gcc"
        if shutil.which(gcc) is None:
            continue
        root = tmp_path_factory.mktemp(f"pe-{arch}")
        deps, out, bin_dir = root / "deps", root / "out", root / "bin"
        for directory in (deps, out, bin_dir):
            directory.mkdir()
        sources = {"bar.c": BAR_C, "foo.c": FOO_C, "ext.c": EXT_C, "other.c": OTHER_C,
                   "loader.c": LOADER_C}  # fmt: skip
        for name, text in sources.items():
            (root / name).write_text(text)
        run(gcc, "-O2", "-s", "-shared", "bar.c", "-o", deps / "bar.dll",
            f"-Wl,--out-implib,{root / 'libbar.a'}", cwd=root)  # fmt: skip
        run(gcc, "-O2", "-s", "-shared", "foo.c", "-o", deps / "Foo.dll", "-L.", "-lbar",
            f"-Wl,--out-implib,{root / 'libfoo.a'}", cwd=root)  # fmt: skip
        # Modules import "Foo.dll"; the finder matches names case-insensitively, as Windows.
        (deps / "Foo.dll").rename(deps / "foo.dll")
        for name, extra in VARIANTS.items():
            (root / "filler.c").write_text("")
            run(gcc, "-O2", "-shared", "ext.c", *extra, "-o", out / name, "-L.", "-lfoo", cwd=root)
        # Sections until GNU ld's headers have no room for one more section header: the
        # edit must then grow the headers and move every section's bytes.
        for count in range(1, 16):
            (root / "filler.c").write_text("".join(FILLER.format(n=n) for n in range(count)))
            full = out / "_ext_full.pyd"
            run(gcc, "-O2", "-shared", "ext.c", *VARIANTS[full.name], "-o", full, "-L.", "-lfoo",
                cwd=root)  # fmt: skip
            parsed, layout = read_pe(full.read_bytes())
            end = layout.section_table + SECTION_HEADER_SIZE * (len(parsed.sections) + 1)
            if end > parsed.sections[0].raw_offset:
                break
        run(gcc, "-O2", "-s", "-shared", "other.c", "-o", out / "_other.pyd", "-L.", "-lbar",
            cwd=root)  # fmt: skip
        run(gcc, "-O2", "-s", "-shared", "ext.c", "-o", out / "_ext_integrity.pyd", "-L.",
            "-lfoo", "-Wl,--forceinteg", cwd=root)  # fmt: skip
        run(gcc, "-O2", "-municode", "loader.c", "-o", bin_dir / "loader.exe", cwd=root)
        result[arch] = {
            "root": root,
            "deps": deps,
            "loader": bin_dir / "loader.exe",
            **{p.name: p for p in out.iterdir()},
        }
    return result


def _arch(built: dict[str, Built], arch: str) -> Built:
    if arch not in built:
        pytest.skip(f"needs {ARCHES[arch][0]}-gcc (gcc-mingw-w64-{arch.replace('_', '-')})")
    return built[arch]


def _objdump(arch: str, *args: str | Path) -> str:
    result = run(f"{ARCHES[arch][0]}-objdump", *args)
    assert "warning" not in result.stderr.lower(), result.stderr
    return result.stdout


def _header_value(dump: str, field: str) -> int:
    return int(re.search(rf"^{field}\s+([0-9a-fA-F]+)$", dump, re.MULTILINE)[1], 16)  # type: ignore[index]


# -- the editor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_edit_is_read_by_objdump_and_our_reader(
    built: dict[str, Built], arch: str, variant: str, tmp_path: Path
) -> None:
    files = _arch(built, arch)
    original = files[variant].read_bytes()
    before, layout = read_pe(original)
    # Our checksum is GNU ld's on the file it wrote.
    dump_before = _objdump(arch, "-p", files[variant])
    assert pe_checksum(original, layout) == _header_value(dump_before, "CheckSum") != 0
    edited_path = tmp_path / variant
    edited_path.write_bytes(edit_pe(original, PeChanges(dlls=RENAMES)))
    edited = edited_path.read_bytes()
    after, new_layout = read_pe(edited)
    expected = ["Foo-0123abcd.dll", *before.imports[1:]]
    assert before.imports[0] == "Foo.dll" and list(after.imports) == expected

    dump = _objdump(arch, "-p", edited_path)
    # objdump reads import names only from the import directory's section: the new one.
    assert "There is an import table in .ownames" in dump
    assert re.findall(r"DLL Name: (\S+)", dump) == expected
    assert _header_value(dump, "CheckSum") == pe_checksum(edited, new_layout)
    section = after.sections[-1]
    assert section.name == ".ownames" and len(after.sections) == len(before.sections) + 1
    assert _header_value(dump, "SizeOfImage") == section.virtual_address + 0x1000
    headers = re.search(r"\.ownames\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+2\*\*\d+\n\s+(.*)",
                        _objdump(arch, "-h", edited_path))  # fmt: skip
    assert headers is not None
    assert int(headers[1], 16) == section.virtual_size
    assert int(headers[2], 16) - before.image_base == section.virtual_address
    assert int(headers[3], 16) == section.raw_offset
    assert headers[4] == "CONTENTS, ALLOC, LOAD, READONLY, DATA"

    grew = variant == "_ext_full.pyd"
    size_of_headers = _header_value(dump_before, "SizeOfHeaders")
    assert _header_value(dump, "SizeOfHeaders") == size_of_headers + (0x200 if grew else 0)
    for old, new in zip(before.sections, after.sections, strict=False):
        if old.raw_size:  # every section's bytes moved by the headers' growth, unchanged
            assert new.raw_offset == old.raw_offset + (0x200 if grew else 0)
            assert new.virtual_address == old.virtual_address
    if variant == "_ext_symbols.pyd":  # the symbol table moved with PointerToSymbolTable
        symbols = _objdump(arch, "-t", edited_path)
        original_symbols = _objdump(arch, "-t", files[variant])
        assert symbols == original_symbols.replace(str(files[variant]), str(edited_path))
        assert "ext_value" in symbols
    if grew:  # objdump reads the CodeView record at the debug entry's moved file offset
        debug = r"CodeView \w+ \w+ (\w+)\n(\(format RSDS .*\))"
        old_entry, new_entry = re.search(debug, dump_before), re.search(debug, dump)
        assert old_entry is not None and new_entry is not None
        assert int(new_entry[1], 16) == int(old_entry[1], 16) + 0x200
        assert new_entry[2] == old_entry[2]
    if shutil.which("llvm-readobj-14"):
        readobj = run("llvm-readobj-14", "--coff-imports", edited_path).stdout
        assert re.findall(r"^  Name: (\S+)", readobj, re.MULTILINE) == expected


def test_edit_leaves_unrenamed_images_alone(built: dict[str, Built]) -> None:
    original = _arch(built, "x86_64")["_ext.pyd"].read_bytes()
    assert edit_pe(original, PeChanges(dlls={"nothere.dll": "x-0123abcd.dll"})) == original
    assert edit_pe(original, PeChanges(dlls={"FOO.DLL": "Foo.dll"})) == original


def test_delay_imports_are_renamed_in_place(tmp_path: Path) -> None:
    """lld-link fills the delay-import directory (GNU ld does not); the delay-load code
    points at its descriptors, so they stay and only their names move."""
    tools = ("clang-14", "lld-link-14", "llvm-dlltool-14", "llvm-readobj-14")
    if not all(shutil.which(tool) for tool in tools):
        pytest.skip(f"needs {', '.join(tools)}")
    (tmp_path / "foo.def").write_text("LIBRARY Foo.dll\nEXPORTS\n  foo_value\n")
    (tmp_path / "k32.def").write_text("LIBRARY KERNEL32.dll\nEXPORTS\n  Sleep\n")
    (tmp_path / "ext.c").write_text(
        "__declspec(dllimport) int foo_value(void);\n"
        "__declspec(dllimport) void Sleep(unsigned long);\n"
        "__declspec(dllexport) int ext_value(void) { Sleep(0); return foo_value(); }\n"
        "void *__delayLoadHelper2(void *descriptor, void *slot) { return slot; }\n"
    )
    for definition in ("foo", "k32"):
        run("llvm-dlltool-14", "-m", "i386:x86-64", "-d", f"{definition}.def", "-l",
            f"{definition}.lib", cwd=tmp_path)  # fmt: skip
    run("clang-14", "-target", "x86_64-pc-windows-msvc", "-fuse-ld=lld", "-nostdlib", "-shared",
        "ext.c", "foo.lib", "k32.lib", "-Wl,/noentry", "-Wl,/delayload:Foo.dll", "-o", "ext.dll",
        cwd=tmp_path)  # fmt: skip
    original = (tmp_path / "ext.dll").read_bytes()
    before = parse_pe(original)
    assert (before.imports, before.delay_imports) == (("KERNEL32.dll",), ("Foo.dll",))
    edited = edit_pe(original, PeChanges(dlls=RENAMES))
    (tmp_path / "edited.dll").write_bytes(edited)
    after = parse_pe(edited)
    assert (after.imports, after.delay_imports) == (("KERNEL32.dll",), ("Foo-0123abcd.dll",))
    readobj = run("llvm-readobj-14", "--coff-imports", tmp_path / "edited.dll").stdout
    assert re.findall(r"^  Name: (\S+)", readobj, re.MULTILINE) == [
        "KERNEL32.dll",
        "Foo-0123abcd.dll",
    ]
    # The import directory did not move; the delay descriptor stayed where the code expects it.
    assert after.data_directories[1] == before.data_directories[1]
    assert after.data_directories[13] == before.data_directories[13]


def test_signature_is_dropped_and_the_result_can_be_signed_again(
    built: dict[str, Built], make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    if not (shutil.which("osslsigncode") and shutil.which("openssl")):
        pytest.skip("needs osslsigncode and openssl")
    files = _arch(built, "x86_64")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
        "-subj", "/CN=omniwheel test", "-days", "2")  # fmt: skip
    signed, edited, resigned = (tmp_path / n for n in ("signed.pyd", "edited.pyd", "re.pyd"))
    sign = ("osslsigncode", "sign", "-certs", cert, "-key", key, "-in")
    run(*sign, files["_ext.pyd"], "-out", signed)
    assert parse_pe(signed.read_bytes()).is_signed

    edited.write_bytes(edit_pe(signed.read_bytes(), PeChanges(dlls=RENAMES)))
    parsed, layout = read_pe(edited.read_bytes())
    assert not parsed.is_signed and parsed.imports[0] == "Foo-0123abcd.dll"
    verify = subprocess.run(["osslsigncode", "verify", "-CAfile", cert, "-in", edited],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert verify.returncode != 0 and "No signature found" in verify.stderr
    # osslsigncode prints one checksum when the stored one is right, two when it is not.
    assert re.findall(r"PE checksum\s*: (\w+)", verify.stdout) == [
        f"{pe_checksum(edited.read_bytes(), layout):08X}"
    ]
    run(*sign, edited, "-out", resigned)
    verified = run("osslsigncode", "verify", "-CAfile", cert, "-in", resigned).stdout
    assert "Signature verification: ok" in verified

    # Repair reports it per binary.
    module = f"demo/_ext{_suffix('x86_64')}"
    source = _wheel(make_wheel, "x86_64", {"demo/__init__.py": INIT, module: signed.read_bytes()})
    report = repair_wheel(source, tmp_path / "out", lib_path=[files["deps"]])
    assert [(r.member, r.signature_removed) for r in report.rewritten] == [
        (module, True),
        (report.vendored[0].member, False),  # the copy of Foo.dll was never signed
    ]


def test_images_the_editor_refuses(built: dict[str, Built]) -> None:
    files = _arch(built, "x86_64")
    with pytest.raises(PeEditError, match="FORCE_INTEGRITY"):
        edit_pe(files["_ext_integrity.pyd"].read_bytes(), PeChanges(dlls=RENAMES))
    # No toolchain here binds imports: give a real build a bound-import directory entry.
    image = bytearray(files["_ext.pyd"].read_bytes())
    _, layout = read_pe(image)
    struct.pack_into("<II", image, layout.directories + 8 * 11, 0x300, 0x20)
    with pytest.raises(PeEditError, match="bound"):
        edit_pe(bytes(image), PeChanges(dlls=RENAMES))
    with pytest.raises(PeEditError, match="not a PE image"):
        edit_pe(b"MZ" + bytes(100), PeChanges(dlls=RENAMES))


@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzz_mutated_images_raise_only_pe_edit_error(
    built: dict[str, Built], data: st.DataObject
) -> None:
    original = _arch(built, "x86_64")[data.draw(st.sampled_from(list(VARIANTS)))].read_bytes()
    # Most edits land in the headers, where every size and offset the edit follows lives.
    positions = positions_in(range(0x400), range(len(original)))
    edits = mutations(positions, words=(*INTERESTING_WORDS, 0x1000), byte_orders=("<I",))
    try:
        edited = edit_pe(mutate(data, original, edits), PeChanges(dlls=RENAMES))
    except PeEditError:
        return
    parse_pe(edited)  # what it writes, it can read back


# -- repair ------------------------------------------------------------------------------------


def _wheel(make_wheel: Callable[..., Path], arch: str, files: dict[str, bytes]) -> Path:
    tag = ARCHES[arch][1]
    return make_wheel(f"demo-1.0-cp313-cp313-{tag}.whl", files, purelib=False)


def _suffix(arch: str) -> str:
    platform = parse_platform(ARCHES[arch][1], python="3.13")
    return platform.family.extension_suffixes(platform)[0]


def _own_deps(files: Built, tmp_path: Path) -> Path:
    """A copy of the dependencies this test may delete."""
    return Path(shutil.copytree(files["deps"], tmp_path / "deps"))


INIT = b'"""The demo package."""\n\nVALUE = 1\n'


@pytest.fixture(scope="session")
def wine(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs a Windows program under Wine in a private prefix (created on first use)."""
    binary = shutil.which("wine64") or (
        "/usr/lib/wine/wine64" if Path("/usr/lib/wine/wine64").is_file() else None
    )
    if binary is None:
        pytest.skip("needs wine64 (apt-get install wine64)")
    env = {
        **os.environ,
        "WINEPREFIX": str(tmp_path_factory.mktemp("wine") / "prefix"),
        "WINEDEBUG": "-all",
        "WINEDLLOVERRIDES": "mscoree,mshtml=d",  # no Mono or Gecko installer
    }

    def wine_run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, *map(str, args)], capture_output=True, text=True,
                              env=env, timeout=600, check=False)  # fmt: skip

    return wine_run


def _windows(path: Path) -> str:
    """The path as Wine's Z: drive (the host's root) spells it."""
    return "Z:" + str(path).replace("/", "\\")


def _added_directory(init: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Execute the patched ``__init__.py``; the directory it gives os.add_dll_directory."""
    added: list[str] = []
    monkeypatch.setattr(os, "add_dll_directory", added.append, raising=False)
    namespace = {"__file__": str(init), "__name__": "demo"}
    exec(compile(init.read_bytes(), str(init), "exec"), namespace)
    assert namespace["VALUE"] == 1  # the module itself still runs
    (directory,) = added
    return Path(directory)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("layout", ["package", "headers-grow", "top-level"])
def test_repaired_module_loads_under_wine(
    built: dict[str, Built], arch: str, layout: str, make_wheel: Callable[..., Path],
    wine: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    files = _arch(built, arch)
    if arch == "i686" and not Path("/usr/lib/wine/wine").is_file():
        pytest.skip("32-bit DLLs need wine32, which this machine cannot install (no i386 "
                    "packages); the i686 edit is checked by objdump above")  # fmt: skip
    ext = files["_ext_full.pyd" if layout == "headers-grow" else "_ext.pyd"].read_bytes()
    module = f"_ext{_suffix(arch)}" if layout == "top-level" else f"demo/_ext{_suffix(arch)}"
    contents = {module: ext} if layout == "top-level" else {"demo/__init__.py": INIT, module: ext}
    source = _wheel(make_wheel, arch, contents)
    deps = _own_deps(files, tmp_path)
    report = repair_wheel(source, tmp_path / "out", lib_path=[deps])
    assert report.status == "repaired" and report.output is not None
    shutil.rmtree(deps)  # only the wheel's copies are left to load

    def loads(tree: Path, directory: str) -> subprocess.CompletedProcess[str]:
        return wine(files["loader"], directory, _windows(tree / module))

    repaired, unrepaired = tmp_path / "site", tmp_path / "unrepaired"
    zipfile.ZipFile(report.output).extractall(repaired)
    zipfile.ZipFile(source).extractall(unrepaired)
    libs = "" if layout == "top-level" else "demo.libs"
    assert sorted(p.name.split("-")[0] for p in (repaired / libs).glob("*.dll")) == ["Foo", "bar"]
    if layout == "top-level":
        assert report.patched == []  # the loader looks beside the module
        directory = ""
    else:
        assert [(p.member, p.dll_directory, p.created) for p in report.patched] == [
            ("demo/__init__.py", "demo.libs", False)
        ]
        added = _added_directory(repaired / "demo" / "__init__.py", monkeypatch)
        assert added == repaired / "demo.libs"
        directory = _windows(added)
        # Without the directory the patch adds, Windows does not find the copies.
        refused = loads(repaired, "")
        assert refused.returncode == 3 and "LoadLibraryExW failed: 126" in refused.stdout
    loaded = loads(repaired, directory)
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "ext_value=43"), loaded.stderr
    # The unrepaired wheel adds no directory, and nothing beside it is Foo.dll.
    unrepaired_run = loads(unrepaired, "")
    assert unrepaired_run.returncode == 3, unrepaired_run.stdout
    assert "LoadLibraryExW failed: 126" in unrepaired_run.stdout  # ERROR_MOD_NOT_FOUND


def test_repair_json_check_and_a_second_repair(
    built: dict[str, Built], make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    files = _arch(built, "x86_64")
    suffix = _suffix("x86_64")
    ext, other = f"demo/_ext{suffix}", f"demo/_other{suffix}"
    source = _wheel(make_wheel, "x86_64", {
        "demo/__init__.py": INIT,
        ext: files["_ext.pyd"].read_bytes(),
        other: files["_other.pyd"].read_bytes(),
    })  # fmt: skip
    deps = _own_deps(files, tmp_path)
    # First without bar.dll: Foo.dll's copy and _other keep needing it.
    first_dir = tmp_path / "first"
    arguments = ["repair", str(source), "--lib-path", str(deps), "-w", str(first_dir), "--json"]
    assert main([*arguments, "--exclude", "bar.dll"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    (foo,) = entry["vendored"]
    assert foo["member"] == f"demo.libs/{Path(foo['member']).name}"
    assert re.fullmatch(r"Foo-[0-9a-f]{8}\.dll", Path(foo["member"]).name)
    assert (foo["library"], Path(foo["source"]).name) == ("Foo.dll", "foo.dll")
    assert entry["patched"] == [
        {"member": "demo/__init__.py", "dll_directory": "demo.libs", "created": False}
    ]
    assert [(r["member"], r["references"], r["signature_removed"]) for r in entry["rewritten"]] == [
        (ext, {"Foo.dll": Path(foo["member"]).name}, False),
    ]
    first = Path(entry["output"])
    assert [e["library"] for e in entry["excluded"]] == ["bar.dll"]

    # Then again with bar.dll: vendored, the same __init__.py needs no second patch.
    second_dir = tmp_path / "second"
    assert main(["repair", str(first), "--lib-path", str(deps), "-w", str(second_dir),
                 "--json"]) == 0  # fmt: skip
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    assert [Path(v["member"]).name.split("-")[0] for v in entry["vendored"]] == ["bar"]
    assert entry["patched"] == []
    # The new copy imports nothing to rename: only the two binaries that name it changed.
    assert sorted(r["member"] for r in entry["rewritten"]) == sorted([other, foo["member"]])
    output = Path(entry["output"])
    with Wheel.open(output) as wheel:
        wheel.verify()  # every member against RECORD
        assert wheel.read_bytes("demo/__init__.py").count(START.encode()) == 1
        names = {m.name for m in wheel.members()}
    assert f"demo.libs/{Path(entry['vendored'][0]['member']).name}" in names
    assert not check_wheel(output).findings
    assert main(["check", str(output)]) == 0
    capsys.readouterr()
    # A repaired wheel has nothing left to vendor: nothing is written.
    third = repair_wheel(output, tmp_path / "third", lib_path=[deps])
    assert (third.status, third.output, third.patched) == ("unchanged", str(output), [])
    assert not (tmp_path / "third").exists()


def test_namespace_and_data_layouts(
    built: dict[str, Built], make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    files = _arch(built, "x86_64")
    suffix = _suffix("x86_64")
    ext = files["_ext.pyd"].read_bytes()
    source = _wheel(make_wheel, "x86_64", {
        "ns/sub/__init__.py": b"",  # a regular package inside the namespace package ns
        f"ns/sub/_ext{suffix}": ext,
        f"bare/_ext{suffix}": ext,  # a namespace package: its __init__.py is created
        f"demo-1.0.data/platlib/plat/_ext{suffix}": ext,
    })  # fmt: skip
    report = repair_wheel(source, tmp_path / "out", lib_path=[files["deps"]])
    assert [(p.member, p.created) for p in report.patched] == [
        ("ns/sub/__init__.py", False),
        ("bare/__init__.py", True),
        ("demo-1.0.data/platlib/plat/__init__.py", True),
    ]
    assert report.output is not None
    with Wheel.open(Path(report.output)) as wheel:
        assert "ns/__init__.py" not in {m.name for m in wheel.members()}
        text = wheel.read_bytes("ns/sub/__init__.py").decode()
    assert "'..', '..', 'demo.libs'" in text
    cli = ["repair", str(source), "--lib-path", str(files["deps"]), "-w", str(tmp_path / "cli")]
    assert main(cli) == 0
    printed = capsys.readouterr().out
    assert "Patched to add the DLL directory" in printed and "bare/__init__.py" in printed


def test_what_repair_refuses(
    built: dict[str, Built], make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    files = _arch(built, "x86_64")
    ext = {
        "demo/__init__.py": INIT,
        f"demo/_ext{_suffix('x86_64')}": files["_ext.pyd"].read_bytes(),
    }
    missing = _wheel(make_wheel, "x86_64", ext)
    # KERNEL32.dll and msvcrt.dll are Windows's: only Foo.dll is missing.
    assert main(["repair", str(missing), "--lib-path", str(tmp_path), "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    assert entry["error"].endswith(
        "cannot find Foo.dll (needed by the wheel's binaries): add the directory holding it "
        "with --lib-path, or --exclude it"
    )
    source = _wheel(make_wheel, "x86_64", {
        "demo/__init__.py": INIT,
        "demo-1.0.data/scripts/tool.exe": files["_ext.pyd"].read_bytes(),
    })  # fmt: skip
    with pytest.raises(DllDirectoryError, match=r"tool\.exe is installed outside site-packages"):
        repair_wheel(source, tmp_path / "out", lib_path=[files["deps"]])
    integrity = _wheel(make_wheel, "x86_64", {
        "demo/__init__.py": INIT,
        f"demo/_ext{_suffix('x86_64')}": files["_ext_integrity.pyd"].read_bytes(),
    })  # fmt: skip
    with pytest.raises(RepairError, match=r"demo/_ext.*: cannot rename .*FORCE_INTEGRITY"):
        repair_wheel(integrity, tmp_path / "out", lib_path=[files["deps"]])
    assert not (tmp_path / "out").exists()


# -- a real wheel --------------------------------------------------------------------------------


def _statements_without_patch(text: str) -> str:
    """The module's statements with the patch (a def, its call, a del) taken out."""
    body = ast.parse(text).body
    start = next(i for i, s in enumerate(body) if isinstance(s, ast.FunctionDef)
                 and s.name == "_omniwheel_add_dll_directory")  # fmt: skip
    return ast.dump(ast.Module(body=body[:start] + body[start + 3 :], type_ignores=[]))


@pytest.mark.network
def test_real_wheel_keeps_its_system_imports(built: dict[str, Built], tmp_path: Path) -> None:
    """markupsafe's MSVC-built module imports only what Windows and CPython provide."""
    files = _arch(built, "x86_64")
    real = fetch("win-amd64")
    report = repair_wheel(real, tmp_path / "out", lib_path=[files["deps"]])
    assert (report.status, report.output, report.vendored, report.missing) == (
        "unchanged", str(real), [], []
    )  # fmt: skip
    assert not (tmp_path / "out").exists()

    # With a module of ours beside it, only ours is edited; theirs stays byte for byte.
    speedups = "markupsafe/_speedups.cp313-win_amd64.pyd"
    mixed = tmp_path / real.name
    ours = "markupsafe/_ext.cp313-win_amd64.pyd"
    rewrite_wheel(real, WheelChanges(files={ours: files["_ext.pyd"].read_bytes()}), mixed)
    repaired = repair_wheel(mixed, tmp_path / "out", lib_path=[files["deps"]])
    assert [v.name for v in repaired.vendored] == ["Foo.dll", "bar.dll"]
    assert [r.member for r in repaired.rewritten] == [ours, repaired.vendored[0].member]
    assert repaired.output is not None
    with Wheel.open(real) as before, Wheel.open(Path(repaired.output)) as after:
        assert after.read_bytes(speedups) == before.read_bytes(speedups)
        assert parse_pe(after.read_bytes(speedups)).imports == (
            "python313.dll", "KERNEL32.dll", "VCRUNTIME140.dll", "api-ms-win-crt-runtime-l1-1-0.dll"
        )  # fmt: skip
        ext = parse_pe(after.read_bytes(ours))
        assert ext.imports[1:] == ("KERNEL32.dll", "msvcrt.dll")  # system DLLs keep their names
        init_before = before.read_bytes("markupsafe/__init__.py").decode()
        init_after = after.read_bytes("markupsafe/__init__.py").decode()
    assert _statements_without_patch(init_after) == ast.dump(ast.parse(init_before))
    assert not check_wheel(Path(repaired.output)).findings

    # The editor on the MSVC layout (load config, CodeView debug data in .rdata, resources).
    original, edited = tmp_path / "speedups-original.pyd", tmp_path / "speedups.pyd"
    with Wheel.open(real) as wheel:
        original.write_bytes(wheel.read_bytes(speedups))
    renames = {"VCRUNTIME140.dll": "v-0123abcd.dll"}
    edited.write_bytes(edit_pe(original.read_bytes(), PeChanges(dlls=renames)))
    dump = _objdump("x86_64", "-p", edited)
    assert re.findall(r"DLL Name: (\S+)", dump) == [
        "python313.dll", "KERNEL32.dll", "v-0123abcd.dll", "api-ms-win-crt-runtime-l1-1-0.dll"
    ]  # fmt: skip
    assert _header_value(dump, "CheckSum") == 0  # MSVC left it 0, and so does the edit
    debug = re.compile(r"There is a debug directory in \.rdata.*?\n\n(.*?)\n\n", re.DOTALL)
    entries = [debug.search(text) for text in (dump, _objdump("x86_64", "-p", original))]
    assert entries[0] is not None and entries[1] is not None
    assert entries[0][1] == entries[1][1]
