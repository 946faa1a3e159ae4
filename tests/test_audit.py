"""`check` and `inspect` on real wheels from the index, and on wheels that lie."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.audit import WheelReport, check_wheel
from omniwheel.binaries import ElfFile, MachOFile, PeFile, WasmModule
from omniwheel.cli.main import main
from omniwheel.platforms import parse_platform

RealWheel = Callable[[str], Path]


def codes(report: WheelReport) -> set[str]:
    return {finding.code for finding in report.findings}


def only_binary(report: WheelReport) -> tuple[str, object]:
    (item,) = report.binaries
    return item.member, item.binary


def member_bytes(wheel: Path, suffix: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(suffix)]
        return name, archive.read(name)


# --- every real wheel passes its own tags, with the facts we measured -------------------


def test_ios_device(real_wheel: RealWheel) -> None:
    report = check_wheel(real_wheel("ios-device"))
    member, binary = only_binary(report)
    assert member == "markupsafe/_speedups.cpython-313-iphoneos.so"
    assert isinstance(binary, MachOFile) and not binary.fat
    (piece,) = binary.slices
    assert (piece.arch, piece.platform, piece.minos) == ("arm64", "ios", (13, 0, 0))
    assert binary.needed == ("@rpath/Python.framework/Python", "/usr/lib/libSystem.B.dylib")
    assert [(v.platform_tag, v.status) for v in report.verdicts] == [
        ("ios_13_0_arm64_iphoneos", "ok")
    ]
    assert report.findings == []


def test_ios_simulator_arm64_slices_may_need_ios_14(real_wheel: RealWheel) -> None:
    report = check_wheel(real_wheel("ios-simulator"))
    _, binary = only_binary(report)
    assert isinstance(binary, MachOFile)
    assert (binary.slices[0].platform, binary.slices[0].minos) == ("ios-simulator", (14, 0, 0))
    assert [v.status for v in report.verdicts] == ["ok"]


def test_android(real_wheel: RealWheel) -> None:
    report = check_wheel(real_wheel("android-arm64"))
    _, binary = only_binary(report)
    assert isinstance(binary, ElfFile)
    assert (binary.arch, binary.libc, binary.android_api_level) == ("aarch64", "bionic", 24)
    assert binary.needed == ("libm.so", "libpython3.13.so", "libdl.so", "libc.so")
    assert binary.pyinit_exports == ("PyInit__speedups",)
    assert [v.status for v in report.verdicts] == ["ok"]


def test_pyemscripten(real_wheel: RealWheel) -> None:
    report = check_wheel(real_wheel("pyemscripten"))
    member, binary = only_binary(report)
    assert member == "msgpack/_cmsgpack.cpython-314-wasm32-emscripten.so"
    assert isinstance(binary, WasmModule)
    assert binary.is_side_module and binary.pyinit_exports == ("PyInit__cmsgpack",)
    assert [(v.platform, v.status) for v in report.verdicts] == [("pyodide-2026.0", "ok")]


def test_macos_universal2(real_wheel: RealWheel) -> None:
    report = check_wheel(real_wheel("macos-universal2"))
    _, binary = only_binary(report)
    assert isinstance(binary, MachOFile) and binary.fat
    assert [(s.arch, s.platform, s.minos) for s in binary.slices] == [
        ("x86_64", "macos", (10, 13, 0)),
        ("arm64", "macos", (11, 0, 0)),
    ]
    assert [v.status for v in report.verdicts] == ["ok"]


def test_manylinux_with_vendored_libraries(real_wheel: RealWheel) -> None:
    report = check_wheel(real_wheel("manylinux-vendored"))
    assert len(report.binaries) == 25
    imaging = next(b.binary for b in report.binaries if b.member.startswith("PIL/_imaging."))
    assert isinstance(imaging, ElfFile)
    assert "libjpeg-8a13c6e0.so.62.4.0" in imaging.needed
    assert imaging.glibc_requirement == (2, 14)
    shipped = {Path(b.member).name for b in report.binaries}
    assert "libjpeg-8a13c6e0.so.62.4.0" in shipped
    assert [(v.platform_tag, v.status) for v in report.verdicts] == [
        ("manylinux_2_27_x86_64", "ok"),
        ("manylinux_2_28_x86_64", "ok"),
    ]


def test_windows_and_musllinux_and_pure(real_wheel: RealWheel) -> None:
    windows = check_wheel(real_wheel("win-amd64"))
    _, pe = only_binary(windows)
    assert isinstance(pe, PeFile) and pe.architectures == ("amd64",)
    assert "python313.dll" in pe.needed
    musl = check_wheel(real_wheel("musllinux"))
    _, elf = only_binary(musl)
    assert isinstance(elf, ElfFile) and elf.libc == "musl"
    pure = check_wheel(real_wheel("pure"))
    assert pure.binaries == [] and [v.status for v in pure.verdicts] == ["ok"]
    assert [v.status for r in (windows, musl) for v in r.verdicts] == ["ok", "ok"]


# --- the same real binaries judged against platforms they do not fit --------------------


@pytest.mark.parametrize(
    ("key", "platform", "expected"),
    [
        ("android-arm64", "ios", {"wrong-binary-format", "extension-suffix"}),
        ("ios-device", "ios-simulator", {"wrong-apple-platform", "extension-suffix"}),
        ("ios-simulator", "ios-simulator-x86_64", {"wrong-architecture"}),
        ("macos-universal2", "macos-x86_64@10.9", {"min-os-too-new"}),
        ("macos-universal2", "macos-universal2@10.9", {"min-os-too-new"}),
        ("manylinux-vendored", "manylinux@2.5", {"symbol-versions-too-new"}),
        (
            "manylinux-vendored",
            "musllinux",
            {"wrong-libc", "extension-suffix", "external-library"},
        ),
        ("musllinux", "manylinux", {"wrong-libc", "extension-suffix", "external-library"}),
        ("android-arm64", "android@21", {"min-os-too-new"}),
        ("android-arm64", "android-x86_64", {"wrong-architecture", "extension-suffix"}),
        ("win-amd64", "windows-arm64", {"wrong-architecture", "extension-suffix"}),
        ("pyemscripten", "pyodide-2025.0", {"extension-suffix"}),
        (
            "ios-device",
            "macos",
            {"wrong-apple-platform", "extension-suffix", "external-library"},
        ),
    ],
)
def test_mismatches(real_wheel: RealWheel, key: str, platform: str, expected: set[str]) -> None:
    report = check_wheel(real_wheel(key), [parse_platform(platform, python=None)])
    assert codes(report) == expected
    assert [v.status for v in report.verdicts] == ["error"]
    assert all(f.hint and f.member for f in report.findings)


# --- wheels that lie about themselves ------------------------------------------------------


def test_linux_binary_renamed_to_an_ios_tag_is_rejected(
    real_wheel: RealWheel, make_wheel: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    name, data = member_bytes(real_wheel("musllinux"), ".so")
    liar = make_wheel("markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl", {name: data})
    report = check_wheel(liar)
    wrong = next(f for f in report.findings if f.code == "wrong-binary-format")
    assert wrong.message == "ELF binary, but iOS loads Mach-O"
    assert wrong.hint == "rebuild for iOS: retagging cannot turn ELF into Mach-O"
    assert codes(report) == {"wrong-binary-format", "extension-suffix", "root-is-purelib"}
    assert main(["check", str(liar)]) == 1
    capsys.readouterr()
    assert main(["check", "--json", str(liar)]) == 1
    (checked,) = json.loads(capsys.readouterr().out)["wheels"]
    assert checked["verdicts"] == [
        {"platform_tag": "ios_13_0_arm64_iphoneos", "platform": "ios", "status": "error"}
    ]
    assert "wrong-binary-format" in {f["code"] for f in checked["findings"]}


def test_binary_in_a_pure_wheel(real_wheel: RealWheel, make_wheel: Callable[..., Path]) -> None:
    name, data = member_bytes(real_wheel("ios-device"), ".so")
    report = check_wheel(make_wheel("markupsafe-3.0.4-py3-none-any.whl", {name: data}))
    assert "binary-in-pure-wheel" in codes(report)
    assert [(v.platform_tag, v.status) for v in report.verdicts] == [("any", "error")]


def test_renamed_reading_keeps_what_reading_found(
    real_wheel: RealWheel, make_wheel: Callable[..., Path]
) -> None:
    """A report re-judged after renames (retag, repair) still carries the reading's findings."""
    name, data = member_bytes(real_wheel("ios-device"), ".so")
    report = check_wheel(make_wheel("markupsafe-3.0.4-py3-none-any.whl", {name: data}))
    assert report.read_findings  # Root-Is-Purelib with a binary inside
    again = report.renamed({name: name.replace(".so", ".abi3.so")}).renamed({})
    assert again.read_findings == report.read_findings
    assert again.findings == list(report.read_findings)
    assert again.binaries[0].member == name.replace(".so", ".abi3.so")


def test_check_json_and_exit_codes(
    real_wheel: RealWheel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = real_wheel("ios-device")
    assert main(["check", "--json", str(good)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["exit_status"] == 0
    assert document["wheels"][0]["verdicts"] == [
        {"platform_tag": "ios_13_0_arm64_iphoneos", "platform": "ios", "status": "ok"}
    ]
    truncated = tmp_path / good.name
    truncated.write_bytes(good.read_bytes()[:-200])
    assert main(["check", str(good), str(truncated)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("omniwheel: error: ") and err.count("\n") == 1


def test_inspect_json(real_wheel: RealWheel, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json", str(real_wheel("pyemscripten"))]) == 0
    (wheel,) = json.loads(capsys.readouterr().out)["wheels"]
    assert wheel["name"] == "msgpack" and wheel["version"] == "1.2.4"
    assert wheel["tags"] == ["cp314-cp314-pyemscripten_2026_0_wasm32"]
    assert wheel["wheel"]["root_is_purelib"] is False
    assert wheel["members"] == 10
    (binary,) = wheel["binaries"]
    assert binary["format"] == "wasm" and binary["architectures"] == ["wasm32"]
    assert wheel["verdicts"][0]["status"] == "ok"
