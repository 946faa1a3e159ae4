"""Install layouts on real wheels: pip --target's tree, CPython's iOS app layout, Android."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import localindex
from omniwheel.cli.main import main
from omniwheel.install.images import Placer
from omniwheel.install.site_packages import mark_requested
from test_rewrite_repair_pe import wine as wine  # the session fixture, shared

pytestmark = pytest.mark.network

MARKUPSAFE_FILES = [
    "__init__.py",
    "_native.py",
    "_speedups.c",
    "_speedups.pyi",
    "py.typed",
]
#: markupsafe's dist-info when it was asked for by name: ``REQUESTED`` as ``pip install
#: --target`` (which fills the testbed's app_packages) writes it.
MARKUPSAFE_DIST_INFO = [
    "INSTALLER",
    "METADATA",
    "RECORD",
    "REQUESTED",
    "WHEEL",
    "licenses/LICENSE.txt",
    "top_level.txt",
]


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def framework_info(module: str, identifier: str) -> dict[str, object]:
    """A module framework's Info.plist as CPython's testbed build phase writes it (its
    iOS-dylib-Info-template.plist, one for device and simulator alike), with the wheel's
    minimum iOS."""
    return {
        "CFBundleDevelopmentRegion": "en",
        "CFBundleExecutable": module,
        "CFBundleIdentifier": identifier,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": "1.0",
        "CFBundleSupportedPlatforms": ["iPhoneOS"],
        "CFBundleVersion": "1",
        "MinimumOSVersion": "13.0",
    }


def _install(url: str, tmp_path: Path, *arguments: str) -> Path:
    """``omniwheel install --json`` from the local index into ``tmp_path/into``; that path."""
    into = tmp_path / "into"
    command = [
        "install",
        "--index-url",
        url,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--into",
        str(into),
        "--json",
        *arguments,
    ]
    assert main(command) == 0
    return into


def test_ios_app_layout_equals_cpython_build_phase(
    served_index: tuple[str, object],
    real_wheel: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What CPython's testbed ``install_dylib`` makes of markupsafe 3.0.4 (cp313, device)."""
    url, _ = served_index
    app = _install(
        url,
        tmp_path,
        "markupsafe",
        "--platform",
        "ios",
        "--python",
        "3.13",
        "--app-id",
        "org.example.my-app",
    )
    report = json.loads(capsys.readouterr().out)
    framework = "Frameworks/markupsafe._speedups.framework"
    fwork = "app_packages/markupsafe/_speedups.cpython-313-iphoneos.fwork"
    assert _tree(app) == sorted(
        [
            f"{framework}/Info.plist",
            f"{framework}/markupsafe._speedups",
            f"{framework}/markupsafe._speedups.origin",
            fwork,
        ]
        + [f"app_packages/markupsafe/{name}" for name in MARKUPSAFE_FILES]
        + [f"app_packages/markupsafe-3.0.4.dist-info/{name}" for name in MARKUPSAFE_DIST_INFO]
    )
    assert (app / fwork).read_text() == f"{framework}/markupsafe._speedups\n"
    assert (app / framework / "markupsafe._speedups.origin").read_text() == f"{fwork}\n"
    assert plistlib.loads((app / framework / "Info.plist").read_bytes()) == framework_info(
        "markupsafe._speedups", "org.example.my-app.markupsafe.-speedups"
    )
    # The framework binary is the wheel's Mach-O extension module, byte for byte.
    with zipfile.ZipFile(real_wheel("ios-device")) as archive:
        extension = archive.read("markupsafe/_speedups.cpython-313-iphoneos.so")
    assert (app / framework / "markupsafe._speedups").read_bytes() == extension
    assert report["layout"] == "ios-app"
    assert [item["filename"] for item in report["installed"]] == [
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
    ]
    # Installing again replaces the earlier install and yields the same tree.
    before = _tree(app)
    _install(url, tmp_path, "markupsafe", "--platform", "ios", "--python", "3.13")
    assert _tree(app) == before


