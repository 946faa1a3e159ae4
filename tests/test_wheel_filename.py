"""Wheel filename parsing, normalisation and canonical formatting."""

from __future__ import annotations

import pytest
from packaging.tags import Tag
from packaging.version import Version

from omniwheel.errors import UsageError
from omniwheel.wheel import WheelError, WheelFilename


def test_parse_accepts_dots_and_upper_case_and_normalises() -> None:
    parsed = WheelFilename.parse("/some/dir/Foo.Bar-01.0-7abc-Py2.PY3-NONE-Any.whl")
    assert parsed.name == "foo-bar"
    assert parsed.version == Version("1.0")
    assert parsed.build == "7abc"
    assert parsed.build_key == (7, "abc")
    assert parsed.python_tags == ("py2", "py3")
    assert parsed.abi_tags == ("none",)
    assert parsed.platform_tags == ("any",)
    assert str(parsed) == "foo_bar-1.0-7abc-py2.py3-none-any.whl"


def test_compressed_tag_sets_expand_in_filename_order() -> None:
    parsed = WheelFilename.parse(
        "pillow-11.3.0-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
    )
    assert parsed.ordered_tags == (
        Tag("cp313", "cp313", "manylinux_2_27_x86_64"),
        Tag("cp313", "cp313", "manylinux_2_28_x86_64"),
    )
    assert parsed.tags == frozenset(parsed.ordered_tags)
    assert parsed.build is None and parsed.build_key == ()


def test_cartesian_product_of_all_three_sets() -> None:
    parsed = WheelFilename.parse("x-1-py2.py3-none.abi3-any.linux_x86_64.whl")
    assert len(parsed.ordered_tags) == 8
    assert parsed.ordered_tags[0] == Tag("py2", "none", "any")
    assert parsed.ordered_tags[-1] == Tag("py3", "abi3", "linux_x86_64")


def test_build_tags_sort_by_number_then_rest() -> None:
    keys = [
        WheelFilename.parse(f"x-1.0-{build}-py3-none-any.whl").build_key
        for build in ("10", "9b", "9a", "01")
    ]
    assert sorted(keys) == [(1, ""), (9, "a"), (9, "b"), (10, "")]


def test_from_parts_formats_the_canonical_filename_for_retagging() -> None:
    wheel = WheelFilename.from_parts(
        "My.Package",
        "2.0.0rc1",
        ["cp313"],
        ["cp313"],
        ["ios_13_0_arm64_iphoneos", "ios_13_0_arm64_iphoneos"],
        build="1",
    )
    assert wheel.filename == "my_package-2.0.0rc1-1-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
    assert WheelFilename.parse(wheel.filename) == wheel


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("ok", "1.0", ["py3"], ["none"], []), "platform tag set is empty"),
        (("ok", "1.0", ["py-3"], ["none"], ["any"]), "python tag 'py-3' is not valid"),
        (("ok", "not a version", ["py3"], ["none"], ["any"]), "is not a PEP 440 version"),
        (("-bad-", "1.0", ["py3"], ["none"], ["any"]), "is not a valid distribution name"),
    ],
)
def test_from_parts_rejects_bad_parts(
    parts: tuple[str, str, list[str], list[str], list[str]], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        WheelFilename.from_parts(*parts)


def test_from_parts_rejects_bad_build_tag() -> None:
    with pytest.raises(UsageError, match="must start with a digit"):
        WheelFilename.from_parts("ok", "1.0", ["py3"], ["none"], ["any"], build="b1")


@pytest.mark.parametrize(
    "filename",
    [
        "foo-1.0-py3-none-any.zip",
        "foo-1.0-py3-none.whl",
        "foo-1.0-x1-py3-none-any.whl",
        "foo-not.a.version!-py3-none-any.whl",
        "foo-1.0-py3..py2-none-any.whl",
    ],
)
def test_invalid_filenames_raise_one_line_wheel_error(filename: str) -> None:
    with pytest.raises(WheelError) as caught:
        WheelFilename.parse(f"/tmp/{filename}")
    message = str(caught.value)
    assert message.startswith(f"{filename}: not a valid wheel filename")
    assert "{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl" in message
    assert "\n" not in message
    assert caught.value.exit_code == 2
