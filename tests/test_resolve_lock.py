"""``omniwheel lock``: one PEP 751 lock for several targets, read back by packaging.pylock."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.pylock import Pylock

import localindex
from omniwheel.cli.main import main
from omniwheel.errors import UsageError
from omniwheel.platforms import compatible_tags, marker_environment, parse_platform
from omniwheel.resolve import platform_marker, read_lock, select_wheels, write_lock
from omniwheel.resolve.lock import LockError

pytestmark = pytest.mark.network

PLATFORMS = ["ios", "ios-simulator", "android-24-arm64_v8a", "pyodide-2026.0"]
REQUIREMENTS = (
    "jinja2; sys_platform != 'emscripten'\n"
    "pydantic; sys_platform == 'emscripten'\n"
    "msgpack; sys_platform == 'emscripten'  # the wasm targets only\n"
)


@pytest.fixture
def lock_file(
    served_index: tuple[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, object]]:
    url, _ = served_index
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(REQUIREMENTS)
    output = tmp_path / "out" / "pylock.toml"
    output.parent.mkdir()
    arguments = localindex.lock_arguments(
        url, tmp_path / "cache", output, "-r", str(requirements), "--json"
    )
    for platform in PLATFORMS:
        arguments += ["--platform", platform]
    assert main(arguments) == 0
    return output, json.loads(capsys.readouterr().out)


#: What each platform must install from the lock: its own binary wheels, pure ones shared.
SELECTED = {
    "ios": {
        "jinja2-3.1.6-py3-none-any.whl",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
    },
    "ios-simulator": {
        "jinja2-3.1.6-py3-none-any.whl",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl",
    },
    "android-24-arm64_v8a": {
        "jinja2-3.1.6-py3-none-any.whl",
        "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl",
    },
    "pyodide-2026.0": {
        "annotated_types-0.8.0-py3-none-any.whl",
        "msgpack-1.2.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "pydantic-2.14.3-py3-none-any.whl",
        "pydantic_core-2.50.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "typing_extensions-4.16.0-py3-none-any.whl",
        "typing_inspection-0.4.5-py3-none-any.whl",
    },
}


def test_lock_round_trip(lock_file: tuple[Path, dict[str, object]]) -> None:
    """packaging.pylock validates the lock and ``select`` picks each platform's own wheels."""
    path, _ = lock_file
    document = tomllib.loads(path.read_text())
    lock = Pylock.from_dict(document)
    lock.validate()
    assert document["lock-version"] == "1.0" and document["created-by"] == "omniwheel"
    for name in PLATFORMS:
        platform = parse_platform(name, python=None if "pyodide" in name else "3.13")
        selected = {
            wheel.filename
            for _, wheel in lock.select(
                environment=dict(marker_environment(platform)),  # type: ignore[arg-type]
                tags=compatible_tags(platform),
            )
        }
        assert selected == SELECTED[name], name
        assert str(platform_marker(platform)) in document["environments"]
    assert len(document["environments"]) == 3  # device and simulator share one marker


def test_lock_markers_and_wheels(lock_file: tuple[Path, dict[str, object]]) -> None:
    path, report = lock_file
    packages = {p["name"]: p for p in tomllib.loads(path.read_text())["packages"]}
    assert set(packages) == {
        "annotated-types",
        "jinja2",
        "markupsafe",
        "msgpack",
        "pydantic",
        "pydantic-core",
        "typing-extensions",
        "typing-inspection",
    }
    assert packages["markupsafe"]["marker"] == (
        '(sys_platform == "android" and platform_machine == "aarch64" and '
        'python_version == "3.13") or (sys_platform == "ios" and platform_machine == "arm64" '
        'and python_version == "3.13")'
    )
    assert [w["name"] for w in packages["markupsafe"]["wheels"]] == [
        "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl",
    ]
    assert all(
        len(w["hashes"]["sha256"]) == 64 and w["url"].startswith("http://127.0.0.1")
        for p in packages.values()
        for w in p["wheels"]
    )
    assert packages["jinja2"]["dependencies"] == [{"name": "markupsafe"}]
    assert packages["pydantic-core"]["tool"]["omniwheel"]["platforms"] == [
        "pyemscripten_2026_0_wasm32"
    ]
    assert report["lock"] == str(path)
    assert [p["name"] for p in report["packages"]] == sorted(packages)  # type: ignore[index]


def test_read_lock_rejects_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "pylock.toml"
    bad.write_text('lock-version = "1.0"\ncreated-by = "x"\n')
    with pytest.raises(UsageError, match=r"is not a valid PEP 751 lock: .*packages"):
        read_lock(bad)
    bad.write_text("lock-version = \n")
    with pytest.raises(UsageError, match="is not valid TOML"):
        read_lock(bad)


