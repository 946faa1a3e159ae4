"""Mach-O editing, ad-hoc signing and macOS/iOS repair on binaries built with clang-14/ld64.lld-14.

ld64.lld-14 signs every arm64 output ad hoc ("linker-signed"), so the linker is
also the reference for our signer: re-signing its output must give back its
bytes exactly. Edited files are checked three ways: llvm-otool-14 and
llvm-objdump-14 read them, macholib reads them, and every page hash in the new
CodeDirectory matches the bytes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from macholib.MachO import MachO  # type: ignore[import-untyped]

from omniwheel.audit import check_wheel
from omniwheel.binaries.macho import parse_macho
from omniwheel.platforms import parse_platform
from omniwheel.rewrite.codesign import sign_adhoc, verify_page_hashes
from omniwheel.rewrite.macho_edit import MachOChanges, MachOEditError, edit_macho, join_macho
from omniwheel.rewrite.repair import repair_wheel
from omniwheel.wheel import Wheel
from toolrun import run

pytestmark = pytest.mark.toolchain
TOOLS = ("clang-14", "ld64.lld-14", "llvm-otool-14", "llvm-objdump-14", "llvm-lipo-14")
if not all(shutil.which(tool) for tool in TOOLS):
    pytest.skip(f"needs {', '.join(TOOLS)}", allow_module_level=True)

BAZ_C = "int baz(void) { return 2; }\n"
BAR_C = "extern int baz(void);\nint bar(void) { return 40 + baz(); }\n"
EXT_C = "extern int bar(void);\nvoid *PyInit__ext(void) { return (void *)(long)bar(); }\n"
BAR_INSTALL_NAME = "/opt/omniwheel-test/lib/libbar.dylib"  # where a build would have put it
# name -> (clang target, how extension modules are linked there, wheel platform tag)
TARGETS = {
    "macos": ("arm64-apple-macos11.0", "-bundle", "macosx_11_0_arm64"),
    "ios": ("arm64-apple-ios13.0", "-dynamiclib", "ios_13_0_arm64_iphoneos"),
}
# ld64.lld-14 signs macOS arm64 output by itself; iOS output only when asked.
SIGN = {"macos": (), "ios": ("-Wl,-adhoc_codesign",)}

Built = dict[str, Path]


def _link(out: Path, target: str, kind: str, *inputs: str | Path) -> Path:
    """Without libSystem, dyld_stub_binder is left for dyld to provide."""
    flags = ("-fuse-ld=lld", "-nostdlib", "-Wl,-undefined,dynamic_lookup")
    run("clang-14", "-target", target, *flags, kind, "-o", out, *inputs)
    return out


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Per target: libbaz (@rpath), libbar (absolute install name, LC_RPATH to the build
    directory), the extension linking libbar; plus a macOS universal extension and one
    linked without header padding."""
    root = tmp_path_factory.mktemp("macho-repair")
    for name, text in (("baz.c", BAZ_C), ("bar.c", BAR_C), ("ext.c", EXT_C)):
        (root / name).write_text(text)
    built: Built = {}
    for name, (target, kind, _) in TARGETS.items():
        out = root / name
        out.mkdir()
        pad = ("-Wl,-headerpad_max_install_names", *SIGN[name])
        baz = _link(out / "libbaz.dylib", target, "-dynamiclib", root / "baz.c",
                    "-Wl,-install_name,@rpath/libbaz.dylib", *pad)  # fmt: skip
        bar = _link(out / "libbar.dylib", target, "-dynamiclib", root / "bar.c", baz,
                    f"-Wl,-install_name,{BAR_INSTALL_NAME}", f"-Wl,-rpath,{out}", *pad)  # fmt: skip
        built[f"{name}/ext"] = _link(out / "_ext.so", target, kind, root / "ext.c", bar, *pad)
        built[f"{name}/bar"], built[f"{name}/baz"] = bar, baz
        built[f"{name}/dir"] = out
    tight = root / "tight"
    tight.mkdir()
    target, kind, _ = TARGETS["macos"]
    built["tight"] = _link(tight / "_ext.so", target, kind, root / "ext.c", built["macos/bar"])
    x86_bar = _link(root / "libbar-x86_64.dylib", "x86_64-apple-macos10.13", "-dynamiclib",
                    root / "baz.c", f"-Wl,-install_name,{BAR_INSTALL_NAME}")  # fmt: skip
    x86 = _link(root / "ext-x86_64.so", "x86_64-apple-macos10.13", "-bundle", root / "ext.c",
                "-Wl,-headerpad_max_install_names", x86_bar)  # fmt: skip
    built["universal"] = root / "ext-universal.so"
    run("llvm-lipo-14", "-create", x86, built["macos/ext"], "-output", built["universal"])
    return built


