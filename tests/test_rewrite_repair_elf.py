"""ELF editing and Linux repair on libraries and extensions built here with gcc and clang-14/lld.

The proof the issue asks for: ``libfoo.so.1`` (which needs ``libbar.so.2`` and
glibc 2.25's ``getrandom``) is built outside every system path, an extension
module links it, and after ``repair`` — with the build directory deleted — the
wheel installs into a fresh venv and imports; ``auditwheel show`` names the
same manylinux tag. The editor itself is checked against GNU readelf and
llvm-readelf-14 on files from both linkers (GNU ld leaves spare dynamic slots,
lld does not) and for 32-bit, 64-bit, little- and big-endian targets.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.audit import check_wheel
from omniwheel.binaries.elf import parse_elf
from omniwheel.cli.main import main
from omniwheel.rewrite.elf_edit import ElfChanges, ElfEditError, edit_elf
from omniwheel.rewrite.repair import RepairError, repair_wheel
from omniwheel.wheel import Wheel
from toolrun import run

pytestmark = pytest.mark.toolchain
if not (shutil.which("gcc") and shutil.which("clang-14") and shutil.which("llvm-readelf-14")):
    pytest.skip("needs gcc, clang-14, lld-14 and llvm-readelf-14", allow_module_level=True)

BAR_C = "int bar_value(void) { return 2; }\n"
FOO_C = """
#include <sys/random.h>
extern int bar_value(void);
int foo_value(void) { char buffer[4]; getrandom(buffer, 4, 0); return 40 + bar_value(); }
"""
FOO_MAP = "FOO_1.0 { global: foo_value; local: *; };\n"
EXT_C = """
#include <Python.h>
extern int foo_value(void);
static PyObject *value(PyObject *self, PyObject *args) { return PyLong_FromLong(foo_value()); }
static PyMethodDef methods[] = {{"value", value, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""
# No headers and no libc, so clang can build it for any CPU without a sysroot.
CROSS_C = "extern int bar_value(void);\nint foo_value(void) { return 40 + bar_value(); }\n"
CROSS_TARGETS = {
    "aarch64": "aarch64-linux-gnu",
    "i686": "i686-linux-gnu",
    "ppc64": "powerpc64-linux-gnu",  # big-endian
    "ppc": "powerpc-linux-gnu",  # big-endian, 32-bit
    "armv7l": "armv7a-linux-gnueabihf",
}
PYTHON_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"
EXT_MEMBER = f"demo/_ext{sysconfig.get_config_var('EXT_SUFFIX')}"
# The test extra installs auditwheel beside the interpreter running the tests.
AUDITWHEEL = shutil.which("auditwheel", path=str(Path(sys.executable).parent)) or shutil.which(
    "auditwheel"
)

Built = dict[str, Path]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """gcc (GNU ld) builds for this machine, and clang-14 + ld.lld-14 builds for several CPUs."""
    root = tmp_path_factory.mktemp("elf-repair")
    for name, text in (("bar.c", BAR_C), ("foo.c", FOO_C), ("foo.map", FOO_MAP),
                       ("ext.c", EXT_C), ("cross.c", CROSS_C)):  # fmt: skip
        (root / name).write_text(text)
    gnu, lld = root / "gnu", root / "lld"
    gnu.mkdir()
    lld.mkdir()
    include = sysconfig.get_paths()["include"]
    for out, linker in ((gnu, "-fuse-ld=bfd"), (lld, "-fuse-ld=lld")):
        compiler = "gcc" if out is gnu else "clang-14"
        shared = [compiler, linker, "-shared", "-fPIC"]
        run(*shared, "-o", out / "libbar.so.2", "-Wl,-soname,libbar.so.2", root / "bar.c")
        run(*shared, "-o", out / "libfoo.so.1", "-Wl,-soname,libfoo.so.1",
            f"-Wl,--version-script={root / 'foo.map'}", root / "foo.c", "-L", out,
            "-l:libbar.so.2")  # fmt: skip
        run(*shared, f"-I{include}", "-o", out / "_ext.so", root / "ext.c", "-L", out,
            "-l:libfoo.so.1")  # fmt: skip
    (root / "main.c").write_text("int main(void) { return 0; }\n")
    run("gcc", "-o", gnu / "main", root / "main.c")
    built = {"gnu": gnu, "lld": lld}
    for arch, triple in CROSS_TARGETS.items():
        out = root / arch
        out.mkdir()
        cross = ["clang-14", f"--target={triple}", "-fuse-ld=lld", "-nostdlib", "-shared", "-fPIC"]
        run(*cross, "-o", out / "libbar.so.2", "-Wl,-soname,libbar.so.2", root / "bar.c")
        run(*cross, "-o", out / "libfoo.so.1", "-Wl,-soname,libfoo.so.1", root / "cross.c",
            "-L", out, "-l:libbar.so.2")  # fmt: skip
        built[arch] = out
    return built


def _dynamic(readelf: str, path: Path) -> dict[str, list[str]]:
    """NEEDED, SONAME and RUNPATH as ``readelf -d`` prints them, failing on any warning."""
    result = run(readelf, "-dW", path)
    assert not result.stderr, result.stderr
    found: dict[str, list[str]] = {}
    for kind, value in re.findall(r"\((NEEDED|SONAME|RUNPATH|RPATH)\)\s+[^\[]*\[([^\]]*)\]",
                                  result.stdout):  # fmt: skip
        found.setdefault(kind, []).append(value)
    return found


def _version_files(path: Path) -> list[str]:
    return re.findall(r"File: (\S+)", run("readelf", "-VW", path).stdout)


CHANGES = ElfChanges(
    needed={"libbar.so.2": "libbar-0123abcd.so.2"},
    soname="libfoo-89abcdef.so.1",
    runpath=["$ORIGIN", "$ORIGIN/../demo.libs"],
)


@pytest.mark.parametrize("variant", ["gnu", "lld", *CROSS_TARGETS])
def test_edit_agrees_with_both_readelfs(built: Built, variant: str) -> None:
    original = (built[variant] / "libfoo.so.1").read_bytes()
    edited_path = built[variant] / "libfoo-edited.so"
    edited_path.write_bytes(edit_elf(original, CHANGES))
    for readelf in ("readelf", "llvm-readelf-14"):
        before = _dynamic(readelf, built[variant] / "libfoo.so.1")
        assert before["NEEDED"][0] == "libbar.so.2"
        assert _dynamic(readelf, edited_path) == {
            "NEEDED": [CHANGES.needed.get(name, name) for name in before["NEEDED"]],
            "SONAME": ["libfoo-89abcdef.so.1"],
            "RUNPATH": ["$ORIGIN:$ORIGIN/../demo.libs"],
        }, readelf
        headers = run(readelf, "-lW", edited_path)
        assert not headers.stderr
    elf = parse_elf(edited_path.read_bytes())
    assert (elf.needed[0], elf.soname, elf.runpath, elf.rpath) == (
        "libbar-0123abcd.so.2",
        "libfoo-89abcdef.so.1",
        ("$ORIGIN", "$ORIGIN/../demo.libs"),
        (),
    )
    before = parse_elf(original)
    assert (elf.arch, elf.elf_class, elf.endianness) == (
        before.arch,
        before.elf_class,
        before.endianness,
    )


def test_version_needs_follow_the_rename(built: Built) -> None:
    """glibc matches each Elf_Verneed's file against the loaded sonames: it must be renamed."""
    ext = (built["gnu"] / "_ext.so").read_bytes()
    assert _version_files(built["gnu"] / "_ext.so") == ["libfoo.so.1"]
    edited = built["gnu"] / "_ext-edited.so"
    edited.write_bytes(edit_elf(ext, ElfChanges(needed={"libfoo.so.1": "libfoo-x.so.1"})))
    assert _version_files(edited) == ["libfoo-x.so.1"]
    assert dict(parse_elf(edited.read_bytes()).version_requirements)["libfoo-x.so.1"] == (
        "FOO_1.0",
    )


@pytest.mark.parametrize("variant", ["gnu", "lld"])
def test_edited_libraries_load(built: Built, variant: str, tmp_path: Path) -> None:
    """The renamed copies load through the new DT_RUNPATH; lld's files had no spare slot,
    so their dynamic table moved into the new segment."""
    libfoo = (built[variant] / "libfoo.so.1").read_bytes()
    libbar = (built[variant] / "libbar.so.2").read_bytes()
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "libbar-1.so.2").write_bytes(
        edit_elf(libbar, ElfChanges(soname="libbar-1.so.2"))
    )
    (tmp_path / "libfoo-1.so.1").write_bytes(
        edit_elf(
            libfoo,
            ElfChanges(needed={"libbar.so.2": "libbar-1.so.2"}, runpath=["$ORIGIN/libs"]),
        )
    )
    script = (
        "import ctypes, sys; "
        "print(ctypes.CDLL(sys.argv[1]).foo_value())"
    )  # fmt: skip
    result = run(sys.executable, "-c", script, tmp_path / "libfoo-1.so.1")
    assert result.stdout.strip() == "42"


def test_repeated_edit_reuses_strings_and_slots(built: Built) -> None:
    original = (built["lld"] / "libfoo.so.1").read_bytes()
    once = edit_elf(original, CHANGES)
    assert len(once) > len(original)
    assert edit_elf(once, CHANGES) == once


def test_no_change_is_identity(built: Built) -> None:
    original = (built["gnu"] / "libfoo.so.1").read_bytes()
    assert edit_elf(original, ElfChanges()) == original


def test_refuses_executables(built: Built) -> None:
    with pytest.raises(ElfEditError, match="executable"):
        edit_elf((built["gnu"] / "main").read_bytes(), CHANGES)


# -- repair -------------------------------------------------------------------------------


def _demo_wheel(make_wheel: Callable[..., Path], ext: Path) -> Path:
    return make_wheel(
        f"demo-1.0-{PYTHON_TAG}-{PYTHON_TAG}-linux_x86_64.whl",
        {"demo/__init__.py": b"from demo._ext import value\n", EXT_MEMBER: ext.read_bytes()},
        purelib=False,
    )


@pytest.fixture
def libraries(built: Built, tmp_path: Path) -> Path:
    """A private copy of the gnu build: the proof deletes it."""
    copy = tmp_path / "private-libs"
    shutil.copytree(built["gnu"], copy)
    return copy


def test_repair_installs_and_imports_without_the_original(
    libraries: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    source = _demo_wheel(make_wheel, libraries / "_ext.so")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    report = repair_wheel(source, tmp_path / "out", lib_path=[libraries])

    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest  # input untouched
    assert report.status == "repaired"
    assert [(lib.name, lib.needed_by) for lib in report.vendored] == [
        ("libfoo.so.1", (EXT_MEMBER,)),
        ("libbar.so.2", (report.vendored[0].member,)),
    ]
    assert all(re.fullmatch(r"demo\.libs/lib(foo|bar)-[0-9a-f]{8}\.so\.[12]", lib.member or "")
               for lib in report.vendored)  # fmt: skip
    output = Path(report.output or "")
    # libfoo needs GLIBC_2.25 (getrandom): nothing older than the manylinux_2_26 policy fits.
    assert report.platform_tags == ("manylinux_2_26_x86_64",)
    assert output.name == f"demo-1.0-{PYTHON_TAG}-{PYTHON_TAG}-manylinux_2_26_x86_64.whl"

    # The judgement made before writing is what reading the written wheel finds.
    result = check_wheel(output)
    assert not result.findings, result.findings
    assert report.check is not None
    assert [v.to_json() for v in report.check.verdicts] == [v.to_json() for v in result.verdicts]
    judged = sorted((b.member, b.binary) for b in report.check.binaries)
    assert judged == sorted((b.member, b.binary) for b in result.binaries)
    with Wheel.open(output) as wheel:
        wheel.verify()  # every RECORD row matches
        ext = parse_elf(wheel.read_bytes(EXT_MEMBER))
    assert ext.runpath == ("$ORIGIN/../demo.libs",)
    assert ext.needed[0] == Path(report.vendored[0].member or "").name

    shutil.rmtree(libraries)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        "--no-deps", "--no-index", output)  # fmt: skip
    imported = run(venv / "bin" / "python", "-c", "import demo; print(demo.value())", cwd=tmp_path)
    assert imported.stdout.strip() == "42"


@pytest.mark.skipif(AUDITWHEEL is None, reason="needs auditwheel (test extra)")
def test_auditwheel_agrees_on_the_tag(
    libraries: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    source = _demo_wheel(make_wheel, libraries / "_ext.so")
    report = repair_wheel(source, tmp_path / "out", lib_path=[libraries])
    shown = run(str(AUDITWHEEL), "show", report.output or "").stdout
    agreed = re.search(r'consistent with the\s+following platform tag:\s+"(\S+)"', shown)
    assert agreed is not None, shown
    assert agreed[1] == report.platform_tags[0]


def test_repair_is_deterministic(
    libraries: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    source = _demo_wheel(make_wheel, libraries / "_ext.so")
    first = repair_wheel(source, tmp_path / "a", lib_path=[libraries])
    second = repair_wheel(source, tmp_path / "b", lib_path=[libraries])
    assert Path(first.output or "").read_bytes() == Path(second.output or "").read_bytes()


def test_repair_asked_for_too_old_a_policy(
    libraries: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    from omniwheel.platforms import parse_platform

    source = _demo_wheel(make_wheel, libraries / "_ext.so")
    with pytest.raises(RepairError, match=r"libfoo\.so\.1 needs GLIBC_2\.25.*manylinux_2_17"):
        repair_wheel(
            source,
            tmp_path / "out",
            platform=parse_platform("manylinux_2_17_x86_64"),
            lib_path=[libraries],
        )
    assert not (tmp_path / "out").exists()


def test_cli_missing_library_is_one_line(
    built: Built,
    make_wheel: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = _demo_wheel(make_wheel, built["gnu"] / "_ext.so")
    assert main(["repair", str(source), "-w", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "cannot find libfoo.so.1" in err and "--lib-path" in err
    assert not (tmp_path / "out").exists()


def test_cli_json(
    libraries: Path, make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    source = _demo_wheel(make_wheel, libraries / "_ext.so")
    argv = ["repair", str(source), "--lib-path", str(libraries), "-w", str(tmp_path / "w")]
    assert main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (entry,) = document["wheels"]
    assert document["exit_status"] == 0
    assert set(entry) == {"path", "status", "output", "platform_tags", "vendored", "rewritten",
                          "excluded", "missing", "patched", "error"}  # fmt: skip
    assert entry["patched"] == []  # ELF references carry their search path
    assert entry["status"] == "repaired" and entry["error"] is None
    assert [item["library"] for item in entry["vendored"]] == ["libfoo.so.1", "libbar.so.2"]
    rewritten = {item["member"]: item for item in entry["rewritten"]}
    assert rewritten[EXT_MEMBER]["search_path"] == "$ORIGIN/../demo.libs"
    assert set(rewritten[EXT_MEMBER]) == {"member", "references", "search_path", "identity",
                                          "signed", "signature_removed"}  # fmt: skip


def test_exclude_leaves_the_library_external(
    libraries: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    source = _demo_wheel(make_wheel, libraries / "_ext.so")
    report = repair_wheel(source, tmp_path / "out", lib_path=[libraries], exclude=["libfoo.so.*"])
    assert report.vendored == []
    assert [(lib.name, lib.needed_by) for lib in report.excluded] == [
        ("libfoo.so.1", (EXT_MEMBER,))
    ]
    # Only a retag happened: the extension itself still needs GLIBC_2.2.5 at most.
    assert report.platform_tags[0].startswith("manylinux_2_5_")


# name -> (clang target, wheel platform tag): targets this host cannot run, so their
# libraries come only from --lib-path.
FOREIGN = {
    "android": ("aarch64-linux-android24", "android_24_arm64_v8a"),
    "musllinux": ("aarch64-linux-musl", "musllinux_1_2_aarch64"),
}


@pytest.mark.parametrize("family", FOREIGN)
def test_repair_for_a_foreign_target(
    family: str, tmp_path: Path, make_wheel: Callable[..., Path]
) -> None:
    from omniwheel.platforms import parse_platform

    target, tag = FOREIGN[family]
    (tmp_path / "bar.c").write_text(BAR_C)
    (tmp_path / "ext.c").write_text("extern int bar_value(void);\nint PyInit__ext(void) "
                                    "{ return bar_value(); }\n")  # fmt: skip
    cross = ["clang-14", f"--target={target}", "-fuse-ld=lld", "-nostdlib", "-shared", "-fPIC"]
    run(*cross, "-o", tmp_path / "libbar.so", "-Wl,-soname,libbar.so", tmp_path / "bar.c")
    run(*cross, "-o", tmp_path / "_ext.so", tmp_path / "ext.c", "-L", tmp_path, "-lbar")
    platform = parse_platform(tag, python="3.13")
    member = f"demo/_ext{platform.family.extension_suffixes(platform)[0]}"
    source = make_wheel(
        f"demo-1.0-cp313-cp313-{tag}.whl",
        {member: (tmp_path / "_ext.so").read_bytes()},
        purelib=False,
    )
    with pytest.raises(RepairError, match=r"cannot find libbar\.so"):
        repair_wheel(source, tmp_path / "out")  # nothing of this host is searched
    report = repair_wheel(source, tmp_path / "out", lib_path=[tmp_path])
    assert report.platform_tags == (tag,)
    (copy,) = report.vendored
    assert re.fullmatch(r"demo\.libs/libbar-[0-9a-f]{8}\.so", copy.member or "")
    output = Path(report.output or "")
    assert not check_wheel(output).findings
    with Wheel.open(output) as wheel:
        ext = parse_elf(wheel.read_bytes(member))
        library = parse_elf(wheel.read_bytes(copy.member or ""))
    assert ext.needed == (Path(copy.member or "").name,)
    assert ext.runpath == ("$ORIGIN/../demo.libs",)
    assert library.soname == Path(copy.member or "").name


def test_empty_runpath_removes_search_paths(built: Built, tmp_path: Path) -> None:
    """A vendored copy keeps no build-machine search path."""
    with_rpath = tmp_path / "libbar.so.2"
    run("gcc", "-shared", "-fPIC", "-o", with_rpath, "-Wl,-rpath,/opt/build/lib",
        "-Wl,--disable-new-dtags", built["gnu"].parent / "bar.c")  # fmt: skip
    assert parse_elf(with_rpath.read_bytes()).rpath == ("/opt/build/lib",)
    edited = tmp_path / "edited.so"
    edited.write_bytes(edit_elf(with_rpath.read_bytes(), ElfChanges(runpath=())))
    for readelf in ("readelf", "llvm-readelf-14"):
        before = _dynamic(readelf, with_rpath)
        assert before["RPATH"] == ["/opt/build/lib"], readelf
        # Neither DT_RPATH nor a DT_RUNPATH in its place; everything else as it was.
        assert _dynamic(readelf, edited) == {
            kind: values for kind, values in before.items() if kind != "RPATH"
        }, readelf