def test_write_lock_refuses_an_invalid_lock_and_keeps_the_file(
    lock_file: tuple[Path, dict[str, object]],
) -> None:
    """Only what packaging.pylock accepts reaches a file: a package with neither wheels nor
    any other source is refused, and the lock already there is left as it was."""
    path, _ = lock_file
    before = path.read_bytes()
    lock = read_lock(path)
    broken = dataclasses.replace(
        lock, packages=[dataclasses.replace(lock.packages[0], wheels=None), *lock.packages[1:]]
    )
    with pytest.raises(LockError, match=rf"refusing to write {path}: not a valid PEP 751 lock"):
        write_lock(broken, path)
    assert path.read_bytes() == before
    write_lock(lock, path)
    assert path.read_bytes() == before  # a valid lock is written back byte for byte


def test_lock_output_path_errors_are_one_line(
    make_wheel: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-o`` in a directory that does not exist, or naming a directory, is an error that
    names the path and says what is wrong, not a traceback."""
    wheel = make_wheel("demo-1.0-py3-none-any.whl")
    lock_path = tmp_path / "pylock.toml"
    arguments = ["lock", "demo", "--no-index", "--find-links", str(wheel.parent)]
    arguments += ["--platform", "ios", "--cache-dir", str(tmp_path / "cache")]
    assert main([*arguments, "-o", str(lock_path)]) == 0
    lock = read_lock(lock_path)
    missing = tmp_path / "missing" / "pylock.toml"
    expected = {
        missing: f"cannot write the lock to {missing}: {missing.parent} is not an existing "
        "directory",
        tmp_path: f"cannot write the lock to {tmp_path}: it is a directory; give a file path "
        f"such as {tmp_path / 'pylock.toml'}",
    }
    for output, message in expected.items():
        with pytest.raises(UsageError) as caught:
            write_lock(lock, output)
        assert str(caught.value) == message
        capsys.readouterr()
        assert main([*arguments, "-o", str(output)]) == UsageError.exit_code
        assert capsys.readouterr().err.strip() == f"omniwheel: error: {message}"
        # Checked before resolving: an index nothing listens on is never asked.
        unreachable = ["lock", "demo", "-i", "http://127.0.0.1:9/simple/", "--platform", "ios"]
        assert main([*unreachable, "-o", str(output)]) == UsageError.exit_code
        assert capsys.readouterr().err.strip() == f"omniwheel: error: {message}"
    assert not missing.parent.exists()


#: One wheel entry of a hand-written lock (the hash is never checked: nothing installs).
_WHEEL = (
    'wheels = [{name = "six-1.16.0-py2.py3-none-any.whl", '
    'url = "https://example.invalid/six-1.16.0-py2.py3-none-any.whl", '
    f'hashes = {{sha256 = "{"0" * 64}"}}}}]\n'
)
_HEADER = 'lock-version = "1.0"\ncreated-by = "hand"\n'


def test_read_and_select_refuse_what_omniwheel_cannot_use(tmp_path: Path) -> None:
    """A binary file, a marker that cannot be evaluated, an sdist where a wheel is needed:
    each a one-line error naming what is wrong, in words rather than class names."""
    path = tmp_path / "pylock.toml"
    path.write_bytes(b"\xff\xfe\x00\x01 not text")
    with pytest.raises(UsageError) as caught:
        read_lock(path)
    assert str(caught.value) == (
        f"{path} is not a TOML lock: byte 0 is not UTF-8 (invalid start byte)"
    )
    ios = parse_platform("ios", python="3.13")
    path.write_text(
        f'{_HEADER}[[packages]]\nname = "six"\nversion = "1.16.0"\n'
        f"marker = \"os_name === 'x'\"\n{_WHEEL}"
    )
    with pytest.raises(LockError) as caught:
        select_wheels(read_lock(path), ios)
    assert str(caught.value).startswith(
        'the lock\'s marker os_name === "x" (of six) cannot be evaluated for ios ('
    )
    assert str(caught.value).endswith("); ~= and === compare versions only")
    path.write_text(
        f'{_HEADER}[[packages]]\nname = "six"\nversion = "1.16.0"\n'
        'sdist = {name = "six-1.16.0.tar.gz", url = "https://example.invalid/six-1.16.0.tar.gz", '
        f'hashes = {{sha256 = "{"0" * 64}"}}}}\n'
    )
    with pytest.raises(LockError) as caught:
        select_wheels(read_lock(path), ios)
    assert str(caught.value) == (
        "the lock names an sdist for six and no wheel for ios; omniwheel installs wheels only"
    )
