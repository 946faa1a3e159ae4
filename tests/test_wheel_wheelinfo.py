"""The WHEEL file: parsing, version policy, consistency with the filename, round trips."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from omniwheel.wheel import WheelError, WheelFilename, WheelInfo

PILLOW_WHEEL = b"""Wheel-Version: 1.0
Generator: setuptools (80.9.0)
Root-Is-Purelib: false
Tag: cp313-cp313-manylinux_2_27_x86_64
Tag: cp313-cp313-manylinux_2_28_x86_64

"""
PILLOW_NAME = "pillow-11.3.0-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"


def parse(data: bytes) -> WheelInfo:
    return WheelInfo.parse(
        data, wheel="demo-1.0-py3-none-any.whl", member="demo-1.0.dist-info/WHEEL"
    )


def test_parses_a_real_pillow_wheel_file() -> None:
    info = parse(PILLOW_WHEEL)
    assert info.wheel_version == (1, 0)
    assert not info.newer_minor
    assert info.generator == "setuptools (80.9.0)"
    assert info.root_is_purelib is False
    assert info.tags == (
        Tag("cp313", "cp313", "manylinux_2_27_x86_64"),
        Tag("cp313", "cp313", "manylinux_2_28_x86_64"),
    )
    assert info.build is None
    info.check_against(WheelFilename.parse(PILLOW_NAME), wheel=PILLOW_NAME, member="WHEEL")


def test_serialize_round_trips_and_keeps_unknown_headers() -> None:
    data = PILLOW_WHEEL.replace(b"\n\n", b"\nBuild: 2\nX-Custom: kept\n\n")
    info = parse(data)
    assert info.build == "2"
    assert info.extra == (("X-Custom", "kept"),)
    assert info.serialize() == data
    assert parse(info.serialize()) == info


def test_newer_minor_is_readable_but_flagged() -> None:
    info = parse(b"Wheel-Version: 1.9\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    assert info.wheel_version == (1, 9)
    assert info.newer_minor


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\n", "Wheel-Version 2.0 has a major version"),
        (b"Root-Is-Purelib: true\n", "has no Wheel-Version header"),
        (b"Wheel-Version: one\nRoot-Is-Purelib: true\n", "is not of the form MAJOR.MINOR"),
        (
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: yes\n",
            "Root-Is-Purelib must be 'true' or 'false'",
        ),
        (
            b"Wheel-Version: 1.0\nWheel-Version: 1.0\nRoot-Is-Purelib: true\n",
            "more than one Wheel-Version",
        ),
        (
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nnonsense line\n",
            "not a 'Key: value' header",
        ),
        (b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none\n", "Tag 'py3-none' is not"),
        (b"Wheel-Version: 1.0\xff\n", "is not UTF-8"),
    ],
)
def test_malformed_wheel_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(WheelError, match=message) as caught:
        parse(data)
    assert str(caught.value).startswith(
        "demo-1.0-py3-none-any.whl: member 'demo-1.0.dist-info/WHEEL': "
    )


def test_tag_lines_must_equal_the_expanded_filename_tags() -> None:
    info = parse(
        b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp313-cp313-manylinux_2_27_x86_64\n"
    )
    with pytest.raises(WheelError) as caught:
        info.check_against(WheelFilename.parse(PILLOW_NAME), wheel=PILLOW_NAME, member="WHEEL")
    assert "missing ['cp313-cp313-manylinux_2_28_x86_64'], not in filename []" in str(caught.value)


def test_build_header_must_equal_the_filename_build_tag() -> None:
    info = parse(b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\nBuild: 2\n")
    info.check_against(WheelFilename.parse("d-1-02-py3-none-any.whl"), wheel="w", member="WHEEL")
    for filename, shown in (("d-1-3-py3-none-any.whl", "'3'"), ("d-1-py3-none-any.whl", "None")):
        with pytest.raises(WheelError) as caught:
            info.check_against(WheelFilename.parse(filename), wheel="w", member="WHEEL")
        assert f"Build header '2' disagrees with the filename's build tag {shown}" in str(
            caught.value
        )
