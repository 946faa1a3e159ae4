"""Target marker environments, and real-world markers evaluated per target."""

from __future__ import annotations

import pytest

from omniwheel.platforms import evaluate_marker, marker_environment, parse_platform

TARGETS = [
    "ios",
    "ios-simulator-x86_64",
    "android-arm64",
    "pyodide-2026.0",
    "macos-arm64",
    "manylinux-aarch64",
    "musllinux-x86_64",
    "windows",
]

# Markers copied from real projects' METADATA, and which targets satisfy them.
REAL_MARKERS = {
    # colorama / tzdata in many projects
    'sys_platform == "win32"': {"windows"},
    # uvicorn[standard] -> uvloop
    "sys_platform != 'win32' and (sys_platform != 'cygwin' and platform_python_implementation "
    "!= 'PyPy')": set(TARGETS) - {"windows"},
    # ipykernel -> appnope
    'platform_system == "Darwin"': {"macos-arm64"},
    # projects that skip native deps in the browser
    'sys_platform != "emscripten"': set(TARGETS) - {"pyodide-2026.0"},
    'platform_system == "iOS"': {"ios", "ios-simulator-x86_64"},
    'platform_machine == "arm64"': {"ios", "macos-arm64"},
    # SQLAlchemy -> greenlet
    'platform_machine == "aarch64" or (platform_machine == "ppc64le" or (platform_machine == '
    '"x86_64" or (platform_machine == "amd64" or (platform_machine == "AMD64" or '
    '(platform_machine == "win32" or platform_machine == "WIN32")))))': {
        "ios-simulator-x86_64",
        "android-arm64",
        "manylinux-aarch64",
        "musllinux-x86_64",
        "windows",
    },
    'os_name == "nt"': {"windows"},
    'sys_platform == "linux"': {"manylinux-aarch64", "musllinux-x86_64"},
    'sys_platform == "android"': {"android-arm64"},
}


@pytest.mark.parametrize("marker", REAL_MARKERS)
def test_real_world_markers(marker: str) -> None:
    holding = {name for name in TARGETS if evaluate_marker(marker, parse_platform(name))}
    assert holding == REAL_MARKERS[marker]


def test_the_target_not_the_host() -> None:
    environment = marker_environment(parse_platform("ios", python="3.13"))
    assert environment == {
        "implementation_name": "cpython",
        "implementation_version": "3.13.0",
        "os_name": "posix",
        "platform_machine": "arm64",
        "platform_python_implementation": "CPython",
        "platform_release": "13.0",
        "platform_system": "iOS",
        "platform_version": "",
        "python_full_version": "3.13.0",
        "python_version": "3.13",
        "sys_platform": "ios",
    }


@pytest.mark.parametrize(
    ("platform", "key", "value"),
    [
        ("android-arm64", "platform_machine", "aarch64"),
        ("android-armv7", "platform_machine", "armv7l"),
        ("android-arm64", "platform_release", "7.0"),
        ("android-arm64@33", "platform_release", "13"),
        ("pyodide-2025.0", "platform_release", "4.0.9"),
        ("pyodide-2025.0", "python_version", "3.13"),
        ("pyodide-2026.0", "platform_version", "#1"),
        ("macos-x86_64@10.9", "platform_release", "13.0.0"),
        ("macos@14.0", "platform_release", "23.0.0"),
        ("macos@26.0", "platform_release", "25.0.0"),
        ("macos-universal2", "platform_machine", "arm64"),
        ("windows", "platform_machine", "AMD64"),
        ("windows-x86", "platform_machine", "x86"),
        ("windows", "os_name", "nt"),
    ],
)
def test_values(platform: str, key: str, value: str) -> None:
    assert marker_environment(parse_platform(platform))[key] == value


def test_python_markers_follow_the_target_python() -> None:
    assert evaluate_marker('python_version < "3.13"', parse_platform("ios", python="3.12"))
    assert not evaluate_marker('python_version < "3.13"', parse_platform("pyodide-2025.0"))


def test_extra_markers() -> None:
    ios = parse_platform("ios")
    assert evaluate_marker('extra == "speedups"', ios, extra="speedups")
    assert not evaluate_marker('extra == "speedups"', ios)
