"""Retagging real wheels: new tags land only where the binaries can load, and tools accept them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.cli.main import main
from omniwheel.errors import UsageError
from omniwheel.rewrite.retag import RetagOptions, RetagRefusedError, edit_tags, retag_wheel
from omniwheel.wheel import Wheel
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel

RealWheel = Callable[[str], Path]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (None, ("cp312", "cp313")),
        ("cp314", ("cp314",)),
        ("+cp314", ("cp312", "cp313", "cp314")),
        ("-cp312", ("cp313",)),
        ("+cp314.cp315", ("cp312", "cp313", "cp314", "cp315")),
        ("PY3.CP313", ("cp313", "py3")),
    ],
)
def test_edit_tags_follows_wheel_tags(change: str | None, expected: tuple[str, ...]) -> None:
    assert edit_tags(["cp313", "cp312"], change, "python") == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [("-cp311", "has no python tag cp311"), ("-cp312.cp313", "leave no python tag"), ("+", "no")],
)
def test_edit_tags_refuses_nonsense(change: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        edit_tags(["cp313", "cp312"], change, "python")


def test_platform_spellings_become_tags() -> None:
    assert edit_tags(["linux_x86_64"], "ios@13.0", "platform") == ("ios_13_0_arm64_iphoneos",)
    assert edit_tags(["x"], "manylinux2014_x86_64", "platform") == ("manylinux2014_x86_64",)
    with pytest.raises(UsageError, match="iphoneos"):
        edit_tags(["x"], "iphoneos_13_0", "platform")


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_foreign_family_is_refused(real_wheel: RealWheel, tmp_path: Path) -> None:
    """The seed story: a Linux wheel renamed to an iPhone tag must not be written."""
    source = real_wheel("manylinux-vendored")
    with pytest.raises(RetagRefusedError, match="ELF binary, but iOS loads Mach-O") as refusal:
        retag_wheel(source, RetagOptions(platform="ios_13_0_arm64_iphoneos"), tmp_path)
    assert {f.code for f in refusal.value.findings} >= {"wrong-binary-format", "extension-suffix"}
    assert _names(tmp_path) == []  # nothing written, no temporary left behind
    forced = retag_wheel(source, RetagOptions(platform="ios", force=True), tmp_path)
    assert forced.output.name.endswith("-ios_13_0_arm64_iphoneos.whl")
    assert forced.checked and forced.findings


def test_older_ios_than_the_binaries_is_refused(real_wheel: RealWheel, tmp_path: Path) -> None:
    source = real_wheel("ios-device")  # its Mach-O says minos 13.0
    with pytest.raises(RetagRefusedError, match=r"needs ios 13\.0"):
        retag_wheel(source, RetagOptions(platform="ios@12.0"), tmp_path)


def test_expand_recovers_auditwheels_choice(real_wheel: RealWheel, tmp_path: Path) -> None:
    """Drop Pillow's manylinux_2_27 tag; --expand finds it again from the symbol versions."""
    source = real_wheel("manylinux-vendored")
    narrowed = retag_wheel(source, RetagOptions(platform="-manylinux_2_27_x86_64"), tmp_path)
    assert not narrowed.checked  # dropping a tag claims nothing new: no check, a plain copy
    assert narrowed.output.name == "pillow-11.3.0-cp313-cp313-manylinux_2_28_x86_64.whl"
    expanded = retag_wheel(narrowed.output, RetagOptions(expand=True), tmp_path / "expanded")
    assert expanded.output.name == source.name  # the tags auditwheel 6.x gave it upstream
    assert expanded.checked and not expanded.findings


def test_expand_universal2(real_wheel: RealWheel, tmp_path: Path) -> None:
    """A universal2 build for 10.13 also serves the single-CPU tags: 10.13 Intel, 11.0 arm64."""
    result = retag_wheel(real_wheel("macos-universal2"), RetagOptions(expand=True), tmp_path)
    assert result.to_json()["added_tags"] == [
        "cp313-cp313-macosx_10_13_x86_64",
        "cp313-cp313-macosx_11_0_arm64",
    ]
    with Wheel.open(result.output) as wheel:
        wheel.verify()


