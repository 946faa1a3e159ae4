"""Every spelling users meet parses to the right platform and formats back."""

from __future__ import annotations

import pytest
from packaging.tags import parse_tag

from omniwheel.errors import UsageError
from omniwheel.platforms import (
    FAMILIES,
    PythonTarget,
    compatible_tags,
    parse_platform,
    supported_tags,
)

# spelling -> (family, arch, min_os, variant, abi, python)
CASES = {
    "ios_13_0_arm64_iphoneos": ("ios", "arm64", (13, 0), "iphoneos", None, "3.14"),
    "ios_12_0_x86_64_iphonesimulator": ("ios", "x86_64", (12, 0), "iphonesimulator", None, "3.14"),
    "android_24_arm64_v8a": ("android", "arm64_v8a", (24,), None, None, "3.14"),
    "pyemscripten_2026_0_wasm32": ("emscripten", "wasm32", (5, 0, 3), None, "2026_0", "3.14"),
    "pyodide_2025_0_wasm32": ("emscripten", "wasm32", (4, 0, 9), None, "2025_0", "3.13"),
    "emscripten_3_1_58_wasm32": ("emscripten", "wasm32", (3, 1, 58), None, "2024_0", "3.12"),
    "emscripten_3_1_32_wasm32": ("emscripten", "wasm32", (3, 1, 32), None, None, "3.11"),
    "macosx_11_0_universal2": ("macos", "universal2", (11, 0), None, None, "3.14"),
    "macosx_10_9_x86_64": ("macos", "x86_64", (10, 9), None, None, "3.14"),
    "manylinux_2_28_x86_64": ("linux-glibc", "x86_64", (2, 28), None, None, "3.14"),
    "manylinux2014_aarch64": ("linux-glibc", "aarch64", (2, 17), None, None, "3.14"),
    "manylinux1_i686": ("linux-glibc", "i686", (2, 5), None, None, "3.14"),
    "linux_x86_64": ("linux-glibc", "x86_64", None, None, None, "3.14"),
    "musllinux_1_2_aarch64": ("linux-musl", "aarch64", (1, 2), None, None, "3.14"),
    "win_amd64": ("windows", "amd64", None, None, None, "3.14"),
    "win_arm64": ("windows", "arm64", None, None, None, "3.14"),
    "win32": ("windows", "win32", None, None, None, "3.14"),
    # sysconfig.get_platform()
    "ios-13.0-arm64-iphonesimulator": ("ios", "arm64", (13, 0), "iphonesimulator", None, "3.14"),
    "android-24-arm64_v8a": ("android", "arm64_v8a", (24,), None, None, "3.14"),
    "macosx-11.0-arm64": ("macos", "arm64", (11, 0), None, None, "3.14"),
    "linux-x86_64": ("linux-glibc", "x86_64", None, None, None, "3.14"),
    "emscripten-4.0.9-wasm32": ("emscripten", "wasm32", (4, 0, 9), None, "2025_0", "3.13"),
    "win-amd64": ("windows", "amd64", None, None, None, "3.14"),
    # uv --python-platform
    "arm64-apple-ios": ("ios", "arm64", (13, 0), "iphoneos", None, "3.14"),
    "arm64-apple-ios-simulator": ("ios", "arm64", (13, 0), "iphonesimulator", None, "3.14"),
    "x86_64-apple-ios-simulator": ("ios", "x86_64", (13, 0), "iphonesimulator", None, "3.14"),
    "aarch64-linux-android": ("android", "arm64_v8a", (24,), None, None, "3.14"),
    "x86_64-linux-android": ("android", "x86_64", (24,), None, None, "3.14"),
    "wasm32-pyodide2024": ("emscripten", "wasm32", (3, 1, 58), None, "2024_0", "3.12"),
    "wasm32-pyodide2025": ("emscripten", "wasm32", (4, 0, 9), None, "2025_0", "3.13"),
    "aarch64-apple-darwin": ("macos", "arm64", (11, 0), None, None, "3.14"),
    "x86_64-manylinux_2_28": ("linux-glibc", "x86_64", (2, 28), None, None, "3.14"),
    "aarch64-unknown-linux-musl": ("linux-musl", "aarch64", (1, 2), None, None, "3.14"),
    "x86_64-pc-windows-msvc": ("windows", "amd64", None, None, None, "3.14"),
    # short names
    "ios": ("ios", "arm64", (13, 0), "iphoneos", None, "3.14"),
    "ios-simulator": ("ios", "arm64", (13, 0), "iphonesimulator", None, "3.14"),
    "android-arm64": ("android", "arm64_v8a", (24,), None, None, "3.14"),
    "android-x86_64@30": ("android", "x86_64", (30,), None, None, "3.14"),
    "pyodide-2026.0": ("emscripten", "wasm32", (5, 0, 3), None, "2026_0", "3.14"),
    "pyodide-314": ("emscripten", "wasm32", (5, 0, 3), None, "2026_0", "3.14"),
    "pyodide-0.27": ("emscripten", "wasm32", (3, 1, 58), None, "2024_0", "3.12"),
    "macos-arm64": ("macos", "arm64", (11, 0), None, None, "3.14"),
    "macos-universal2@10.9": ("macos", "universal2", (10, 9), None, None, "3.14"),
    "manylinux-x86_64": ("linux-glibc", "x86_64", (2, 28), None, None, "3.14"),
    "manylinux-aarch64@2.34": ("linux-glibc", "aarch64", (2, 34), None, None, "3.14"),
    "ios@15": ("ios", "arm64", (15, 0), "iphoneos", None, "3.14"),
}


