"""Real published wheels for every platform family open, verify and read as expected.

Every fact below was measured with Info-ZIP (``zipinfo -l``, ``unzip -Z1 | wc -l``),
``unzip -p … | file -`` and ``unzip -p … | sha256sum``, not with omniwheel.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import realwheels
from omniwheel.wheel import Wheel


@dataclass(frozen=True)
class Facts:
    canonical: str
    name: str
    version: str
    dist_info: str
    tags: tuple[str, ...]
    members: int  # zip entries, directories included
    record_rows: int
    generator: str
    requires_python: str
    extension: str  # the binary (or, for the pure wheel, a module) checked below
    size: int
    compressed: int
    magic: bytes


MARKUPSAFE = "markupsafe-3.0.4-cp313-cp313"
FACTS = {
    "ios-device": Facts(
        f"{MARKUPSAFE}-ios_13_0_arm64_iphoneos.whl",
        "MarkupSafe", "3.0.4", "markupsafe-3.0.4.dist-info",
        ("cp313-cp313-ios_13_0_arm64_iphoneos",), 11, 11, "setuptools (84.0.0)", ">=3.9",
        "markupsafe/_speedups.cpython-313-iphoneos.so", 66488, 2492, b"\xcf\xfa\xed\xfe",
    ),
    "ios-simulator": Facts(
        f"{MARKUPSAFE}-ios_13_0_arm64_iphonesimulator.whl",
        "MarkupSafe", "3.0.4", "markupsafe-3.0.4.dist-info",
        ("cp313-cp313-ios_13_0_arm64_iphonesimulator",), 11, 11, "setuptools (84.0.0)", ">=3.9",
        "markupsafe/_speedups.cpython-313-iphonesimulator.so", 50680, 2688, b"\xcf\xfa\xed\xfe",
    ),
    "android-arm64": Facts(
        f"{MARKUPSAFE}-android_24_arm64_v8a.whl",
        "MarkupSafe", "3.0.4", "markupsafe-3.0.4.dist-info",
        ("cp313-cp313-android_24_arm64_v8a",), 14, 11, "setuptools (84.0.0)", ">=3.9",
        "markupsafe/_speedups.cpython-313-aarch64-linux-android.so", 8488, 3279, b"\x7fELF",
    ),
    "pyemscripten": Facts(
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "msgpack", "1.2.4", "msgpack-1.2.4.dist-info",
        ("cp314-cp314-pyemscripten_2026_0_wasm32",), 10, 10, "setuptools (84.2.1)", ">=3.10",
        "msgpack/_cmsgpack.cpython-314-wasm32-emscripten.so", 103980, 37850, b"\0asm",
    ),
    "macos-universal2": Facts(
        "markupsafe-3.0.2-cp313-cp313-macosx_10_13_universal2.whl",
        "MarkupSafe", "3.0.2", "MarkupSafe-3.0.2.dist-info",
        ("cp313-cp313-macosx_10_13_universal2",), 13, 11, "setuptools (75.2.0)", ">=3.9",
        "markupsafe/_speedups.cpython-313-darwin.so", 66992, 4499, b"\xca\xfe\xba\xbe",
    ),
    "manylinux-vendored": Facts(
        "pillow-11.3.0-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "pillow", "11.3.0", "pillow-11.3.0.dist-info",
        ("cp313-cp313-manylinux_2_27_x86_64", "cp313-cp313-manylinux_2_28_x86_64"), 140, 136,
        "setuptools (80.9.0)", ">=3.9",
        "PIL/_imaging.cpython-313-x86_64-linux-gnu.so", 3382009, 1080252, b"\x7fELF",
    ),
    "win-amd64": Facts(
        f"{MARKUPSAFE}-win_amd64.whl",
        "MarkupSafe", "3.0.4", "markupsafe-3.0.4.dist-info",
        ("cp313-cp313-win_amd64",), 11, 11, "setuptools (84.0.0)", ">=3.9",
        "markupsafe/_speedups.cp313-win_amd64.pyd", 11776, 5149, b"MZ\x90\0",
    ),
    "musllinux": Facts(
        f"{MARKUPSAFE}-musllinux_1_2_x86_64.whl",
        "MarkupSafe", "3.0.4", "markupsafe-3.0.4.dist-info",
        ("cp313-cp313-musllinux_1_2_x86_64",), 14, 11, "setuptools (84.0.0)", ">=3.9",
        "markupsafe/_speedups.cpython-313-x86_64-linux-musl.so", 38184, 13580, b"\x7fELF",
    ),
    "pure": Facts(
        "iniconfig-2.1.0-py3-none-any.whl",
        "iniconfig", "2.1.0", "iniconfig-2.1.0.dist-info",
        ("py3-none-any",), 9, 9, "hatchling 1.27.0", ">=3.8",
        "iniconfig/__init__.py", 5462, 1387, b'"""',
    ),
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(FACTS))
def test_real_wheel_opens_verifies_and_reads(key: str, real_wheel: Callable[[str], Path]) -> None:
    facts = FACTS[key]
    with Wheel.open(real_wheel(key)) as wheel:
        wheel.verify()
        assert str(wheel.filename) == facts.canonical
        assert [str(tag) for tag in wheel.filename.ordered_tags] == list(facts.tags)
        assert [str(tag) for tag in wheel.wheel_info.tags] == list(facts.tags)
        assert wheel.wheel_info.root_is_purelib is (key == "pure")
        assert wheel.wheel_info.generator == facts.generator
        assert wheel.metadata.name == facts.name
        assert str(wheel.metadata.version) == facts.version
        assert str(wheel.metadata.requires_python) == facts.requires_python
        assert len(wheel.members()) == facts.members
        assert len(wheel.record) == facts.record_rows
        assert wheel.dist_info == facts.dist_info
        assert wheel.warnings == ()
        (member,) = [m for m in wheel.members() if m.name == facts.extension]
        assert (member.size, member.compressed_size) == (facts.size, facts.compressed)
        with wheel.member_buffer(facts.extension) as buffer:
            assert buffer[: len(facts.magic)] == facts.magic
            assert len(buffer) == facts.size


