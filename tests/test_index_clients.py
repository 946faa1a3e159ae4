"""Real pip, uv and twine against a real ``omniwheel serve``: install, cross-install, upload."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import realwheels
from indexserver import VENV_BIN, Server, client_env, retag, run
from indexserver import server_fixture as server_fixture  # the server fixture
from indexserver import tokens_fixture as tokens_fixture  # the tokens fixture
from omniwheel.binaries import MachOFile, WasmModule, parse_binary
from omniwheel.index import PackageIndex

MakeWheel = Callable[..., Path]
pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clients") / "index"
    wheels = ("ios-device", "ios-simulator", "android-arm64", "pyemscripten-2025", "pure")
    command = [str(VENV_BIN / "omniwheel"), "index", "add", "--root", str(path), "--json",
               *(str(realwheels.fetch(key)) for key in wheels)]  # fmt: skip
    result = run(command)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["added"]) == len(wheels) and document["refused"] == []
    return path


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "pip", *args, "--no-cache-dir"])


def _only_extension(target: Path) -> Path:
    (found,) = [p for p in target.rglob("*.so") if "_speedups" in p.name or "_cmsgpack" in p.name]
    return found


def _installed_tag(target: Path, project: str) -> str:
    (wheel_file,) = target.glob(f"{project}-*.dist-info/WHEEL")
    (tag,) = [line[5:] for line in wheel_file.read_text().splitlines() if line.startswith("Tag:")]
    return tag


def test_pip_installs_a_pure_wheel_that_imports(server: Server, tmp_path: Path) -> None:
    result = _pip("install", "--index-url", server.simple, "--target", str(tmp_path), "iniconfig")
    assert result.returncode == 0, result.stdout + result.stderr
    imported = subprocess.run(
        [sys.executable, "-c", "import iniconfig, sys; print(iniconfig.__file__)"],
        env={**client_env(), "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert imported.stdout.startswith(str(tmp_path)), imported.stderr


@pytest.mark.parametrize(
    ("platform", "apple_platform"),
    [("ios_13_0_arm64_iphoneos", "ios"), ("ios_13_0_arm64_iphonesimulator", "ios-simulator")],
)
def test_pip_cross_installs_for_ios(
    server: Server, tmp_path: Path, platform: str, apple_platform: str
) -> None:
    result = _pip("install", "--index-url", server.simple, "--platform", platform,
                  "--only-binary", ":all:", "--python-version", "3.13", "--implementation", "cp",
                  "--target", str(tmp_path), "markupsafe")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed_tag(tmp_path, "markupsafe") == f"cp313-cp313-{platform}"
    binary = parse_binary(_only_extension(tmp_path).read_bytes())
    assert isinstance(binary, MachOFile)
    assert [s.platform for s in binary.slices] == [apple_platform]
    # pip resolved from the PEP 658 metadata file before fetching the wheel.
    assert f'{platform}.whl.metadata HTTP/1.1" 200' in server.log.read_text()


@pytest.mark.parametrize(
    ("triple", "requirement", "tag", "binary_kind"),
    [
        ("arm64-apple-ios", "markupsafe", "cp313-cp313-ios_13_0_arm64_iphoneos", MachOFile),
        ("aarch64-linux-android", "markupsafe", "cp313-cp313-android_24_arm64_v8a", None),
        ("wasm32-pyodide2025", "msgpack", "cp313-cp313-pyemscripten_2025_0_wasm32", WasmModule),
    ],
)
def test_uv_cross_installs_with_python_platform(
    server: Server,
    tmp_path: Path,
    triple: str,
    requirement: str,
    tag: str,
    binary_kind: type | None,
) -> None:
    result = run([str(VENV_BIN / "uv"), "pip", "install", "--no-cache", "--python",
                  sys.executable, "--index-url", server.simple, "--python-platform", triple,
                  "--python-version", "3.13", "--target", str(tmp_path), requirement])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert _installed_tag(tmp_path, requirement) == tag
    if binary_kind is not None:
        assert isinstance(parse_binary(_only_extension(tmp_path).read_bytes()), binary_kind)


def test_yanked_release_is_skipped_unless_pinned(
    server: Server, root: Path, make_wheel: MakeWheel, tmp_path: Path
) -> None:
    index = PackageIndex(root)
    for version in ("1.0", "2.0"):
        index.add_path(make_wheel(f"yankdemo-{version}-py3-none-any.whl"))
    index.yank("yankdemo==2.0", "broken")
    index.close()
    loose = _pip("install", "--index-url", server.simple, "--target", str(tmp_path / "a"),
                 "yankdemo")  # fmt: skip
    assert loose.returncode == 0, loose.stderr
    assert [p.name for p in (tmp_path / "a").glob("yankdemo-*")] == ["yankdemo-1.0.dist-info"]
    pinned = _pip("install", "--index-url", server.simple, "--target", str(tmp_path / "b"),
                  "yankdemo==2.0")  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr
    assert "broken" in pinned.stdout + pinned.stderr  # pip shows the yank reason
    assert [p.name for p in (tmp_path / "b").glob("yankdemo-*")] == ["yankdemo-2.0.dist-info"]


def _twine(server: Server, password: str, *wheels: Path) -> subprocess.CompletedProcess[str]:
    return run([str(VENV_BIN / "twine"), "upload", "--non-interactive", "--verbose",
                "--disable-progress-bar", "--repository-url", f"{server.url}/legacy/",
                "-u", "__token__", "-p", password, *map(str, wheels)])  # fmt: skip


def test_twine_uploads_with_a_token_and_pip_installs_it(
    server: Server, tokens: dict[str, str], make_wheel: MakeWheel, tmp_path: Path
) -> None:
    wheel = make_wheel("twinedemo-0.1-py3-none-any.whl", {"twinedemo/__init__.py": b"X = 41\n"})
    refused = _twine(server, "owt_000000000000_not-a-token", wheel)
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    uploaded = _twine(server, tokens["admin"], wheel)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    again = _twine(server, tokens["admin"], wheel)  # the identical file: a safe retry
    assert again.returncode == 0, again.stdout + again.stderr
    changed = make_wheel(wheel.name, {"twinedemo/__init__.py": b"X = 42\n"})
    conflict = _twine(server, tokens["admin"], changed)
    assert conflict.returncode != 0 and "409" in conflict.stdout + conflict.stderr
    assert "is already in the index with sha256" in conflict.stdout + conflict.stderr
    installed = _pip("install", "--index-url", server.simple, "--target", str(tmp_path / "t"),
                     "twinedemo")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "t" / "twinedemo" / "__init__.py").read_bytes() == b"X = 41\n"


def test_twine_upload_of_a_mistagged_wheel_is_refused_with_findings(
    server: Server, tokens: dict[str, str], tmp_path: Path
) -> None:
    linux = realwheels.fetch("musllinux")
    mistagged = retag(linux, "ios_15_0_arm64_iphoneos", tmp_path)
    result = _twine(server, tokens["admin"], mistagged)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "400" in output and "wrong-binary-format" in output and "ELF" in output
    listed = run([sys.executable, "-m", "pip", "download", "--no-deps", "--index-url",
                  server.simple, "--platform", "ios_15_0_arm64_iphoneos", "--only-binary",
                  ":all:", "--python-version", "3.13", "-d", str(tmp_path / "d"),
                  "markupsafe==3.0.4"])  # fmt: skip
    assert list((tmp_path / "d").glob("*.whl")) == [
        tmp_path / "d" / "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
    ], listed.stderr


def test_uv_publish_uploads_with_a_token(
    server: Server, tokens: dict[str, str], make_wheel: MakeWheel
) -> None:
    wheel = make_wheel("uvdemo-0.1-py3-none-any.whl")
    result = run([str(VENV_BIN / "uv"), "publish", "--publish-url", f"{server.url}/legacy/",
                  "--token", tokens["admin"], str(wheel)])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    page = run([sys.executable, "-m", "pip", "index", "versions", "--index-url", server.simple,
                "uvdemo"])  # fmt: skip
    assert "uvdemo (0.1)" in page.stdout, page.stderr
