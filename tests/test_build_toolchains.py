"""Cross-building for iOS with clang-14 + ld64.lld-14 and ziglang's Apple SDK pieces; Android's
up-front refusal without an NDK; ``--python`` and ``--sdk``.

One recipe tree (MarkupSafe's real sdist, a static library and the C extension
linking it) is built once per session into ONE output directory, for the iOS
device, then the arm64 simulator, then (the library chain only) the x86_64
simulator: each platform must keep the others' wheels. The wheels are judged by
our Mach-O reader and by ``llvm-otool-14``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omniwheel.audit import check_wheel
from omniwheel.build import (
    BuildReport,
    MissingToolchainError,
    Outcome,
    PyodideRuntime,
    build_recipes,
)
from omniwheel.build.builder import STATE_DIR
from omniwheel.build.pythons import find_build_python
from omniwheel.build.toolchains.clang import family_settings
from omniwheel.build.toolchains.ios import guard_float16, retarget_tbd, ziglang_home
from omniwheel.cli.main import main
from omniwheel.errors import UsageError
from omniwheel.files import default_cache_dir, file_sha256
from omniwheel.platforms import Platform, parse_platform
from recipetrees import chain_recipes, pyproject, sdist_url, write_tree

DEVICE = parse_platform("ios", python="3.13")
SIMULATOR = parse_platform("ios-simulator", python="3.13")
INTEL_SIMULATOR = parse_platform("ios-simulator-x86_64", python="3.13")
LLVM_TOOLS = ("clang-14", "ld64.lld-14", "llvm-ar-14", "llvm-nm-14", "llvm-otool-14")


def _need_ios_toolchain() -> None:
    absent = [tool for tool in LLVM_TOOLS if shutil.which(tool) is None]
    if absent:
        pytest.skip(f"needs {', '.join(absent)} (apt-get install clang-14 lld-14 llvm-14)")
    if ziglang_home() is None:
        pytest.skip("needs the ziglang package (pip install ziglang==0.17.0) for the iOS SDK")
    if find_build_python(DEVICE.python) is None:
        pytest.skip("needs a host CPython 3.13 (python3.13 on PATH or pyenv)")


@dataclass
class IOSBuild:
    recipes: Path
    output: Path
    reports: dict[str, BuildReport]

    def outcome(self, platform: Platform, name: str) -> Outcome:
        report = self.reports[platform.wheel_tag]
        return next(o for o in report.outcomes if o.recipe.name == name)

    def target(self, platform: Platform) -> Path:
        return self.output / STATE_DIR / platform.wheel_tag / "target"


@pytest.fixture(scope="session")
def ios_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IOSBuild]:
    _need_ios_toolchain()
    root = tmp_path_factory.mktemp("ios-build")
    recipes = root / "recipes"
    write_tree(recipes, chain_recipes(sdist_url(default_cache_dir() / "test-sdists")))
    output = root / "dist"
    builds = ((DEVICE, []), (SIMULATOR, []), (INTEL_SIMULATOR, ["greeter"]))
    reports = {
        platform.wheel_tag: build_recipes(recipes, platform, packages=only, output=output, jobs=2)
        for platform, only in builds
    }
    yield IOSBuild(recipes, output, reports)


def _extension(wheel: Path, member: str, directory: Path) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        return Path(archive.extract(member, directory))


def _otool_build_version(binary: Path) -> dict[str, str]:
    """``llvm-otool-14 -l``'s LC_BUILD_VERSION command as its key/value lines."""
    listing = subprocess.run(
        ["llvm-otool-14", "-l", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    [block] = re.findall(r"cmd LC_BUILD_VERSION\n((?:\s+\w+ .*\n)+)", listing)
    return dict(line.split(None, 1) for line in block.strip().splitlines())


@pytest.mark.toolchain
@pytest.mark.network
@pytest.mark.parametrize(
    ("platform", "sdk", "reader_platform", "otool_platform", "minos"),
    [
        (DEVICE, "iphoneos", "ios", "ios", "13.0"),
        # The first iOS with arm64 simulators is 14.0; clang raises the minimum to it.
        (SIMULATOR, "iphonesimulator", "ios-simulator", "iossimulator", "14.0"),
    ],
)
def test_markupsafe_speedups_is_a_mach_o_for_the_platform(
    ios_built: IOSBuild, tmp_path: Path, platform: Platform, sdk: str, reader_platform: str,
    otool_platform: str, minos: str,
) -> None:  # fmt: skip
    outcome = ios_built.outcome(platform, "markupsafe")
    assert outcome.status == "built", outcome.error
    wheel = outcome.wheel
    assert (
        wheel is not None and wheel.name == f"markupsafe-3.0.3-cp313-cp313-{platform.wheel_tag}.whl"
    )
    report = check_wheel(wheel, [platform])
    assert not report.has_errors and [v.status for v in report.verdicts] == ["ok"]
    [item] = report.binaries
    member = f"markupsafe/_speedups.cpython-313-{sdk}.so"
    assert item.member == member
    [piece] = item.binary.to_json()["slices"]
    assert (piece["arch"], piece["filetype"]) == ("arm64", "dylib")
    assert (piece["platform"], piece["is_simulator"]) == (reader_platform, platform is SIMULATOR)
    assert piece["minos"] == f"{minos}.0"
    assert piece["pyinit_exports"] == ["PyInit__speedups"]
    assert piece["id_dylib"] == f"@rpath/_speedups.cpython-313-{sdk}.so"
    assert [dylib["path"] for dylib in piece["dylibs"]] == [
        "@rpath/Python.framework/Python", "/usr/lib/libSystem.B.dylib",
    ]  # fmt: skip
    binary = _extension(wheel, member, tmp_path)
    command = _otool_build_version(binary)
    assert (command["platform"], command["minos"]) == (otool_platform, minos)


@pytest.mark.toolchain
@pytest.mark.parametrize(("platform", "published"), [(DEVICE, "ios-device"),
                                                     (SIMULATOR, "ios-simulator")])  # fmt: skip
def test_ios_extension_has_the_shape_of_the_published_markupsafe_wheel(
    ios_built: IOSBuild, real_wheel: Callable[[str], Path], platform: Platform, published: str
) -> None:
    """MarkupSafe 3.0.4's own iOS wheels (built with Xcode): same module, links and platform."""

    def shape(wheel: Path) -> list[tuple[object, ...]]:
        rows = []
        for item in check_wheel(wheel, [platform]).binaries:
            [piece] = item.binary.to_json()["slices"]
            dylibs = tuple(dylib["path"] for dylib in piece["dylibs"])
            rows.append((item.member, piece["arch"], piece["filetype"], piece["platform"],
                         piece["minos"], dylibs, tuple(piece["pyinit_exports"])))  # fmt: skip
        return rows

    ours = ios_built.outcome(platform, "markupsafe").wheel
    assert ours is not None
    assert shape(ours) == shape(real_wheel(published))


@pytest.mark.toolchain
@pytest.mark.network
def test_static_library_recipe_is_linked_into_the_ios_extension(
    ios_built: IOSBuild, tmp_path: Path
) -> None:
    for platform, sdk, arch, apple_platform in (
        (DEVICE, "iphoneos", "arm64", "ios"),
        (INTEL_SIMULATOR, "iphonesimulator", "x86_64", "iossimulator"),
    ):
        library = ios_built.outcome(platform, "libgreet")
        assert library.status == "built" and library.library is not None, library.error
        assert sorted(p.name for p in library.library.rglob("*") if p.is_file()) == [
            "greet.h", "libgreet.a",
        ]  # fmt: skip
        greeter = ios_built.outcome(platform, "greeter")
        assert greeter.status == "built" and greeter.wheel is not None, greeter.error
        assert greeter.wheel.name == f"greeter-0.1-cp313-cp313-{platform.wheel_tag}.whl"
        binary = _extension(greeter.wheel, f"greeter/_greet.cpython-313-{sdk}.so", tmp_path / arch)
        defined = subprocess.run(
            ["llvm-nm-14", "--defined-only", "--extern-only", "-j", str(binary)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert "_greet_format" in defined and "_PyInit__greet" in defined
        header = subprocess.run(
            ["llvm-otool-14", "-hv", str(binary)], capture_output=True, text=True, check=True
        ).stdout
        assert f"{arch.upper()} " in header and " DYLIB " in header
        command = _otool_build_version(binary)
        assert (command["platform"], command["minos"]) == (apple_platform, "13.0")


@pytest.mark.toolchain
@pytest.mark.network
def test_platforms_built_into_one_output_keep_each_others_wheels(ios_built: IOSBuild) -> None:
    """Regression: a second platform's build deleted the first one's wheel of the same recipe."""
    wheels = sorted(p.name for p in ios_built.output.glob("*.whl"))
    assert wheels == sorted(
        [f"markupsafe-3.0.3-cp313-cp313-{p.wheel_tag}.whl" for p in (DEVICE, SIMULATOR)]
        + [f"greeter-0.1-cp313-cp313-{p.wheel_tag}.whl" for p in (DEVICE, SIMULATOR,
                                                                  INTEL_SIMULATOR)]
    )  # fmt: skip
    before = {p.name: file_sha256(p) for p in ios_built.output.glob("*.whl")}
    # The device's cache survived the simulators' builds: nothing is rebuilt.
    again = build_recipes(ios_built.recipes, DEVICE, output=ios_built.output)
    assert {o.recipe.name: o.status for o in again.outcomes} == {
        "markupsafe": "cached", "libgreet": "cached", "greeter": "cached",
    }  # fmt: skip
    assert {p.name: file_sha256(p) for p in ios_built.output.glob("*.whl")} == before


@pytest.mark.toolchain
def test_pure_wheel_published_for_two_platforms_outlives_one_platforms_update(
    tmp_path: Path,
) -> None:
    """A pure wheel is one file for every platform: one platform's new version keeps it."""
    _need_ios_toolchain()
    recipes = tmp_path / "recipes"

    def write(version: str) -> None:
        write_tree(recipes, {
            "purely/meta.yaml": f"package: {{name: purely, version: '{version}'}}\n"
                                "source: {path: src}\n",
            "purely/src/pyproject.toml": pyproject("purely", version),
            "purely/src/purely/__init__.py": "",
        })  # fmt: skip

    write("1.0")
    for platform in (DEVICE, SIMULATOR):
        [outcome] = build_recipes(recipes, platform, output=tmp_path / "dist").outcomes
        assert outcome.status == "built", outcome.error
    write("1.1")
    [outcome] = build_recipes(recipes, SIMULATOR, output=tmp_path / "dist").outcomes
    assert outcome.status == "built", outcome.error
    # The simulator's old wheel is the device's current one: it stays.
    assert sorted(p.name for p in (tmp_path / "dist").glob("*.whl")) == [
        "purely-1.0-py3-none-any.whl", "purely-1.1-py3-none-any.whl",
    ]  # fmt: skip
    write("1.2")
    [outcome] = build_recipes(recipes, SIMULATOR, output=tmp_path / "dist").outcomes
    # 1.1 was the simulator's alone: replaced.
    assert sorted(p.name for p in (tmp_path / "dist").glob("*.whl")) == [
        "purely-1.0-py3-none-any.whl", "purely-1.2-py3-none-any.whl",
    ]  # fmt: skip


@pytest.mark.toolchain
@pytest.mark.network
def test_apple_pyconfig_table_matches_clang_on_every_slice(
    ios_built: IOSBuild, tmp_path: Path
) -> None:
    data = family_settings("ios")
    for platform, target in ((DEVICE, "arm64-apple-ios13.0"),
                             (SIMULATOR, "arm64-apple-ios14.0-simulator"),
                             (INTEL_SIMULATOR, "x86_64-apple-ios13.0-simulator")):  # fmt: skip
        rows = {**data["pyconfig"], **data["pyconfig_arch"][platform.arch]}
        program = "#include <Python.h>\n#include <wchar.h>\n" + "".join(
            f"_Static_assert({macro} == {row['value']} && {row['expression']} == "
            f'{row["value"]}, "{macro}");\n'
            for macro, row in rows.items()
        )
        source = tmp_path / "sizes.c"
        source.write_text(program)
        root = ios_built.target(platform)
        result = subprocess.run(
            ["clang-14", "-target", target, "-isysroot", str(root / "sdk"),
             f"-I{root / 'include' / 'python3.13'}", "-c", str(source), "-o",
             str(tmp_path / "sizes.o")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, (platform.wheel_tag, result.stderr)


@pytest.mark.toolchain
@pytest.mark.network
def test_cli_sdk_and_python_options_build_with_a_given_sdk(
    ios_built: IOSBuild, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--sdk`` replaces the assembled SDK: here a copy of the one made from ziglang."""
    sdk = tmp_path / "iPhoneOS.sdk"
    shutil.copytree(ios_built.target(DEVICE) / "sdk", sdk, symlinks=True)
    output = tmp_path / "dist"
    status = main(["build", str(ios_built.recipes), "greeter", "--platform", "ios",
                   "--python", "3.13", "--sdk", str(sdk), "-o", str(output), "--json"])  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert status == 0, document
    assert document["platform"]["python"] == "3.13"
    assert [(p["name"], p["status"]) for p in document["packages"]] == [
        ("libgreet", "built"), ("greeter", "built"),
    ]  # fmt: skip
    assert document["packages"][1]["wheel"].endswith(
        "greeter-0.1-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
    )
    target = output / STATE_DIR / DEVICE.wheel_tag / "target"
    assert f"sdk {sdk.resolve()}" in (target / "identity.txt").read_text().splitlines()
    assert not (target / "sdk").exists()


def test_sdk_that_is_not_an_sdk_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tree(tmp_path / "recipes", {"x/meta.yaml": "package: {name: x, version: '1'}\n"
                                                     "source: {path: src}\n"})  # fmt: skip
    for platform, expected in (("ios", "not an iOS SDK"), ("android-arm64", "not an Android NDK"),
                               ("pyodide-2025.0", "drop --sdk")):  # fmt: skip
        status = main(["build", str(tmp_path / "recipes"), "--platform", platform,
                       "--sdk", str(tmp_path), "-o", str(tmp_path / "out")])  # fmt: skip
        error = capsys.readouterr().err
        assert status == 2 and expected in error and error.count("\n") == 1, error
    assert not (tmp_path / "out").exists()


def test_python_option_is_refused_where_the_platform_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["build", str(tmp_path), "--platform", "pyodide-2025.0", "--python", "3.12"])
    assert status == 2
    assert "runs CPython 3.13, not 3.12" in capsys.readouterr().err


def test_android_without_an_ndk_is_refused_before_fetching_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in family_settings("android")["ndk_variables"]:
        monkeypatch.delenv(variable, raising=False)
    recipes = tmp_path / "recipes"
    # Port 9 (discard) on loopback: fetching this source would fail, not hang.
    write_tree(recipes, {"x/meta.yaml": f"""\
        package: {{name: x, version: '1'}}
        source: {{url: "http://127.0.0.1:9/x-1.tar.gz", sha256: "{"0" * 64}"}}
        """})  # fmt: skip
    platform = parse_platform("android-arm64", python="3.13")
    with pytest.raises(MissingToolchainError) as caught:
        build_recipes(recipes, platform, output=tmp_path / "out", source_cache=tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith("cannot build for android_24_arm64_v8a: missing the Android NDK")
    assert "ANDROID_NDK_HOME" in message and "\n" not in message
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
    status = main(["build", str(recipes), "--platform", "android-arm64", "--python", "3.13",
                   "-o", str(tmp_path / "out")])  # fmt: skip
    error = capsys.readouterr().err
    assert status == 1 and "missing the Android NDK" in error and error.count("\n") == 1


def test_missing_clang_is_reported_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "recipes", {"x/meta.yaml": "package: {name: x, version: '1'}\n"
                                                     "source: {path: src}\n"})  # fmt: skip
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(MissingToolchainError) as caught:
        build_recipes(tmp_path / "recipes", DEVICE, output=tmp_path / "out")
    message = str(caught.value)
    assert "LLVM's clang-14" in message and "LLVM's ld64.lld-14" in message
    assert "apt-get install clang-14 lld-14 llvm-14" in message
    assert not (tmp_path / "out").exists()


def test_float16_declarations_are_guarded_run_by_run() -> None:
    text = "a\n_Float16 f(_Float16);\n_Float16 g(void);\nb\n_Float16 h;\n"
    assert guard_float16(text) == (
        "a\n#ifdef __FLT16_MAX__\n_Float16 f(_Float16);\n_Float16 g(void);\n#endif\nb\n"
        "#ifdef __FLT16_MAX__\n_Float16 h;\n#endif\n"
    )


def test_libsystem_stub_is_retargeted_with_its_symbols_kept() -> None:
    home = ziglang_home()
    if home is None:
        pytest.skip("needs the ziglang package (pip install ziglang==0.17.0)")
    original = (home / family_settings("ios")["ziglang_libsystem"]).read_text()
    stub = retarget_tbd(original, "arm64-ios-simulator")
    lists = re.findall(r"targets:\s*\[([^\]]*)\]", stub)
    assert lists and {item.strip() for item in lists} == {"arm64-ios-simulator"}
    assert len(lists) == len(re.findall(r"targets:", original))
    assert re.sub(r"targets:\s*\[[^\]]*\]", "", stub) == re.sub(
        r"targets:\s*\[[^\]]*\]", "", original
    )


def test_pyodide_runtime_is_refused_for_other_platforms(tmp_path: Path) -> None:
    (tmp_path / "pyodide.mjs").write_text("")
    with pytest.raises(UsageError, match="cannot load ios_13_0_arm64_iphoneos wheels"):
        build_recipes(tmp_path, DEVICE, output=tmp_path / "out", runtime=PyodideRuntime(tmp_path))
    assert not (tmp_path / "out").exists()
