"""Resolving for a target: its tags pick the wheel, its markers pick the dependencies."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import localindex
from omniwheel.platforms import parse_platform
from omniwheel.resolve import IndexConfig, IndexStrategy, ResolutionError, Session

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
    extra_indexes: tuple[str, ...] = (),
    strategy: IndexStrategy = IndexStrategy.FIRST_INDEX,
) -> dict[str, str]:
    config = IndexConfig(((index,) if index else ()) + extra_indexes, find_links, strategy)
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


def _metadata(name: str, version: str, *lines: str) -> dict[str, bytes]:
    """A wheel's METADATA member (for ``make_wheel``) with extra header ``lines``."""
    text = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
    text += "".join(f"{line}\n" for line in lines)
    return {f"{name}-{version}.dist-info/METADATA": text.encode()}


@pytest.mark.parametrize("source", ["find-links", "index"])
def test_metadata_requires_python_rejects_a_version(
    make_wheel: Callable[..., Path], tmp_path: Path, source: str
) -> None:
    """Where the index does not repeat a wheel's Requires-Python (find-links never does),
    the METADATA's decides: a version it excludes is passed over for an older one, as pip
    does, and when none is left the error says which metadata excluded what."""
    for version, requires_python in (("1.0", ">=3.8"), ("2.0", ">=3.14")):
        make_wheel(
            f"foo-{version}-py3-none-any.whl",
            _metadata("foo", version, f"Requires-Python: {requires_python}"),
        )
    index, links = "", (str(tmp_path),)
    if source == "index":
        wheels = sorted(tmp_path.glob("*.whl"))
        index, links = localindex.build_index(tmp_path / "idx", wheels).as_uri(), ()

    def chosen(requirement: str, python: str) -> dict[str, str]:
        return _resolve(index, [requirement], "ios", tmp_path, python=python, find_links=links)

    assert chosen("foo", "3.13") == {"foo": "foo-1.0-py3-none-any.whl"}
    assert chosen("foo", "3.14") == {"foo": "foo-2.0-py3-none-any.whl"}
    with pytest.raises(ResolutionError) as caught:
        chosen("foo>=2", "3.13")
    assert str(caught.value) == (
        "foo 2.0: Requires-Python >=3.14 (from its metadata) excludes CPython 3.13"
    )


def _two_versions(make_wheel: Callable[..., Path], name: str) -> tuple[str, ...]:
    """``name`` 1.0 and 2.0 as find-links wheels; the find-links locations."""
    wheels = [make_wheel(f"{name}-{version}-py3-none-any.whl") for version in ("1.0", "2.0")]
    return (str(wheels[0].parent),)


