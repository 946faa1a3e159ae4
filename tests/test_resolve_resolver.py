"""Resolving for a target: its tags pick the wheel, its markers pick the dependencies."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import localindex
from omniwheel.platforms import parse_platform
from omniwheel.resolve import IndexConfig, ResolutionError, Session

pytestmark = pytest.mark.network


def _resolve(
    index: str,
    requirements: list[str],
    platform: str,
    tmp_path: Path,
    *,
    python: str | None = None,
    find_links: tuple[str, ...] = (),
    constraints: tuple[str, ...] = (),
) -> dict[str, str]:
    config = IndexConfig((index,) if index else (), find_links)
    with Session(config, cache_dir=tmp_path / "cache") as session:
        resolution = session.resolve(
            requirements, parse_platform(platform, python=python), constraints
        )
    return {name: package.file.filename for name, package in resolution.packages.items()}


@pytest.mark.parametrize(
    ("platform", "python", "markupsafe"),
    [
        ("ios", "3.13", "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl"),
        ("ios", "3.14", "markupsafe-3.0.4-cp314-cp314-ios_13_0_arm64_iphoneos.whl"),
        (
            "ios-simulator",
            "3.13",
            "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl",
        ),
        ("android-24-arm64_v8a", "3.13", "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl"),
        ("x86_64-linux-android", "3.13", "markupsafe-3.0.4-cp313-cp313-android_24_x86_64.whl"),
    ],
)
def test_target_tags_choose_the_wheel(
    served_index: tuple[str, object], tmp_path: Path, platform: str, python: str, markupsafe: str
) -> None:
    url, _ = served_index
    chosen = _resolve(url, ["jinja2"], platform, tmp_path, python=python)
    assert chosen == {"jinja2": "jinja2-3.1.6-py3-none-any.whl", "markupsafe": markupsafe}


def test_pyodide_tree_uses_the_abi_python(served_index: tuple[str, object], tmp_path: Path) -> None:
    """pyodide-2026.0 implies CPython 3.14: the cp314 pyemscripten wheels, and pure deps."""
    url, _ = served_index
    chosen = _resolve(url, ["pydantic", "msgpack"], "pyodide-2026.0", tmp_path)
    assert chosen == {
        "annotated-types": "annotated_types-0.8.0-py3-none-any.whl",
        "msgpack": "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "pydantic": "pydantic-2.14.3-py3-none-any.whl",
        "pydantic-core": "pydantic_core-2.50.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "typing-extensions": "typing_extensions-4.16.0-py3-none-any.whl",
        "typing-inspection": "typing_inspection-0.4.5-py3-none-any.whl",
    }


def test_no_wheel_error_names_platforms_and_parent(
    served_index: tuple[str, object], tmp_path: Path
) -> None:
    url, _ = served_index
    with pytest.raises(ResolutionError) as caught:
        _resolve(url, ["jinja2"], "pyodide-2026.0", tmp_path)
    assert str(caught.value) == (
        "markupsafe 3.0.4: no wheel for emscripten-5.0.3-wasm32 (CPython 3.14); available: "
        "android_24_arm64_v8a, android_24_x86_64, ios_13_0_arm64_iphoneos, "
        "ios_13_0_arm64_iphonesimulator; MarkupSafe>=2.0 (required by jinja2 3.1.6)"
    )
    with pytest.raises(ResolutionError) as caught:
        _resolve(url, ["msgpack"], "ios", tmp_path, python="3.14")
    assert str(caught.value) == (
        "msgpack 1.2.4: no wheel for ios-13.0-arm64-iphoneos (CPython 3.14); available: "
        "pyemscripten_2025_0_wasm32, pyemscripten_2026_0_wasm32; msgpack (requested)"
    )


def test_missing_project_and_version(served_index: tuple[str, object], tmp_path: Path) -> None:
    url, _ = served_index
    with pytest.raises(ResolutionError) as caught:
        _resolve(url, ["no-such-project"], "ios", tmp_path)
    assert str(caught.value) == (
        f"no-such-project: no such project on {url} or in find-links (no-such-project (requested))"
    )
    with pytest.raises(ResolutionError) as caught:
        _resolve(url, ["jinja2>=4"], "ios", tmp_path)
    assert str(caught.value) == (
        "no version of jinja2 satisfies jinja2>=4 (requested); the newest are 3.1.6"
    )
    with pytest.raises(ResolutionError) as caught:
        _resolve(url, ["jinja2"], "ios", tmp_path, python="3.12")
    assert str(caught.value) == (
        "markupsafe 3.0.4: no wheel for ios-13.0-arm64-iphoneos (CPython 3.12); available: "
        "android_24_arm64_v8a, android_24_x86_64, ios_13_0_arm64_iphoneos, "
        "ios_13_0_arm64_iphonesimulator (for this platform only cp313, cp314); "
        "MarkupSafe>=2.0 (required by jinja2 3.1.6)"
    )


def test_constraints_apply(served_index: tuple[str, object], tmp_path: Path) -> None:
    url, _ = served_index
    with pytest.raises(ResolutionError) as caught:
        _resolve(url, ["jinja2"], "ios", tmp_path, constraints=("markupsafe<3",))
    assert str(caught.value) == (
        "no version of markupsafe satisfies MarkupSafe>=2.0 (required by jinja2 3.1.6) "
        "and markupsafe<3 (constraint); the newest are 3.0.4"
    )


def test_yanked_and_requires_python_claims(tmp_path: Path) -> None:
    """PEP 592: a yanked file is used only when pinned; Requires-Python is the target's."""
    wheels = [
        localindex.realwheels.fetch_wheel(w)
        for w in localindex.INDEX_WHEELS
        if w.filename.startswith(("jinja2", "markupsafe", "attrs"))
    ]
    claims = {
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl": localindex.FileClaims("bad"),
        "attrs-26.1.0-py3-none-any.whl": localindex.FileClaims(requires_python=">=3.13"),
    }
    simple = localindex.build_index(tmp_path / "idx", wheels, claims)
    index = simple.as_uri()
    with pytest.raises(ResolutionError) as caught:
        _resolve(index, ["jinja2"], "ios", tmp_path, python="3.13")
    assert str(caught.value) == (
        "markupsafe 3.0.4 for ios-13.0-arm64-iphoneos (CPython 3.13): only yanked files (bad); "
        "pin markupsafe==3.0.4 to use one; MarkupSafe>=2.0 (required by jinja2 3.1.6)"
    )
    pinned = _resolve(index, ["jinja2", "markupsafe==3.0.4"], "ios", tmp_path, python="3.13")
    assert pinned["markupsafe"] == "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
    assert _resolve(index, ["attrs"], "pyodide-2025.0", tmp_path) == {
        "attrs": "attrs-26.1.0-py3-none-any.whl"
    }
    with pytest.raises(ResolutionError) as caught:
        _resolve(index, ["attrs"], "pyodide-2024.0", tmp_path)
    assert str(caught.value) == (
        "attrs 26.1.0: Requires-Python >=3.13 excludes CPython 3.12; attrs (requested)"
    )


