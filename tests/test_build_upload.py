"""``omniwheel build --upload`` to a real ``omniwheel serve``, then install and run in Pyodide.

The proof of issue 7 item 6, last bullet, for each Pyodide ABI whose host CPython
exists here: MarkupSafe's real sdist is built into a wheel, the build uploads it,
``omniwheel install`` fetches it back from the index into a pyodide layout, and
real Pyodide under Node loads it from that layout and runs its C module. The
refusals an upload can meet (unreachable URL, 401, 403, 409) are checked
against the same server with small wheels.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import MakeWheel
from indexserver import VENV_BIN, Server, free_port, serve
from indexserver import tokens_fixture as tokens_fixture  # the tokens fixture
from omniwheel.build.pythons import find_build_python
from omniwheel.cli.main import main
from omniwheel.files import default_cache_dir, file_sha256
from omniwheel.index.uploader import TOKEN_ENV, Uploader, UploadFailedError
from omniwheel.platforms import parse_platform
from pyodide_runtime import PYODIDE_FOR_ABI, run_pyodide
from recipetrees import MARKUPSAFE_SDIST, sdist_url


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("upload") / "index"


@pytest.fixture(scope="module")
def server(root: Path, tokens: dict[str, str]) -> Iterator[Server]:
    with serve(root) as running:  # the tokens exist before the server starts
        yield running


def _markupsafe_recipe(recipes: Path, url: str) -> None:
    meta = recipes / "markupsafe" / "meta.yaml"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        textwrap.dedent(f"""\
            package: {{name: markupsafe, version: 3.0.3, top-level: [markupsafe]}}
            source: {{url: {url}, sha256: {MARKUPSAFE_SDIST[2]}}}
            test: {{imports: [markupsafe._speedups]}}
            """)
    )


@pytest.mark.toolchain
@pytest.mark.network
@pytest.mark.parametrize("abi", ["2025_0", "2024_0"])
def test_built_wheel_is_uploaded_installed_from_the_index_and_runs_in_pyodide(
    server: Server,
    tokens: dict[str, str],
    tmp_path: Path,
    abi: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    platform = parse_platform(f"pyodide-{abi.replace('_', '.')}")
    if subprocess.run(["sh", "-c", "command -v emcc"], capture_output=True).returncode != 0:
        pytest.skip("needs Emscripten's emcc (apt-get install emscripten)")
    if find_build_python(platform.python) is None:
        pytest.skip(f"needs a host CPython {platform.python.dotted} (on PATH or pyenv)")
    recipes = tmp_path / "recipes"
    _markupsafe_recipe(recipes, sdist_url(default_cache_dir() / "test-sdists"))
    upload = f"{server.url}/legacy/"
    command = ["build", str(recipes), "--platform", platform.wheel_tag, "-o",
               str(tmp_path / "dist"), "--upload", upload, "--token", tokens["admin"],
               "--json"]  # fmt: skip

    assert main(command) == 0
    document = json.loads(capsys.readouterr().out)
    [package] = document["packages"]
    assert package["status"] == "built", package["error"]
    wheel = Path(package["wheel"])
    py = platform.python.dotted.replace(".", "")
    # 2024_0 predates PEP 783: its wheels are tagged pyodide_2024_0 (Pyodide 0.27's micropip).
    prefix = "pyodide" if abi == "2024_0" else "pyemscripten"
    assert wheel.name == f"markupsafe-3.0.3-cp{py}-cp{py}-{prefix}_{abi}_wasm32.whl"
    digest = file_sha256(wheel)
    assert document["uploads"] == [
        {"wheel": str(wheel), "url": upload, "sha256": digest, "status": "uploaded"}
    ]
    # Nothing changed: the build is a no-op and the upload finds the identical file there.
    assert main(command) == 0
    again = json.loads(capsys.readouterr().out)
    assert [p["status"] for p in again["packages"]] == ["cached"]
    assert [u["status"] for u in again["uploads"]] == ["exists"]

    packages = tmp_path / "site"
    installed = main(["install", "markupsafe", "--platform", platform.wheel_tag, "--index-url",
                      f"{server.url}/simple", "--layout", "pyodide", "--into", str(packages),
                      "--cache-dir", str(tmp_path / "cache"), "--pyodide-version",
                      PYODIDE_FOR_ABI[abi]])  # fmt: skip
    capsys.readouterr()
    assert installed == 0
    lock = json.loads((packages / "pyodide-lock.json").read_text())
    assert lock["packages"]["markupsafe"]["file_name"] == wheel.name
    assert file_sha256(packages / wheel.name) == digest  # the very file the build uploaded
    assert f'"GET /files/markupsafe/{wheel.name} HTTP/1.1" 200' in server.log.read_text()

    body = f"""// custom-load