def _otool_names(path: Path) -> list[str]:
    """Install names as llvm-otool-14 -L prints them (first line is the file name)."""
    lines = run("llvm-otool-14", "-L", path).stdout.splitlines()[1:]
    return [line.split(" (compatibility")[0].strip() for line in lines]


def _macholib_names(path: Path, cmd: int = 0xC) -> list[list[str]]:
    """Per slice, the names of LC_LOAD_DYLIB (or ``cmd``) commands as macholib reads them."""
    return [
        [data.rstrip(b"\0").decode() for command, _, data in header.commands if command.cmd == cmd]
        for header in MachO(str(path)).headers
    ]


LC_ID_DYLIB = 0xD


@pytest.mark.parametrize(
    "name", ["macos/ext", "macos/bar", "macos/baz", "ios/ext", "ios/bar", "ios/baz"]
)
def test_signature_is_the_linkers_byte_for_byte(built: Built, name: str) -> None:
    original = built[name].read_bytes()
    piece = parse_macho(original).slices[0]
    assert piece.code_directory is not None  # lld signed it
    assert sign_adhoc(original, piece) == original


@pytest.mark.parametrize("target", TARGETS)
def test_edit_rewrites_names_and_resigns(built: Built, target: str, tmp_path: Path) -> None:
    new_name = "@loader_path/.dylibs/libbar-0123abcd.dylib"
    edited = tmp_path / "_ext.so"
    edited.write_bytes(
        edit_macho(built[f"{target}/ext"].read_bytes(), MachOChanges({BAR_INSTALL_NAME: new_name}))
    )
    names = _otool_names(edited)  # a dylib's own id comes first
    assert names[-1] == new_name and BAR_INSTALL_NAME not in names
    assert _macholib_names(edited) == [[new_name]]
    headers = run("llvm-objdump-14", "--macho", "--private-headers", edited).stdout
    assert "LC_CODE_SIGNATURE" in headers and new_name in headers
    assert verify_page_hashes(edited.read_bytes()) == []
    original = built[f"{target}/ext"].read_bytes()
    old_directory = parse_macho(original).slices[0].code_directory
    new_directory = parse_macho(edited.read_bytes()).slices[0].code_directory
    assert old_directory is not None and new_directory is not None
    assert (new_directory.identifier, new_directory.flags) == (
        old_directory.identifier,
        old_directory.flags,
    )
    # The edit changes page 0 (the load commands) and nothing else: under the old
    # signature exactly that page fails, under the new one none does.
    code_limit = old_directory.code_limit
    assert new_directory.code_limit == code_limit and len(edited.read_bytes()) == len(original)
    stale = edited.read_bytes()[:code_limit] + original[code_limit:]
    assert verify_page_hashes(stale) == [0]


def test_edit_sets_the_dylib_id(built: Built, tmp_path: Path) -> None:
    edited = tmp_path / "libbar.dylib"
    edited.write_bytes(
        edit_macho(built["ios/bar"].read_bytes(), MachOChanges(id_dylib="@rpath/libbar-1.dylib"))
    )
    assert _macholib_names(edited, LC_ID_DYLIB) == [["@rpath/libbar-1.dylib"]]
    assert parse_macho(edited.read_bytes()).slices[0].id_dylib == "@rpath/libbar-1.dylib"
    assert verify_page_hashes(edited.read_bytes()) == []


