"""For iOS and Android targets we choose the same wheel files as ``uv pip install
--python-platform`` (pinned uv, same local index)."""

from __future__ import annotations

import subprocess
from email.parser import BytesParser
from pathlib import Path

import pytest
from packaging.tags import Tag
from packaging.utils import canonicalize_name

import localindex
from omniwheel.platforms import parse_platform
from omniwheel.resolve import IndexConfig, Session
from omniwheel.wheel import WheelFilename

pytestmark = pytest.mark.network

REQUIREMENTS = ["jinja2", "attrs", "annotated-types", "typing-extensions"]
Choice = tuple[str, str, frozenset[Tag]]


def _uv_choice(url: str, triple: str, python: str, tmp_path: Path) -> set[Choice]:
    """What uv installed, read back from each dist-info's WHEEL tags."""
    target = tmp_path / f"uv-{triple}-{python}"
    command = localindex.uv_install_command(
        "--only-binary",
        ":all:",
        "--index-url",
        url,
        *REQUIREMENTS,
        target=target,
        triple=triple,
        python=python,
        cache=tmp_path / "uv-cache",
    )
    subprocess.run(command, check=True, capture_output=True)
    chosen = set()
    for wheel_file in target.glob("*.dist-info/WHEEL"):
        info = BytesParser().parsebytes(wheel_file.read_bytes())
        name, version = wheel_file.parent.name.removesuffix(".dist-info").rsplit("-", 1)
        tags = frozenset(Tag(*tag.split("-")) for tag in info.get_all("Tag", []))
        chosen.add((canonicalize_name(name), version, tags))
    return chosen


@pytest.mark.parametrize(
    ("platform", "python"),
    [
        ("ios", "3.13"),
        ("ios", "3.14"),
        ("ios-simulator", "3.13"),
        ("android-24-arm64_v8a", "3.13"),
        ("android-24-x86_64", "3.13"),
    ],
)
def test_same_wheels_as_uv(
    served_index: tuple[str, object], tmp_path: Path, platform: str, python: str
) -> None:
    url, _ = served_index
    target = parse_platform(platform, python=python)
    assert target.uv_triple is not None
    with Session(IndexConfig((url,)), cache_dir=tmp_path / "cache") as session:
        resolution = session.resolve(REQUIREMENTS, target)
    ours = set()
    for package in resolution.packages.values():
        parsed = WheelFilename.parse(package.file.filename)
        ours.add((package.name, str(package.version), parsed.tags))
    assert len(ours) == 5
    assert ours == _uv_choice(url, target.uv_triple, python, tmp_path)