const pyodide = await loadPyodide({{
    lockFileURL: {json.dumps(str(packages / "pyodide-lock.json"))},
    packageCacheDir: {json.dumps(str(packages))}}});
await pyodide.loadPackage("markupsafe");
console.log(pyodide.runPython(`
import markupsafe._speedups as s
s.__file__.rsplit('/', 1)[1] + ' ' + s._escape_inner('1 < 2 & "3"')
`));
"""
    out = run_pyodide(abi, body, cwd=tmp_path)
    assert out.strip().splitlines()[-1] == (
        f"_speedups.cpython-{py}-wasm32-emscripten.so 1 &lt; 2 &amp; &#34;3&#34;"
    )


def test_upload_is_idempotent_and_conflicts_name_the_stored_sha256(
    server: Server, tokens: dict[str, str], make_wheel: MakeWheel, tmp_path: Path
) -> None:
    wheel = make_wheel("upme-1.0-py3-none-any.whl", {"upme/__init__.py": b"V = 1\n"})
    stored = file_sha256(wheel)
    with Uploader(f"{server.url}/legacy/", tokens["admin"]) as uploader:
        assert not uploader.upload(wheel).existed
        assert uploader.upload(wheel).existed
        changed = make_wheel(wheel.name, {"upme/__init__.py": b"V = 2\n"})
        with pytest.raises(UploadFailedError) as caught:
            uploader.upload(changed)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{server.url}/legacy/ refused {wheel.name} (409: ")
    assert f"already in the index with sha256 {stored}" in message
    assert message.endswith("bump the version or the build number to publish it")


def test_upload_refusals_are_one_line_each(
    server: Server, tokens: dict[str, str], make_wheel: MakeWheel
) -> None:
    wheel = make_wheel("refused-1.0-py3-none-any.whl")
    url = f"{server.url}/legacy/"

    def refusal(token: str | None, target: str = url) -> str:
        with Uploader(target, token) as uploader, pytest.raises(UploadFailedError) as caught:
            uploader.upload(wheel)
        assert "\n" not in str(caught.value)
        return str(caught.value)

    assert refusal(None) == (
        f"{url} refused {wheel.name} (401: uploading needs an API token (user __token__)): "
        f"give an API token with --token or ${TOKEN_ENV}"
    )
    assert refusal(tokens["old"]) == (
        f"{url} refused {wheel.name} (403: the API token is unknown or revoked): "
        "use a token allowed to upload this project"
    )
    assert refusal(tokens["ci"]).startswith(
        f"{url} refused {wheel.name} (403: token 'ci' may not upload to project 'refused')"
    )
    closed = f"http://127.0.0.1:{free_port()}/legacy/"
    assert refusal(tokens["admin"], closed).startswith(
        f"cannot upload {wheel.name}: {closed} is unreachable ("
    )


def test_cli_refuses_a_bad_upload_url_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["build", str(tmp_path / "nothing-here"), "--platform", "pyodide-2025.0",
                   "--upload", "ftp://127.0.0.1/legacy/"])  # fmt: skip
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        "omniwheel: error: --upload ftp://127.0.0.1/legacy/: not an http(s) URL "
        "(e.g. http://127.0.0.1:8080/legacy/)"
    )


def _prebuilt_recipe(tmp_path: Path, wheel: Path) -> Path:
    """A recipe tree whose one recipe is a prebuilt wheel: it builds at once."""
    name = wheel.name.split("-")[0]
    meta = tmp_path / "recipes" / name / "meta.yaml"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        f"package: {{name: {name}, version: '1.0'}}\n"
        f"source: {{url: '{wheel.as_uri()}', sha256: {file_sha256(wheel)}}}\n"
    )
    return meta.parent.parent


@pytest.mark.toolchain
def test_cli_upload_failure_is_one_line_and_exit_1(
    tmp_path: Path, make_wheel: MakeWheel, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The upload to a closed port fails; the build stands."""
    if find_build_python(parse_platform("pyodide-2025.0").python) is None:
        pytest.skip("needs a host CPython 3.13 (on PATH or pyenv)")
    recipes = _prebuilt_recipe(tmp_path, make_wheel("prebuilt-1.0-py3-none-any.whl"))
    monkeypatch.setenv(TOKEN_ENV, "owt_0_x")
    closed = f"http://127.0.0.1:{free_port()}/legacy/"
    status = main(["build", str(recipes), "--platform", "pyodide-2025.0",
                   "-o", str(tmp_path / "dist"), "--source-cache", str(tmp_path / "cache"),
                   "--upload", closed])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith(
        f"omniwheel: error: cannot upload prebuilt-1.0-py3-none-any.whl: {closed} is unreachable ("
    )
    assert err.count("\n") == 1
    assert (tmp_path / "dist" / "prebuilt-1.0-py3-none-any.whl").is_file()  # the build stands
    # With --json the document still reports the build, and says why the upload stopped.
    status = main(["build", str(recipes), "--platform", "pyodide-2025.0",
                   "-o", str(tmp_path / "dist"), "--source-cache", str(tmp_path / "cache"),
                   "--upload", closed, "--json"])  # fmt: skip
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert status == 1
    assert [p["status"] for p in document["packages"]] == ["cached"]
    assert document["uploads"] == []
    assert document["upload_error"].startswith("cannot upload prebuilt-1.0-py3-none-any.whl: ")
    assert captured.err == f"omniwheel: error: {document['upload_error']}\n"