def test_constraint_markers_follow_the_target(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """A constraint whose marker is false on the target does not apply, as in pip."""
    links = _two_versions(make_wheel, "foo")
    for marker, version in (('sys_platform == "win32"', "2.0"), ('sys_platform == "ios"', "1.0")):
        chosen = _resolve(
            "", ["foo"], "ios", tmp_path, find_links=links, constraints=(f"foo<2; {marker}",)
        )
        assert chosen == {"foo": f"foo-{version}-py3-none-any.whl"}, marker


def test_arbitrary_equality_pins(make_wheel: Callable[..., Path], tmp_path: Path) -> None:
    """``===`` compares strings: ``===1.0`` pins 1.0, ``===1.0-custom`` (not PEP 440) no
    version at all, which is an ordinary "no version satisfies"."""
    links = _two_versions(make_wheel, "foo")
    assert _resolve("", ["foo===1.0"], "ios", tmp_path, find_links=links) == {
        "foo": "foo-1.0-py3-none-any.whl"
    }
    with pytest.raises(ResolutionError) as caught:
        _resolve("", ["foo===1.0-custom"], "ios", tmp_path, find_links=links)
    assert str(caught.value) == (
        "no version of foo satisfies foo===1.0-custom (requested); the newest are 2.0, 1.0"
    )


def test_metadata_version_must_match_the_filename(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """A wheel whose METADATA Version is not its filename's (or not a version at all) is
    refused, whether read from the wheel or from a PEP 658 metadata file, as pip refuses it:
    locking it would pair one version's name with another's dependencies."""
    expected = {
        "9.9": (
            "ver-1.0-py3-none-any.whl: its METADATA says ver 9.9, not ver 1.0 as its filename "
            "does; the file is mislabelled"
        ),
        "not-a-version": (
            "ver-1.0-py3-none-any.whl: its METADATA is invalid: 'not-a-version' is invalid for "
            "'version' (must be a PEP 440 version)"
        ),
    }
    for stated, message in expected.items():
        metadata = f"Metadata-Version: 2.4\nName: ver\nVersion: {stated}\n".encode()
        wheel = make_wheel("ver-1.0-py3-none-any.whl", {"ver-1.0.dist-info/METADATA": metadata})
        links = tmp_path / stated
        links.mkdir()
        wheel.replace(links / wheel.name)
        with pytest.raises(ResolutionError) as caught:
            _resolve("", ["ver"], "ios", tmp_path, find_links=(str(links),))
        assert str(caught.value) == message
    root = tmp_path / "idx"
    wheel = make_wheel("ver-1.0-py3-none-any.whl")  # its own METADATA is right
    localindex.build_index(root, [wheel])
    (root / "files" / f"{wheel.name}.metadata").write_text(
        "Metadata-Version: 2.4\nName: ver\nVersion: 9.9\n"
    )
    page = root / "simple" / "ver" / "index.html"
    page.write_text(page.read_text().replace("<a ", '<a data-core-metadata="true" '))
    with (
        localindex.serve(root, json_pages=False) as (url, log),
        pytest.raises(ResolutionError) as caught,
    ):
        _resolve(url, ["ver"], "ios", tmp_path)
    assert str(caught.value) == expected["9.9"]
    assert f"/files/{wheel.name}.metadata" in log.paths()


def test_files_naming_another_project_are_skipped(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """A project page (or a ``file://`` index's project directory) that also lists another
    project's wheel does not make that wheel a version of this project: pip skips it."""
    wn = make_wheel("wn-1.0-py3-none-any.whl")
    extra = make_wheel("wn_extra-2.0-py3-none-any.whl")
    root = tmp_path / "idx"
    simple = localindex.build_index(root, [wn, extra])
    page = simple / "wn" / "index.html"
    page.write_text(page.read_text() + (simple / "wn-extra" / "index.html").read_text())
    directory = tmp_path / "listing" / "wn"
    directory.mkdir(parents=True)
    for wheel in (wn, extra):
        shutil.copyfile(wheel, directory / wheel.name)
    with localindex.serve(root, json_pages=False) as (url, _):
        for index in (url, directory.parent.as_uri()):
            assert _resolve(index, ["wn"], "ios", tmp_path) == {"wn": wn.name}, index


def test_a_constraint_pin_admits_a_yanked_version(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """PEP 592 as pip applies it: a yanked version is used when pinned, by a requirement
    or by a constraint alike."""
    wheels = [make_wheel(f"yk-{version}-py3-none-any.whl") for version in ("1.0", "2.0")]
    claims = {"yk-2.0-py3-none-any.whl": localindex.FileClaims("broken")}
    index = localindex.build_index(tmp_path / "idx", wheels, claims).as_uri()
    assert _resolve(index, ["yk"], "ios", tmp_path) == {"yk": "yk-1.0-py3-none-any.whl"}
    assert _resolve(index, ["yk"], "ios", tmp_path, constraints=("yk==2.0",)) == {
        "yk": "yk-2.0-py3-none-any.whl"
    }


def test_first_index_error_names_the_index_it_stopped_at(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """With first-index, a project the first index lists with no files (or none fitting)
    is not looked for further: the error says so, not that no index has it."""
    android = make_wheel("other-1.0-cp313-cp313-android_24_arm64_v8a.whl", purelib=False)
    first = localindex.build_index(tmp_path / "a", [android])
    (first / "empty").mkdir()  # a project directory with no files
    wheels = [make_wheel(f"{name}-1.0-py3-none-any.whl") for name in ("empty", "other")]
    second = localindex.build_index(tmp_path / "b", wheels)
    a, b = first.as_uri(), second.as_uri()
    expected = {
        "empty": f"empty: its project page on {a} lists no files of it (empty (requested))",
        "other": (
            "other 1.0: no wheel for ios-13.0-arm64-iphoneos (CPython 3.13); available: "
            "android_24_arm64_v8a; other (requested)"
        ),
    }
    for name, reason in expected.items():
        with pytest.raises(ResolutionError) as caught:
            _resolve(a, [name], "ios", tmp_path, python="3.13", extra_indexes=(b,))
        assert str(caught.value) == (
            f"{reason}; the first-index strategy stops at {a} and ignores {name} on {b} "
            "(--index-strategy unsafe-best-match pools every index)"
        )
        pooled = _resolve(
            a, [name], "ios", tmp_path, extra_indexes=(b,), strategy=IndexStrategy.UNSAFE_BEST_MATCH
        )
        assert pooled == {name: f"{name}-1.0-py3-none-any.whl"}


def test_invalid_dependency_metadata_is_a_one_line_error(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """A Requires-Dist that is not PEP 508, or whose marker compares what PEP 508 cannot
    (``os_name === "x"``), is an error naming the wheel and the line, not a traceback;
    so is such a marker on a requested requirement."""
    make_wheel("bad-1.0-py3-none-any.whl", _metadata("bad", "1.0", "Requires-Dist: foo >>> 1"))
    make_wheel(
        "odd-1.0-py3-none-any.whl",
        _metadata("odd", "1.0", 'Requires-Dist: goodpkg ; os_name === "x"'),
    )
    links = (str(tmp_path),)
    with pytest.raises(ResolutionError) as caught:
        _resolve("", ["bad"], "ios", tmp_path, find_links=links)
    assert str(caught.value) == (
        "bad-1.0-py3-none-any.whl: its METADATA is invalid: 'foo >>> 1' is invalid for "
        "'requires-dist' (must be a PEP 508 requirement)"
    )
    unevaluable = r": its marker cannot be evaluated \(.+\); ~= and === compare versions only$"
    with pytest.raises(
        ResolutionError,
        match=r"^odd-1.0-py3-none-any.whl: Requires-Dist 'goodpkg; os_name === \"x\"'"
        + unevaluable,
    ):
        _resolve("", ["odd"], "ios", tmp_path, find_links=links)
    with pytest.raises(ResolutionError, match=r"^'odd; os_name ~= \"x\"'" + unevaluable):
        _resolve("", ["odd; os_name ~= 'x'"], "ios", tmp_path, find_links=links)