def test_expand_starts_from_the_new_claims(real_wheel: RealWheel, tmp_path: Path) -> None:
    """A plain linux_x86_64 build retagged to manylinux with --expand gains the lowest
    manylinux tag its symbols allow, as auditwheel would: the expansion follows the new
    claims, not the tags the input had."""
    built = retag_wheel(
        real_wheel("manylinux-vendored"), RetagOptions(platform="linux_x86_64"), tmp_path
    )
    assert built.output.name == "pillow-11.3.0-cp313-cp313-linux_x86_64.whl"
    result = retag_wheel(
        built.output,
        RetagOptions(platform="manylinux_2_28_x86_64", expand=True),
        tmp_path / "expanded",
    )
    assert result.filename.platform_tags == ("manylinux_2_27_x86_64", "manylinux_2_28_x86_64")
    assert result.checked and not result.findings


def test_rename_extensions(real_wheel: RealWheel, tmp_path: Path) -> None:
    """An iOS build whose extension carries a Linux suffix gets the suffix iOS imports."""
    source = real_wheel("ios-device")
    good = "markupsafe/_speedups.cpython-313-iphoneos.so"
    misnamed = tmp_path / "in" / source.name
    misnamed.parent.mkdir()
    linux_name = "markupsafe/_speedups.cpython-313-x86_64-linux-gnu.so"
    rewrite_wheel(source, WheelChanges(renames={good: linux_name}), misnamed)
    with pytest.raises(UsageError, match="overwrite the input"):
        retag_wheel(misnamed, RetagOptions(rename_extensions=True))
    result = retag_wheel(misnamed, RetagOptions(rename_extensions=True), in_place=True)
    assert result.renamed == {linux_name: good}
    assert result.checked and not result.findings
    with Wheel.open(misnamed) as wheel:
        wheel.verify()
        assert good in wheel.record
    assert _names(misnamed.parent) == [source.name]


def test_build_tag_retag_is_deterministic_and_tools_accept_it(
    real_wheel: RealWheel, tmp_path: Path
) -> None:
    source = real_wheel("manylinux-vendored")
    first = retag_wheel(source, RetagOptions(build="1"), tmp_path / "a").output
    second = retag_wheel(source, RetagOptions(build="1"), tmp_path / "b").output
    assert first.read_bytes() == second.read_bytes()
    assert (
        first.name == "pillow-11.3.0-1-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
    )
    with zipfile.ZipFile(first) as archive:
        assert "Build: 1" in archive.read("pillow-11.3.0.dist-info/WHEEL").decode()
    # pypa/wheel unpacks it, checking every RECORD hash as it goes.
    subprocess.run(
        [sys.executable, "-m", "wheel", "unpack", "-d", str(tmp_path / "unpacked"), str(first)],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "unpacked" / "pillow-11.3.0" / "PIL" / "Image.py").is_file()


def test_pip_installs_for_the_new_tag(real_wheel: RealWheel, tmp_path: Path) -> None:
    """pip takes the expanded wheel for the tag --expand added, and not the wheel without it."""
    narrowed = retag_wheel(
        real_wheel("manylinux-vendored"), RetagOptions(platform="-manylinux_2_27_x86_64"), tmp_path
    ).output
    expanded = retag_wheel(narrowed, RetagOptions(expand=True), tmp_path / "expanded").output
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        "--only-binary", ":all:", "--platform", "manylinux_2_27_x86_64",
        "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313",
        "--target", str(tmp_path / "site"),
    ]  # fmt: skip
    refused = subprocess.run([*command, str(narrowed)], capture_output=True, text=True)
    assert refused.returncode != 0 and "is not a supported wheel" in refused.stderr
    subprocess.run([*command, str(expanded)], check=True, capture_output=True)
    assert (tmp_path / "site" / "PIL" / "_imaging.cpython-313-x86_64-linux-gnu.so").is_file()


def test_cli_json(
    real_wheel: RealWheel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = real_wheel("manylinux-vendored")
    status = main(["retag", str(source), "--platform", "ios", "-w", str(tmp_path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 1 == document["exit_status"]
    (refused,) = document["wheels"]
    assert refused["source"] == str(source) and "refusing to retag" in refused["error"]
    assert refused["findings"][0]["code"] == "wrong-binary-format"

    status = main(["retag", str(source), "--build", "7", "-w", str(tmp_path), "--json"])
    (done,) = json.loads(capsys.readouterr().out)["wheels"]
    assert status == 0
    assert done["changed"] and not done["checked"]
    assert done["added_tags"] == done["removed_tags"] == []
    assert Path(done["output"]).name.startswith("pillow-11.3.0-7-")