def test_privacy_manifest_moves_into_the_framework(
    make_wheel: Callable[..., Path], real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    """A ``<module>.xcprivacy`` beside the extension becomes the framework's PrivacyInfo."""
    with zipfile.ZipFile(real_wheel("ios-device")) as archive:
        macho = archive.read("markupsafe/_speedups.cpython-313-iphoneos.so")
    manifest = b"<?xml version='1.0'?><plist version='1.0'><dict/></plist>"
    wheel = make_wheel(
        "tracker-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
        {
            "tracker/__init__.py": b"",
            "tracker/sub/_x.cpython-313-iphoneos.so": macho,
            "tracker/sub/_x.xcprivacy": manifest,
        },
    )
    app = tmp_path / "app"
    assert (
        main(
            [
                "install",
                str(wheel),
                "--platform",
                "ios",
                "--python",
                "3.13",
                "--no-index",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--into",
                str(app),
            ]
        )
        == 0
    )
    framework = app / "Frameworks" / "tracker.sub._x.framework"
    assert (framework / "PrivacyInfo.xcprivacy").read_bytes() == manifest
    assert not (app / "app_packages" / "tracker" / "sub" / "_x.xcprivacy").exists()
    assert (framework / "tracker.sub._x.origin").read_text() == (
        "app_packages/tracker/sub/_x.cpython-313-iphoneos.fwork\n"
    )


#: The install the site-packages layout is compared with pip's and uv's on.
JINJA2_FOR_ANDROID = [
    *("jinja2", "--platform", "android", "--python", "3.13"),
    *("--layout", "site-packages"),
]


def test_site_packages_matches_uv_target(served_index: tuple[str, object], tmp_path: Path) -> None:
    """The ``site-packages`` layout lays out the same files as ``uv pip install --target``."""
    url, _ = served_index
    into = _install(url, tmp_path, *JINJA2_FOR_ANDROID)
    uv_target = tmp_path / "uv"
    command = localindex.uv_install_command(
        "--index-url",
        url,
        "jinja2",
        target=uv_target,
        triple="aarch64-linux-android",
        python="3.13",
        cache=tmp_path / "uv-cache",
    )
    subprocess.run(command, check=True, capture_output=True)
    ours, theirs = _tree(into), _tree(uv_target)
    # uv adds its own lock file and marks every project REQUESTED; pip and we mark jinja2.
    extra = {".lock", "markupsafe-3.0.4.dist-info/REQUESTED"}
    assert ours == [p for p in theirs if p not in extra]
    for path in ours:
        if not path.endswith(("/RECORD", "/INSTALLER")):
            assert (into / path).read_bytes() == (uv_target / path).read_bytes()


def test_site_packages_matches_pip_target(
    served_index: tuple[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same files as ``pip install --target``, ``REQUESTED`` on the project asked for
    only, and the same RECORD rows but INSTALLER's (which names the installer)."""
    url, _ = served_index
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    into = _install(url, tmp_path, *JINJA2_FOR_ANDROID)
    pip_target = tmp_path / "pip"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    pip += ["--target", str(pip_target), "--index-url", url, "--only-binary", ":all:"]
    pip += ["--no-compile", "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313"]
    subprocess.run([*pip, "--platform", "android_24_arm64_v8a", "jinja2"], check=True)
    assert _tree(into) == _tree(pip_target)
    assert "jinja2-3.1.6.dist-info/REQUESTED" in _tree(into)

    def rows(root: Path) -> set[tuple[str, ...]]:
        records = root.glob("*.dist-info/RECORD")
        found = {tuple(line.split(",")) for path in records for line in path.read_text().split()}
        return {row for row in found if not row[0].endswith("/INSTALLER")}

    assert rows(into) == rows(pip_target)


def test_requested_marks_only_the_named_projects_top_level_dist_info() -> None:
    """The row goes before RECORD's own; a wheel's own REQUESTED, a project not asked for
    and a dist-info nested in a package are left as they are."""
    empty = "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0"
    files: dict[str, str | bytes] = {
        "app/a-1.0.dist-info/RECORD": b"a/__init__.py,sha256=x,1\na-1.0.dist-info/RECORD,,\n",
        "app/b-1.0.dist-info/RECORD": b"b-1.0.dist-info/REQUESTED,sha256=y,3\n",
        "app/c-1.0.dist-info/RECORD": b"c-1.0.dist-info/RECORD,,\n",
        "app/d/_vendor/a-1.0.dist-info/RECORD": b"x,,\n",
        "app/a/__init__.py": b"",
    }
    marked = mark_requested(files, {"a", "b", "d"}, "app/")
    assert marked["app/a-1.0.dist-info/RECORD"] == (
        f"a/__init__.py,sha256=x,1\na-1.0.dist-info/REQUESTED,{empty}\n"
        "a-1.0.dist-info/RECORD,,\n".encode()
    )
    assert marked["app/a-1.0.dist-info/REQUESTED"] == b""
    assert {path: data for path, data in marked.items() if "a-1.0.dist-info" not in path} == {
        path: data for path, data in files.items() if "a-1.0.dist-info" not in path
    }
    assert marked["app/d/_vendor/a-1.0.dist-info/RECORD"] == b"x,,\n"


def test_an_install_cut_short_is_finished_by_the_next(
    make_wheel: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each wheel's RECORD is placed before its other files, so the files an interrupted
    install left are the RECORD's, which the next install replaces instead of refusing
    them as the user's own."""
    files = {f"demo/m{number}.py": b"x = 1\n" for number in range(20)}
    wheel = make_wheel("demo-1.0-py3-none-any.whl", files)
    into = tmp_path / "into"
    place = Placer._place
    calls = 0

    def cut_short(self: Placer, source: str | bytes, target: str) -> None:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise OSError(28, "No space left on device")
        place(self, source, target)

    monkeypatch.setattr(Placer, "_place", cut_short)
    capsys.readouterr()
    assert _install_wheels(tmp_path, into, wheel, "--platform", "linux-x86_64") == 1
    assert capsys.readouterr().err == "omniwheel: error: No space left on device\n"
    left = _tree(into)
    assert "demo-1.0.dist-info/RECORD" in left and len(left) == 5
    monkeypatch.setattr(Placer, "_place", place)
    assert _install_wheels(tmp_path, into, wheel, "--platform", "linux-x86_64") == 0
    fresh = tmp_path / "fresh"
    assert _install_wheels(tmp_path, fresh, wheel, "--platform", "linux-x86_64") == 0
    assert _tree(into) == _tree(fresh)


def test_a_project_asked_for_earlier_stays_requested(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """A later install that brings the project again as a dependency keeps its mark, as
    pip keeps an installed project it only checks."""
    into = tmp_path / "into"
    base = make_wheel("base-1.0-py3-none-any.whl")
    metadata = b"Metadata-Version: 2.1\nName: app\nVersion: 1.0\nRequires-Dist: base\n"
    app = make_wheel("app-1.0-py3-none-any.whl", {"app-1.0.dist-info/METADATA": metadata})
    assert _install_wheels(tmp_path, into, base, "--platform", "linux-x86_64") == 0
    found = ["-f", base.parent]  # base comes as app's dependency, from find-links
    assert _install_wheels(tmp_path, into, app, *found, "--platform", "linux-x86_64") == 0
    marks = sorted(path for path in _tree(into) if path.endswith("/REQUESTED"))
    assert marks == ["app-1.0.dist-info/REQUESTED", "base-1.0.dist-info/REQUESTED"]
    # Into a fresh directory, the dependency is not marked.
    fresh = tmp_path / "fresh"
    assert _install_wheels(tmp_path, fresh, app, *found, "--platform", "linux-x86_64") == 0
    assert [path for path in _tree(fresh) if path.endswith("/REQUESTED")] == [
        "app-1.0.dist-info/REQUESTED"
    ]


def test_android_layout_keeps_extension_modules(
    served_index: tuple[str, object], tmp_path: Path
) -> None:
    url, _ = served_index
    into = _install(
        url, tmp_path, "markupsafe", "--platform", "android-24-arm64_v8a", "--python", "3.13"
    )
    tree = _tree(into)
    assert "markupsafe/_speedups.cpython-313-aarch64-linux-android.so" in tree
    assert not any(path.startswith("Frameworks/") for path in tree)


def test_wheel_that_cannot_run_is_refused(
    make_wheel: Callable[..., Path],
    real_wheel: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wheel tagged for iOS whose extension is an Android ELF never reaches the app."""
    with zipfile.ZipFile(real_wheel("android-arm64")) as archive:
        elf = archive.read("markupsafe/_speedups.cpython-313-aarch64-linux-android.so")
    wheel = make_wheel(
        "liar-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl", {"liar/_x.cpython-313-iphoneos.so": elf}
    )
    into = tmp_path / "app"
    status = main(
        [
            "install",
            str(wheel),
            "--platform",
            "ios",
            "--python",
            "3.13",
            "--no-index",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--into",
            str(into),
        ]
    )
    assert status == 1
    error = capsys.readouterr().err
    assert "liar-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl cannot run on ios" in error
    assert "ELF" in error
    assert not into.exists()


def test_install_from_lock_checks_hashes(
    served_index: tuple[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = served_index
    lock = tmp_path / "pylock.toml"
    arguments = localindex.lock_arguments(url, tmp_path / "cache", lock, "jinja2")
    assert main([*arguments, "--platform", "ios"]) == 0
    into = tmp_path / "app"
    common = [
        "--platform",
        "ios",
        "--python",
        "3.13",
        "--cache-dir",
        str(tmp_path / "c2"),
        "--into",
        str(into),
        "--json",
    ]
    capsys.readouterr()
    assert main(["install", str(lock), *common]) == 0
    installed = json.loads(capsys.readouterr().out)["installed"]
    assert {item["name"] for item in installed} == {"jinja2", "markupsafe"}
    text = lock.read_text()
    sha = next(item["sha256"] for item in installed if item["name"] == "jinja2")
    lock.write_text(text.replace(sha, "0" * 64))
    shutil.rmtree(tmp_path / "c2")
    assert main(["install", "--lock", str(lock), *common]) == 1
    assert "expected 0000" in capsys.readouterr().err


def test_lock_and_requirements_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lock says exactly what to install: requirements beside it would be silently lost."""
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n')
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("attrs\n")
    common = ["--platform", "ios", "--python", "3.13", "--into", str(tmp_path / "app")]
    assert main(["install", str(lock), "-r", str(requirements), *common]) == 2
    assert capsys.readouterr().err == (
        f"omniwheel: error: give either a lock ({lock}) or requirements and constraints, not both\n"
    )
    assert main(["install", "--lock", str(lock), "attrs", *common]) == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "app").exists()


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and permission bits, by path relative to ``root``."""
    return {
        path: ((root / path).read_bytes(), (root / path).stat().st_mode & 0o7777)
        for path in _tree(root)
    }


def _speedups(real_wheel: Callable[[str], Path], key: str, suffix: str) -> bytes:
    with zipfile.ZipFile(real_wheel(key)) as archive:
        return archive.read(f"markupsafe/_speedups.cpython-313-{suffix}.so")


def test_device_and_simulators_become_xcframework_slices(
    served_index: tuple[str, object],
    real_wheel: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """markupsafe 3.0.4 for iOS device, arm64 and x86_64 simulators: one XCFramework with
    an ``ios-arm64`` slice and an ``ios-arm64_x86_64-simulator`` slice whose binary is what
    ``llvm-lipo -create`` makes of the two simulator wheels' modules; Python files once."""
    lipo = shutil.which("llvm-lipo-14") or shutil.which("llvm-lipo")
    if lipo is None:
        pytest.skip("needs llvm-lipo")
    url, _ = served_index
    platforms = ["--platform", "ios", "--platform", "ios-simulator"]
    platforms += ["--platform", "ios-simulator-x86_64", "--python", "3.13"]
    # The local index has no x86_64 simulator wheel; find-links adds the real one.
    platforms += ["--find-links", str(real_wheel("ios-simulator-x86_64"))]
    app = _install(url, tmp_path, "markupsafe", *platforms, "--app-id", "org.example.my-app")
    report = json.loads(capsys.readouterr().out)
    module = "markupsafe._speedups"
    xcframework = f"Frameworks/{module}.xcframework"
    device = f"{xcframework}/ios-arm64/{module}.framework"
    simulator = f"{xcframework}/ios-arm64_x86_64-simulator/{module}.framework"
    fworks = {
        sdk: f"app_packages/markupsafe/_speedups.cpython-313-{sdk}.fwork"
        for sdk in ("iphoneos", "iphonesimulator")
    }
    assert _tree(app) == sorted(
        [f"{xcframework}/Info.plist", *fworks.values()]
        + [f"{slice_}/{name}" for slice_ in (device, simulator) for name in ("Info.plist", module)]
        + [f"{device}/{module}.origin", f"{simulator}/{module}.origin"]
        + [f"app_packages/markupsafe/{name}" for name in MARKUPSAFE_FILES]
        + [f"app_packages/markupsafe-3.0.4.dist-info/{name}" for name in MARKUPSAFE_DIST_INFO]
    )
    assert plistlib.loads((app / xcframework / "Info.plist").read_bytes()) == {
        "AvailableLibraries": [
            {
                "BinaryPath": f"{module}.framework/{module}",
                "LibraryIdentifier": "ios-arm64",
                "LibraryPath": f"{module}.framework",
                "SupportedArchitectures": ["arm64"],
                "SupportedPlatform": "ios",
            },
            {
                "BinaryPath": f"{module}.framework/{module}",
                "LibraryIdentifier": "ios-arm64_x86_64-simulator",
                "LibraryPath": f"{module}.framework",
                "SupportedArchitectures": ["arm64", "x86_64"],
                "SupportedPlatform": "ios",
                "SupportedPlatformVariant": "simulator",
            },
        ],
        "CFBundlePackageType": "XFWK",
        "XCFrameworkFormatVersion": "1.0",
    }
    expected_info = framework_info(module, "org.example.my-app.markupsafe.-speedups")
    for slice_ in (device, simulator):
        assert plistlib.loads((app / slice_ / "Info.plist").read_bytes()) == expected_info
    # Xcode embeds the slice's framework as Frameworks/<module>.framework: the .fwork
    # files of both SDKs point there, and each slice's origin back to its own.
    for sdk, fwork in fworks.items():
        assert (app / fwork).read_text() == f"Frameworks/{module}.framework/{module}\n"
        slice_ = device if sdk == "iphoneos" else simulator
        assert (app / slice_ / f"{module}.origin").read_text() == f"{fwork}\n"
    assert (app / device / module).read_bytes() == _speedups(real_wheel, "ios-device", "iphoneos")
    thin = tmp_path / "thin"
    thin.mkdir()
    wheels = {"arm64": "ios-simulator", "x86_64": "ios-simulator-x86_64"}
    for arch, wheel in {arch: real_wheel(key) for arch, key in wheels.items()}.items():
        with zipfile.ZipFile(wheel) as archive:
            name = "markupsafe/_speedups.cpython-313-iphonesimulator.so"
            (thin / arch).write_bytes(archive.read(name))
    subprocess.run(
        [lipo, "-create", thin / "arm64", thin / "x86_64", "-output", thin / "fat"], check=True
    )
    assert (app / simulator / module).read_bytes() == (thin / "fat").read_bytes()
    record = (app / "app_packages/markupsafe-3.0.4.dist-info/RECORD").read_text().splitlines()
    so_rows = [row.split(",")[0] for row in record if ".so," in row]
    assert so_rows == [
        "markupsafe/_speedups.cpython-313-iphoneos.so",
        "markupsafe/_speedups.cpython-313-iphonesimulator.so",
    ]
    assert record[-1] == "markupsafe-3.0.4.dist-info/RECORD,,"
    assert [item["filename"] for item in report["installed"]] == [
        f"markupsafe-3.0.4-cp313-cp313-ios_13_0_{tag}.whl"
        for tag in ("arm64_iphoneos", "arm64_iphonesimulator", "x86_64_iphonesimulator")
    ]
    assert [p["wheel_tag"] for p in report["platforms"]] == [
        "ios_13_0_arm64_iphoneos",
        "ios_13_0_arm64_iphonesimulator",
        "ios_13_0_x86_64_iphonesimulator",
    ]
    # Installing again changes nothing; a device-only install replaces the XCFramework.
    before = _files(app)
    _install(url, tmp_path, "markupsafe", *platforms, "--app-id", "org.example.my-app")
    assert _files(app) == before
    _install(url, tmp_path, "markupsafe", "--platform", "ios", "--python", "3.13")
    assert not (app / xcframework).exists()
    assert not (app / fworks["iphonesimulator"]).exists()
    assert (app / f"Frameworks/{module}.framework/{module}").is_file()


def test_platforms_with_different_python_files_are_refused(
    make_wheel: Callable[..., Path],
    real_wheel: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A device and a simulator wheel whose Python files differ cannot share one app."""
    wheels = [
        make_wheel(
            f"tracker-1.0-cp313-cp313-ios_13_0_arm64_{sdk}.whl",
            {
                "tracker/__init__.py": f"SDK = {sdk!r}\n".encode(),
                f"tracker/_x.cpython-313-{sdk}.so": _speedups(real_wheel, key, sdk),
            },
        )
        for sdk, key in (("iphoneos", "ios-device"), ("iphonesimulator", "ios-simulator"))
    ]
    into = tmp_path / "app"
    command = ["install", *map(str, wheels), "--platform", "ios", "--platform", "ios-simulator"]
    command += ["--python", "3.13", "--no-index", "--cache-dir", str(tmp_path / "cache")]
    assert main([*command, "--into", str(into)]) == 1
    assert capsys.readouterr().err == (
        "omniwheel: error: app_packages/tracker/__init__.py differs between the platforms' "
        "wheels; a multi-platform iOS install needs the same Python files for every platform "
        "(same versions of every project)\n"
    )
    assert not into.exists()


@pytest.mark.parametrize("layout", ["ios-app", "site-packages"])
def test_hardlink_install_equals_copy_install(
    served_index: tuple[str, object], tmp_path: Path, layout: str
) -> None:
    """Placing a cached image by hard links gives the same files, bytes and modes as copying
    it, and as the install that built the image; hard-linked files are the cache's, but
    for the requested project's RECORD and REQUESTED, written for this install."""
    url, _ = served_index
    arguments = ["jinja2", "--platform", "ios", "--python", "3.13", "--layout", layout]
    trees = {}
    for run, mode in [("built", "copy"), ("copy", "copy"), ("hardlink", "hardlink")]:
        into = _install(url, tmp_path, *arguments, "--link-mode", mode)
        trees[run] = _files(into)
        written = {path for path in trees[run] if (into / path).stat().st_nlink == 1}
        if mode == "copy":
            assert written == set(trees[run]), run
        else:
            assert {path.partition("jinja2-3.1.6.dist-info/")[2] for path in written} == {
                "RECORD",
                "REQUESTED",
            }
            assert all((into / path).stat().st_nlink == 2 for path in set(trees[run]) - written)
        into.rename(tmp_path / run)
    assert trees["built"] == trees["copy"] == trees["hardlink"]
    assert any(path.endswith(".py") for path in trees["copy"])


def test_several_platforms_need_the_ios_app_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the ios-app layout assembles several platforms (XCFrameworks); refused first."""
    into = tmp_path / "app"
    common = ["attrs", "--into", str(into), "--no-index"]
    assert main(["install", *common, "--platform", "android", "--platform", "android-x86_64"]) == 2
    assert capsys.readouterr().err == (
        "omniwheel: error: --platform given 2 times: only --layout ios-app installs several "
        "platforms (iOS device and simulator, as XCFrameworks); give one --platform\n"
    )
    assert main(["install", *common, "--platform", "ios", "--platform", "android"]) == 2
    assert capsys.readouterr().err == (
        "omniwheel: error: layout ios-app is for ios targets, not android; "
        "choose another --layout\n"
    )
    assert not into.exists()


def test_hardlink_across_devices_falls_back_to_copies(
    served_index: tuple[str, object], tmp_path: Path
) -> None:
    """With the cache on another file system (tmpfs), hard links cannot be made: the
    install copies instead, with the same result."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another device than the temporary directory")
    url, _ = served_index
    trees = {}
    with tempfile.TemporaryDirectory(dir=shm) as cache:
        for mode in ("copy", "hardlink"):
            into = tmp_path / mode
            command = ["install", "jinja2", "--platform", "ios", "--python", "3.13"]
            command += ["--index-url", url, "--cache-dir", cache, "--into", str(into)]
            assert main([*command, "--link-mode", mode, "--json"]) == 0
            trees[mode] = _files(into)
            assert {(into / path).stat().st_nlink for path in trees[mode]} == {1}
    assert trees["copy"] == trees["hardlink"]


def _install_wheels(tmp_path: Path, into: Path, *arguments: str | Path) -> int:
    """``omniwheel install`` of local wheels (no index) into ``into``; the exit status."""
    command = ["install", *map(str, arguments), "--no-index"]
    return main([*command, "--cache-dir", str(tmp_path / "cache"), "--into", str(into)])


DEMO_INIT = b"import sys\n\ndef main():\n    print('demo', sys.argv[1:])\n    return 3\n"
ENTRY_POINTS = b"[console_scripts]\ndemo = demo:main\n[gui_scripts]\ndemo-gui = demo:main\n"


def _scripts_wheel(make_wheel: Callable[..., Path]) -> Path:
    """A wheel with a console script, a gui script and a ``#!python`` script in .data."""
    return make_wheel(
        "demo-1.0-py3-none-any.whl",
        {
            "demo/__init__.py": DEMO_INIT,
            "demo-1.0.dist-info/entry_points.txt": ENTRY_POINTS,
            "demo-1.0.data/scripts/demo-tool": b"#!python\nimport demo\ndemo.main()\n",
        },
    )


def test_posix_scripts_start_python_from_path(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """Console and gui scripts (and ``#!python`` scripts from .data) start
    ``#!/usr/bin/env python3`` and run, as pip's do, on a POSIX target."""
    into = tmp_path / "into"
    assert (
        _install_wheels(tmp_path, into, _scripts_wheel(make_wheel), "--platform", "linux-x86_64")
        == 0
    )
    environment = {**os.environ, "PYTHONPATH": str(into)}
    for script in ("demo", "demo-gui", "demo-tool"):
        text = (into / "bin" / script).read_text()
        assert text.startswith("#!/usr/bin/env python3\n"), script
    for script in ("demo", "demo-gui"):
        run = subprocess.run(
            [into / "bin" / script, "a b"], capture_output=True, text=True, env=environment
        )
        assert (run.returncode, run.stdout, run.stderr) == (3, "demo ['a b']\n", ""), script


@pytest.mark.toolchain
def test_windows_launchers_run_python_exe(
    make_wheel: Callable[..., Path],
    wine: Callable[..., subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    """A Windows target's launchers run ``python.exe`` (gui scripts ``pythonw.exe``), looked
    up as Windows looks up a bare name: here two stand-ins (mingw programs that echo their
    command line) beside the launchers, under Wine."""
    compiler = shutil.which("x86_64-w64-mingw32-gcc")
    if compiler is None:
        pytest.skip("needs x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64)")
    into = tmp_path / "into"
    assert _install_wheels(tmp_path, into, _scripts_wheel(make_wheel), "--platform", "windows") == 0
    source = tmp_path / "echo.c"
    source.write_text(
        "#include <stdio.h>\nint main(int argc, char **argv) {\n"
        '    for (int i = 0; i < argc; i++) printf("%s\\n", argv[i]);\n    return 7;\n}\n'
    )
    for python in ("python", "pythonw"):
        subprocess.run([compiler, "-o", into / "bin" / f"{python}.exe", source], check=True)
    for script, python in (("demo", "python"), ("demo-gui", "pythonw")):
        launcher = into / "bin" / f"{script}.exe"
        with zipfile.ZipFile(launcher) as archive:  # the script Python would run
            assert b"from demo import main" in archive.read("__main__.py")
        run = wine(launcher, "a")
        windows_path = "Z:" + str(launcher).replace("/", "\\")
        assert (run.returncode, run.stdout) == (7, f"{python}.exe\n{windows_path}\na\n"), script


def test_upgrade_removes_directories_it_empties(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """An upgrade removes the old version's directories it leaves empty (an empty package
    would still import, as a namespace package), with the bytecode of its removed files;
    never a directory that still holds something, nor the install directory."""
    old = make_wheel(
        "demo-1.0-py3-none-any.whl",
        {
            "demo/__init__.py": b"",
            "demo/old_sub/__init__.py": b"",
            "demo/kept/__init__.py": b"",
            "demo-1.0.data/headers/demo.h": b"",
        },
    )
    into = tmp_path / "into"
    assert _install_wheels(tmp_path, into, old, "--platform", "linux-x86_64") == 0
    # Bytecode, as the target's Python writes it when it runs the files.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "demo"], cwd=into, check=True)
    assert list((into / "demo" / "old_sub" / "__pycache__").glob("__init__.*.pyc"))
    (into / "demo" / "kept" / "notes.txt").write_text("the user's own\n")
    into.chmod(0o750)  # a directory made afresh would not have these bits
    # The package becomes a module.
    new = make_wheel("demo-2.0-py3-none-any.whl", {"demo.py": b""})
    assert _install_wheels(tmp_path, into, new, "--platform", "linux-x86_64") == 0
    assert _tree(into) == [
        "demo-2.0.dist-info/INSTALLER",
        "demo-2.0.dist-info/METADATA",
        "demo-2.0.dist-info/RECORD",
        "demo-2.0.dist-info/REQUESTED",
        "demo-2.0.dist-info/WHEEL",
        "demo.py",
        "demo/kept/notes.txt",
    ]
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_dir()) == [
        "demo",
        "demo-2.0.dist-info",
        "demo/kept",
    ]
    # Replacing the only files leaves the install directory empty a moment: it stays.
    again = make_wheel("demo-3.0-py3-none-any.whl", {"demo.py": b""})
    shutil.rmtree(into / "demo")
    assert _install_wheels(tmp_path, into, again, "--platform", "linux-x86_64") == 0
    assert stat.S_IMODE(into.stat().st_mode) == 0o750


def test_record_paths_of_data_files_are_plain(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """Files from ``.data/purelib``, ``.data/platlib`` and ``.data/data`` land in the install
    directory and RECORD lists them as pip does, ``x`` (not ``./x``)."""
    wheel = make_wheel(
        "platty-1.0-py3-none-any.whl",
        {
            "platty/__init__.py": b"",
            "platty-1.0.data/purelib/platty_pure.py": b"",
            "platty-1.0.data/platlib/platty_plat/__init__.py": b"",
            "platty-1.0.data/data/share/platty.txt": b"",
            "platty-1.0.data/headers/platty.h": b"",
        },
        purelib=False,
    )
    into = tmp_path / "into"
    assert _install_wheels(tmp_path, into, wheel, "--platform", "linux-x86_64") == 0
    record = (into / "platty-1.0.dist-info" / "RECORD").read_text().splitlines()
    assert sorted(row.split(",")[0] for row in record) == [
        "include/platty/platty.h",
        "platty-1.0.dist-info/INSTALLER",
        "platty-1.0.dist-info/METADATA",
        "platty-1.0.dist-info/RECORD",
        "platty-1.0.dist-info/REQUESTED",
        "platty-1.0.dist-info/WHEEL",
        "platty/__init__.py",
        "platty_plat/__init__.py",
        "platty_pure.py",
        "share/platty.txt",
    ]
    assert sorted(row.split(",")[0] for row in record) == [
        path for path in _tree(into) if not path.startswith("bin/")
    ]


def test_platlib_extension_module_gets_its_dotted_framework(
    make_wheel: Callable[..., Path], real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    """An extension module from ``.data/platlib`` (a Root-Is-Purelib wheel) becomes
    ``Frameworks/<dotted.module>.framework`` like any other."""
    module = "tracker._x"
    wheel = make_wheel(
        "tracker-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
        {
            "tracker/__init__.py": b"",
            "tracker-1.0.data/platlib/tracker/_x.cpython-313-iphoneos.so": _speedups(
                real_wheel, "ios-device", "iphoneos"
            ),
        },
    )
    app = tmp_path / "app"
    assert _install_wheels(tmp_path, app, wheel, "--platform", "ios", "--python", "3.13") == 0
    framework = f"Frameworks/{module}.framework"
    fwork = "app_packages/tracker/_x.cpython-313-iphoneos.fwork"
    assert [path for path in _tree(app) if not path.startswith("app_packages/tracker-")] == [
        f"{framework}/Info.plist",
        f"{framework}/{module}",
        f"{framework}/{module}.origin",
        "app_packages/tracker/__init__.py",
        fwork,
    ]
    assert (app / fwork).read_text() == f"{framework}/{module}\n"
    info = plistlib.loads((app / framework / "Info.plist").read_bytes())
    assert info["CFBundleExecutable"] == module
    assert info["CFBundleIdentifier"] == "org.example.app.tracker.-x"
    record = (app / "app_packages/tracker-1.0.dist-info/RECORD").read_text()
    assert "\ntracker/_x.cpython-313-iphoneos.so," in record


def test_joined_simulator_binary_is_executable(
    real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    """The universal simulator binary joined at install time is as executable as the device
    slice (and as what ``llvm-lipo -create`` writes)."""
    keys = ("ios-device", "ios-simulator", "ios-simulator-x86_64")
    wheels = [real_wheel(key) for key in keys]
    platforms = ["--platform", "ios", "--platform", "ios-simulator"]
    platforms += ["--platform", "ios-simulator-x86_64", "--python", "3.13"]
    app = tmp_path / "app"
    assert _install_wheels(tmp_path, app, *wheels, *platforms) == 0
    module = "markupsafe._speedups"
    xcframework = app / "Frameworks" / f"{module}.xcframework"
    modes = {
        slice_: stat.S_IMODE((xcframework / slice_ / f"{module}.framework" / module).stat().st_mode)
        for slice_ in ("ios-arm64", "ios-arm64_x86_64-simulator")
    }
    umask = os.umask(0o022)
    os.umask(umask)
    assert modes["ios-arm64_x86_64-simulator"] == 0o777 & ~umask  # 755 under umask 022
    assert modes["ios-arm64"] & 0o111 == 0o111


def _refusal(into: Path, count: int, shown: str) -> str:
    return (
        f"omniwheel: error: {into} holds {count} file(s) no installed distribution lists that "
        f"this install would replace ({shown}); move them away or install into another "
        "directory\n"
    )


def test_the_users_own_files_are_never_replaced(
    make_wheel: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheel shipping a file the user already has in the install directory is refused
    before anything is written (replaced, the user's file would be lost, and the next
    upgrade would delete it by the RECORD then listing it); a directory that merely exists
    is no conflict, and a later upgrade leaves the user's files alone."""
    sloppy = make_wheel(
        "sloppy-1.0-py3-none-any.whl",
        {"sloppy/__init__.py": b"", "tests/__init__.py": b"", "tests/test_sloppy.py": b""},
    )
    into = tmp_path / "into"
    (into / "tests").mkdir(parents=True)
    (into / "tests" / "__init__.py").write_text("the user's own\n")
    (into / "tests" / "test_mine.py").write_text("the user's own\n")
    before = _files(into)
    capsys.readouterr()
    assert _install_wheels(tmp_path, into, sloppy, "--platform", "linux-x86_64") == 2
    assert capsys.readouterr().err == _refusal(into, 1, "tests/__init__.py")
    assert _files(into) == before
    # With the user's __init__.py moved away the install goes ahead; the upgrade to a
    # version without tests/ removes its own files only.
    (into / "tests" / "__init__.py").unlink()
    assert _install_wheels(tmp_path, into, sloppy, "--platform", "linux-x86_64") == 0
    assert _install_wheels(tmp_path, into, sloppy, "--platform", "linux-x86_64") == 0
    upgrade = make_wheel("sloppy-1.1-py3-none-any.whl", {"sloppy/__init__.py": b""})
    assert _install_wheels(tmp_path, into, upgrade, "--platform", "linux-x86_64") == 0
    assert [path for path in _tree(into) if not path.startswith("sloppy")] == ["tests/test_mine.py"]
    assert (into / "tests" / "test_mine.py").read_text() == "the user's own\n"


def test_data_files_and_scripts_do_not_replace_the_users_files(
    make_wheel: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``.data/scripts`` (``bin/``), ``.data/data`` and ``.data/headers`` land beside the
    user's files as well: each collision is counted, the first few named."""
    wheel = make_wheel(
        "demo-1.0-py3-none-any.whl",
        {
            "demo/__init__.py": b"",
            "demo-1.0.data/scripts/demo-tool": b"#!python\n",
            "demo-1.0.data/data/share/demo.txt": b"",
            "demo-1.0.data/headers/demo.h": b"",
        },
    )
    into = tmp_path / "into"
    for mine in ("bin/demo-tool", "share/demo.txt", "include/demo/demo.h", "demo/__init__.py"):
        (into / mine).parent.mkdir(parents=True, exist_ok=True)
        (into / mine).write_text("the user's own\n")
    before = _files(into)
    capsys.readouterr()
    assert _install_wheels(tmp_path, into, wheel, "--platform", "linux-x86_64") == 2
    shown = "bin/demo-tool, demo/__init__.py, include/demo/demo.h, ..."
    assert capsys.readouterr().err == _refusal(into, 4, shown)
    assert _files(into) == before


def test_files_another_installer_lists_are_replaced(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """A file in the RECORD of any installed distribution (pip's, or omniwheel's from before
    RECORD paths were plain: ``./x``) is the installer's, not the user's: an upgrade or
    another project may replace it."""
    into = tmp_path / "into"
    dist_info = into / "demo-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (into / "demo").mkdir()
    for path in ("demo/__init__.py", "demo_pure.py", "shared.txt"):
        (into / path).write_text("pip's\n")
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")
    (dist_info / "RECORD").write_text(
        "demo/__init__.py,,\n./demo_pure.py,,\nshared.txt,,\ndemo-1.0.dist-info/RECORD,,\n"
    )
    upgrade = make_wheel(
        "demo-2.0-py3-none-any.whl", {"demo/__init__.py": b"2\n", "demo_pure.py": b"2\n"}
    )
    other = make_wheel("other-1.0-py3-none-any.whl", {"shared.txt": b"other\n"})
    assert _install_wheels(tmp_path, into, upgrade, other, "--platform", "linux-x86_64") == 0
    assert [(into / path).read_text() for path in ("demo/__init__.py", "demo_pure.py")] == [
        "2\n",
        "2\n",
    ]
    assert (into / "shared.txt").read_text() == "other\n"
    assert not dist_info.exists()


def test_ios_app_keeps_the_users_frameworks_and_packages(
    make_wheel: Callable[..., Path],
    real_wheel: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In the ios-app layout a framework made by hand is the user's even where no file name
    collides (an upgrade removes a module's whole framework), and so is a file in
    app_packages; the frameworks and ``.fwork`` files of an installed project's modules
    are its own, replaced by a reinstall and an upgrade."""
    speedups = _speedups(real_wheel, "ios-device", "iphoneos")
    module = "tracker/_x.cpython-313-iphoneos.so"
    wheels = [
        make_wheel(
            f"tracker-{version}-cp313-cp313-ios_13_0_arm64_iphoneos.whl",
            {"tracker/__init__.py": b"", module: speedups},
            purelib=False,
        )
        for version in ("1.0", "2.0")
    ]
    app = tmp_path / "app"
    framework = app / "Frameworks" / "tracker._x.framework"
    framework.mkdir(parents=True)
    (framework / "notes.txt").write_text("the user's own\n")
    (app / "app_packages" / "tracker").mkdir(parents=True)
    (app / "app_packages" / "tracker" / "__init__.py").write_text("the user's own\n")
    before = _files(app)
    ios = ["--platform", "ios", "--python", "3.13"]
    capsys.readouterr()
    assert _install_wheels(tmp_path, app, wheels[0], *ios) == 2
    shown = "Frameworks/tracker._x.framework, app_packages/tracker/__init__.py"
    assert capsys.readouterr().err == _refusal(app, 2, shown)
    assert _files(app) == before
    shutil.rmtree(app)
    for wheel in (wheels[0], wheels[0], wheels[1]):
        assert _install_wheels(tmp_path, app, wheel, *ios) == 0
    assert "app_packages/tracker-2.0.dist-info/RECORD" in _tree(app)
    assert (framework / "tracker._x").read_bytes() == speedups