def test_ios_binary_bytes_match_an_independent_extraction(
    real_wheel: Callable[[str], Path],
) -> None:
    # unzip -p <wheel> markupsafe/_speedups.cpython-313-iphoneos.so | sha256sum
    expected = "b0639c2214742e9df453fc621a6a437817df4e07de7cb81fd782b6c081e74b5c"
    with Wheel.open(real_wheel("ios-device")) as wheel:
        data = wheel.read_bytes("markupsafe/_speedups.cpython-313-iphoneos.so")
    assert hashlib.sha256(data).hexdigest() == expected


def test_pillow_vendors_seventeen_libraries(real_wheel: Callable[[str], Path]) -> None:
    with Wheel.open(real_wheel("manylinux-vendored")) as wheel:
        libs = [m.name for m in wheel.members() if m.name.startswith("pillow.libs/lib")]
        directories = [m.name for m in wheel.members() if m.is_dir]
    assert len(libs) == 17
    assert "pillow.libs/libjpeg-8a13c6e0.so.62.4.0" in libs
    assert directories == [
        "PIL/",
        "pillow.libs/",
        "pillow-11.3.0.dist-info/",
        "pillow-11.3.0.dist-info/licenses/",
    ]


def test_old_setuptools_metadata_is_readable_with_a_reported_problem(
    real_wheel: Callable[[str], Path],
) -> None:
    # setuptools 75 wrote License-File under Metadata-Version 2.1; installers accept it.
    with Wheel.open(real_wheel("macos-universal2")) as wheel:
        assert wheel.metadata.metadata_version == "2.1"
        assert wheel.metadata_problems() == (
            "license-file introduced in metadata version 2.4, not 2.1",
        )
        assert wheel.data_dir == "MarkupSafe-3.0.2.data"


@pytest.mark.network
def test_fetch_replaces_a_corrupt_cached_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tmp_path / "omniwheel" / "test-wheels" / realwheels.WHEELS["pure"].filename
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the wheel")
    assert realwheels.fetch("pure") == cached
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == realwheels.WHEELS["pure"].sha256


@pytest.mark.network
def test_fetch_fails_loudly_when_the_download_differs_from_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    wrong = dataclasses.replace(realwheels.WHEELS["pure"], sha256="0" * 64)
    monkeypatch.setitem(realwheels.WHEELS, "pure", wrong)
    with pytest.raises(realwheels.FetchError, match="but the pin is 0000"):
        realwheels.fetch("pure")
    assert list((tmp_path / "omniwheel" / "test-wheels").iterdir()) == []