def test_markers_and_extras_use_the_target(make_wheel: Callable[..., Path], tmp_path: Path) -> None:
    """Dependencies follow the target's markers (not the host's) and the requested extras."""
    metadata = (
        "Metadata-Version: 2.4\nName: app\nVersion: 1.0\n"
        'Requires-Dist: mobile; sys_platform == "ios" or sys_platform == "android"\n'
        'Requires-Dist: desktop; sys_platform == "linux"\n'
        'Requires-Dist: wasm; platform_machine == "wasm32"\n'
        'Requires-Dist: fancy; extra == "ui"\n'
        "Provides-Extra: ui\n"
    )
    make_wheel("app-1.0-py3-none-any.whl", {"app-1.0.dist-info/METADATA": metadata.encode()})
    for name in ("mobile", "desktop", "wasm", "fancy"):
        make_wheel(f"{name}-1.0-py3-none-any.whl")
    links = (str(make_wheel("mobile-1.0-py3-none-any.whl").parent),)
    assert set(_resolve("", ["app"], "ios", tmp_path, find_links=links)) == {"app", "mobile"}
    assert set(_resolve("", ["app[ui]"], "pyodide", tmp_path, find_links=links)) == {
        "app",
        "wasm",
        "fancy",
    }
    assert (
        set(_resolve("", ["app; sys_platform == 'linux'"], "ios", tmp_path, find_links=links))
        == set()
    )


def test_a_local_wheel_rebuilt_under_the_same_name_is_read_again(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """Metadata of a find-links wheel (unhashed) is cached; a rebuild with new
    dependencies (``--find-links dist/`` after ``python -m build``) must not be answered
    from that cache, as pip reads the new file."""
    for name in ("alpha", "beta"):
        make_wheel(f"{name}-1.0-py3-none-any.whl")

    def build_app(dependency: str) -> Path:
        metadata = f"Metadata-Version: 2.4\nName: app\nVersion: 1.0\nRequires-Dist: {dependency}\n"
        return make_wheel(
            "app-1.0-py3-none-any.whl", {"app-1.0.dist-info/METADATA": metadata.encode()}
        )

    links = (str(build_app("alpha").parent),)
    assert set(_resolve("", ["app"], "ios", tmp_path, find_links=links)) == {"app", "alpha"}
    rebuilt = build_app("beta")
    stat = rebuilt.stat()  # a coarse clock could give the rebuild the same mtime
    os.utime(rebuilt, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert set(_resolve("", ["app"], "ios", tmp_path, find_links=links)) == {"app", "beta"}