@pytest.mark.toolchain
def test_cli_human_output_names_each_upload(
    server: Server, tokens: dict[str, str], tmp_path: Path, make_wheel: MakeWheel,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    if find_build_python(parse_platform("pyodide-2025.0").python) is None:
        pytest.skip("needs a host CPython 3.13 (on PATH or pyenv)")
    recipes = _prebuilt_recipe(tmp_path, make_wheel("shown-1.0-py3-none-any.whl"))
    command = ["build", str(recipes), "--platform", "pyodide-2025.0", "-o",
               str(tmp_path / "dist"), "--source-cache", str(tmp_path / "cache"),
               "--upload", f"{server.url}/legacy/", "--token", tokens["admin"]]  # fmt: skip
    assert main(command) == 0
    first = capsys.readouterr().out
    assert main(command) == 0
    second = capsys.readouterr().out
    assert f"shown-1.0-py3-none-any.whl: uploaded → {server.url}/legacy/" in first
    assert f"shown-1.0-py3-none-any.whl: already there → {server.url}/legacy/" in second


def test_uploader_speaks_to_pypiserver_too(tmp_path: Path, make_wheel: MakeWheel) -> None:
    """The same legacy API against a peer index (pypiserver 2.4, no authentication)."""
    server = VENV_BIN / "pypi-server"
    if not server.exists():
        pytest.skip("needs pypiserver (the test extra)")
    packages = tmp_path / "packages"
    packages.mkdir()
    port = free_port()
    command = [str(server), "run", "-i", "127.0.0.1", "-p", str(port), "-a", ".", "-P", ".",
               str(packages)]  # fmt: skip
    wheel = make_wheel("peer-1.0-py3-none-any.whl")
    url = f"http://127.0.0.1:{port}/"
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            for _ in range(100):
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            with Uploader(url, None) as uploader:
                assert not uploader.upload(wheel).existed
                with pytest.raises(UploadFailedError) as caught:
                    uploader.upload(wheel)  # pypiserver refuses any second upload of a name
        finally:
            proc.terminate()
    assert (packages / wheel.name).read_bytes() == wheel.read_bytes()
    assert str(caught.value) == (
        f"{url} refused {wheel.name} (409: Package '{wheel.name}' already exists! You may start "
        "server with `--overwrite` option.): bump the version or the build number to publish it"
    )