@pytest.mark.parametrize("spelling", CASES)
def test_parse(spelling: str) -> None:
    platform = parse_platform(spelling)
    family, arch, min_os, variant, abi, python = CASES[spelling]
    assert platform.family.name == family
    assert (platform.arch, platform.min_os, platform.variant, platform.abi) == (
        arch,
        min_os,
        variant,
        abi,
    )
    assert str(platform.python) == python


@pytest.mark.parametrize("spelling", CASES)
def test_every_format_parses_back_to_the_same_platform(spelling: str) -> None:
    platform = parse_platform(spelling)
    for other in (platform.wheel_tag, platform.short_name, platform.sysconfig_platform):
        again = parse_platform(other)
        if other == platform.sysconfig_platform and platform.family.name.startswith("linux"):
            # sysconfig says nothing of the libc or its version.
            assert (again.arch, again.min_os) == (platform.arch, None)
        else:
            assert again == platform, other
    if platform.uv_triple and platform.min_os is not None:
        assert parse_platform(platform.uv_triple).arch == platform.arch


def test_canonical_tags_round_trip_exactly() -> None:
    for spelling, (family, *_rest) in CASES.items():
        if spelling.startswith(("ios_", "android_", "macosx_", "manylinux_", "musllinux_", "win_")):
            assert parse_platform(spelling).wheel_tag == spelling
        assert parse_platform(spelling).family.name == family


def test_legacy_and_generic_tags_format_to_their_canonical_form() -> None:
    assert parse_platform("manylinux2014_aarch64").wheel_tag == "manylinux_2_17_aarch64"
    assert parse_platform("pyodide_2025_0_wasm32").wheel_tag == "pyemscripten_2025_0_wasm32"
    assert parse_platform("emscripten_3_1_58_wasm32").wheel_tag == "pyodide_2024_0_wasm32"
    assert parse_platform("wasm32-pyodide2025").sysconfig_platform == "emscripten-4.0.9-wasm32"


def test_uv_triples_only_where_uv_has_them() -> None:
    assert parse_platform("pyodide-2025.0").uv_triple == "wasm32-pyodide2025"
    assert parse_platform("pyodide-2026.0").uv_triple is None
    assert parse_platform("macos-universal2").uv_triple is None
    assert parse_platform("android-x86").uv_triple is None
    assert parse_platform("ios-simulator-x86_64").uv_triple == "x86_64-apple-ios-simulator"


def test_every_named_platform_is_reachable_by_its_own_spellings() -> None:
    for family in FAMILIES:
        for name, platform in family.named_platforms().items():
            assert parse_platform(name) == platform
            assert parse_platform(platform.wheel_tag) == platform


def test_universal2_requires_both_slices_and_accepts_only_universal2_wheels() -> None:
    universal = parse_platform("macos-universal2@11.0", python="3.13")
    assert universal.architectures == ("arm64", "x86_64")
    platforms = {tag.platform for tag in compatible_tags(universal)}
    assert platforms - {"any"} == {"macosx_11_0_universal2"} | {
        f"macosx_10_{minor}_universal2" for minor in range(4, 17)
    }


def test_python_option() -> None:
    assert str(parse_platform("ios", python="3.13t").python) == "3.13t"
    assert parse_platform("ios", python="cp313").python == PythonTarget((3, 13))
    tags = compatible_tags(parse_platform("ios", python="3.13t"))
    assert str(tags[0]) == "cp313-cp313t-ios_13_0_arm64_iphoneos"
    assert not any(tag.abi == "abi3" for tag in tags)


@pytest.mark.parametrize(
    ("spelling", "python", "fragment"),
    [
        ("iso", None, "unknown platform 'iso': closest valid names are ios"),
        ("andriod-arm64", None, "android-arm64"),
        ("ios_13_0_x86_64_iphoneos", None, "there are no x86_64 iOS devices"),
        ("android_10_arm64_v8a", None, "API level 10 is below 16"),
        ("pyodide_2030_0_wasm32", None, "unknown Pyodide ABI 2030_0; known ABIs: 2024_0"),
        ("pyodide-2025.0", "3.14", "runs CPython 3.13, not 3.14: use pyodide-2026.0"),
        ("ios", "3.12t", "free-threaded CPython starts at 3.13"),
        ("ios", "2.7", "unknown Python version '2.7'"),
        ("ios@fifteen", None, "'fifteen' is not a version"),
        ("windows@10", None, "windows takes no @version suffix"),
    ],
)
def test_bad_input_is_one_clear_line(spelling: str, python: str | None, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_platform(spelling, python=python)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_supported_tags_ranks_a_wheels_tags_for_the_target() -> None:
    universal2 = parse_platform("macos@14.0", python="3.13")
    wheel_tags = parse_tag("cp313-cp313-macosx_10_13_universal2.macosx_11_0_arm64") | parse_tag(
        "cp313-cp313-win_amd64"
    )
    assert [str(tag) for tag in supported_tags(universal2, frozenset(wheel_tags))] == [
        "cp313-cp313-macosx_11_0_arm64",
        "cp313-cp313-macosx_10_13_universal2",
    ]
    assert supported_tags(parse_platform("ios", python="3.13"), frozenset(wheel_tags)) == []