def test_universal_file_is_edited_slice_by_slice(built: Built, tmp_path: Path) -> None:
    new_name = "@loader_path/.dylibs/libbar-0123abcd.dylib"
    edited = tmp_path / "universal.so"
    edited.write_bytes(
        edit_macho(built["universal"].read_bytes(), MachOChanges({BAR_INSTALL_NAME: new_name}))
    )
    assert run("llvm-lipo-14", "-archs", edited).stdout.split() == ["x86_64", "arm64"]
    macho = parse_macho(edited.read_bytes())
    assert [piece.dylibs[0].path for piece in macho.slices] == [new_name, new_name]
    assert _macholib_names(edited) == [[new_name], [new_name]]
    signed = [piece for piece in macho.slices if piece.code_directory is not None]
    assert [piece.arch for piece in signed] == ["arm64"]  # ld64.lld signs arm64 only
    assert verify_page_hashes(edited.read_bytes(), signed[0]) == []
    # The new signature is as long as the old, so the slices stay where lipo put them.
    original = parse_macho(built["universal"].read_bytes())
    assert [p.offset for p in macho.slices] == [p.offset for p in original.slices]


def test_join_is_llvm_lipo_create_byte_for_byte(built: Built) -> None:
    """Thin files joined as llvm-lipo-14 -create joins them (x86_64 first, arm64 last, each
    at its segments' alignment), whatever order they are given in."""
    arm64 = built["macos/ext"].read_bytes()
    x86_64 = (built["macos/dir"].parent / "ext-x86_64.so").read_bytes()
    expected = built["universal"].read_bytes()
    assert join_macho([arm64, x86_64]) == expected
    assert join_macho([x86_64, arm64]) == expected
    with pytest.raises(
        MachOEditError, match=r"two files of one architecture.*\['arm64', 'arm64'\]"
    ):
        join_macho([arm64, arm64])
    with pytest.raises(MachOEditError, match="cannot join universal files"):
        join_macho([expected])


def test_no_room_for_longer_names_is_refused(built: Built) -> None:
    long_name = "@loader_path/" + "x" * 600 + "/libbar.dylib"
    with pytest.raises(MachOEditError, match="headerpad_max_install_names"):
        edit_macho(built["tight"].read_bytes(), MachOChanges({BAR_INSTALL_NAME: long_name}))


@pytest.mark.parametrize("target", TARGETS)
def test_repair_vendors_into_dylibs(
    built: Built, target: str, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    _, _, tag = TARGETS[target]
    platform = parse_platform(tag, python="3.13")
    member = f"demo/_ext{platform.family.extension_suffixes(platform)[0]}"
    source = make_wheel(
        f"demo-1.0-cp313-cp313-{tag}.whl",
        {"demo/__init__.py": b"", member: built[f"{target}/ext"].read_bytes()},
        purelib=False,
    )
    assert check_wheel(source).has_errors  # libbar is outside the wheel
    report = repair_wheel(source, tmp_path / "out", lib_path=[built[f"{target}/dir"]])
    assert report.status == "repaired" and report.platform_tags == (tag,)
    bar, baz = report.vendored
    assert (bar.name, baz.name) == (BAR_INSTALL_NAME, "@rpath/libbaz.dylib")
    assert bar.member is not None and bar.member.startswith("demo/.dylibs/libbar-")
    assert baz.member is not None and baz.member.startswith("demo/.dylibs/libbaz-")
    output = Path(report.output or "")
    assert not check_wheel(output).findings
    with Wheel.open(output) as wheel:
        wheel.verify()
        files = {name: wheel.read_bytes(name) for name in (member, bar.member, baz.member)}
    for name, data in files.items():
        (tmp_path / Path(name).name).write_bytes(data)
        assert verify_page_hashes(data) == [], name
        run("llvm-objdump-14", "--macho", "--private-headers", tmp_path / Path(name).name)
    bar_file, baz_file = (Path(m).name for m in (bar.member, baz.member))
    assert _macholib_names(tmp_path / Path(member).name) == [[f"@loader_path/.dylibs/{bar_file}"]]
    assert _macholib_names(tmp_path / bar_file) == [[f"@loader_path/{baz_file}"]]
    assert _macholib_names(tmp_path / bar_file, LC_ID_DYLIB) == [[f"@rpath/{bar_file}"]]
    assert _otool_names(tmp_path / baz_file) == [f"@rpath/{baz_file}"]
