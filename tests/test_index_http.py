"""The simple API and the upload API over HTTP, against a real ``omniwheel serve`` process."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

import realwheels
from indexserver import VENV_BIN, Server, client_env, retag, serve
from indexserver import server_fixture as server_fixture  # the server fixture
from indexserver import tokens_fixture as tokens_fixture  # the tokens fixture
from omniwheel.files import file_sha256
from omniwheel.index import PackageIndex, create_token
from omniwheel.wheel import Wheel

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = f"{JSON}, {HTML}; q=0.1, text/html; q=0.01"
MakeWheel = Callable[..., Path]

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("http") / "index"
    index = PackageIndex(path)
    for key in ("ios-device", "ios-simulator", "android-arm64", "macos-universal2", "pure"):
        index.add_path(realwheels.fetch(key))
    index.close()
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def anchors(html: str) -> list[dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(html)
    return parser.anchors


# -- reading -----------------------------------------------------------------------------------
def test_root_page_lists_projects_in_html_and_json(server: Server) -> None:
    html = httpx.get(server.simple)
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="pypi:repository-version" content="1.1">' in html.text
    assert [a["href"] for a in anchors(html.text)] == ["iniconfig/", "markupsafe/"]
    document = httpx.get(server.simple, headers={"Accept": JSON}).json()
    assert document == {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": "iniconfig"}, {"name": "MarkupSafe"}],
    }


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        (None, "", "text/html; charset=utf-8"),
        (PIP_ACCEPT, "", JSON),
        (f"{HTML}, {JSON};q=0.5", "", HTML),
        ("application/vnd.pypi.simple.latest+json", "", JSON),
        ("*/*", "", "text/html; charset=utf-8"),
        (f"text/*;q=0.5, {JSON};q=0.4", "", "text/html; charset=utf-8"),
        ("text/html", f"?format={JSON.replace('+', '%2B')}", JSON),
        ("text/html", f"?format={JSON}", JSON),
        (JSON, "?format=text/html", "text/html; charset=utf-8"),
        ("application/xml", "", 406),
        (None, "?format=application/xml", 406),
    ],
)
def test_content_negotiation(
    server: Server, accept: str | None, query: str, expected: str | int
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = httpx.get(f"{server.simple}markupsafe/{query}", headers=headers)
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert response.status_code == 200
        assert response.headers["content-type"] == expected
        assert "Accept" in response.headers["vary"]


def test_project_json_carries_pep_691_700_658_and_hashes(server: Server) -> None:
    response = httpx.get(f"{server.simple}markupsafe/", headers={"Accept": PIP_ACCEPT})
    document = response.json()
    assert document["meta"] == {"api-version": "1.1"}
    assert document["name"] == "markupsafe"
    assert document["versions"] == ["3.0.2", "3.0.4"]
    assert len(document["files"]) == 4
    for entry in document["files"]:
        wheel_bytes = httpx.get(entry["url"]).content
        assert entry["hashes"] == {"sha256": _sha256(wheel_bytes)}
        assert entry["size"] == len(wheel_bytes)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entry["upload-time"])
        assert entry["requires-python"] == ">=3.9"
        assert entry["yanked"] is False
        metadata = httpx.get(entry["url"] + ".metadata")
        assert metadata.status_code == 200
        assert entry["core-metadata"] == {"sha256": _sha256(metadata.content)}
        assert entry["dist-info-metadata"] == entry["core-metadata"]
        cached = realwheels.cache_dir() / entry["filename"]
        with Wheel.open(cached) as wheel:
            assert metadata.content == wheel.read_bytes(f"{wheel.dist_info}/METADATA")


def test_project_html_carries_the_same_facts(server: Server) -> None:
    page = httpx.get(f"{server.simple}markupsafe/").text
    json_files = httpx.get(f"{server.simple}markupsafe/?format=json").json()["files"]
    links = anchors(page)
    assert len(links) == len(json_files)
    for link, entry in zip(links, json_files, strict=True):
        assert link["href"] == f"{entry['url']}#sha256={entry['hashes']['sha256']}"
        assert link["data-requires-python"] == ">=3.9"
        assert link["data-core-metadata"] == f"sha256={entry['core-metadata']['sha256']}"
        assert "data-yanked" not in link


def test_names_are_normalised_with_redirects(server: Server) -> None:
    for path in ("MarkupSafe/", "markupsafe", "MARKUPSAFE/", "MarkupSafe"):
        response = httpx.get(f"{server.simple}{path}?format=json")
        assert response.status_code == 301, path
        assert response.headers["location"] == "/simple/markupsafe/?format=json"
    assert httpx.get(f"{server.simple}nothing-here/").status_code == 404
    assert httpx.get(f"{server.url}/files/markupsafe/none-1.0-py3-none-any.whl").status_code == 404
    iniconfig = f"{server.url}/files/iniconfig/iniconfig-2.1.0-py3-none-any.whl"
    assert httpx.get(iniconfig.replace("/iniconfig/", "/markupsafe/", 1)).status_code == 404


def test_caching_headers_and_conditional_requests(server: Server) -> None:
    url = f"{server.simple}iniconfig/"
    first = httpx.get(url, headers={"Accept": JSON})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "public, max-age=60"
    again = httpx.get(url, headers={"Accept": JSON, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    since = httpx.get(url, headers={"Accept": JSON, "If-Modified-Since": modified})
    assert since.status_code == 304
    html = httpx.get(url, headers={"If-None-Match": etag})
    assert html.status_code == 200, "JSON and HTML renderings need different ETags"
    wheel_url = first.json()["files"][0]["url"]
    wheel = httpx.get(wheel_url)
    assert wheel.headers["etag"] == f'"{first.json()["files"][0]["hashes"]["sha256"]}"'
    assert "immutable" in wheel.headers["cache-control"]
    assert httpx.get(wheel_url, headers={"If-None-Match": wheel.headers["etag"]}).status_code == 304


def test_gzip_when_asked(server: Server) -> None:
    url = f"{server.simple}markupsafe/"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content and len(raw) < len(plain.content)


def test_yank_by_another_process_shows_at_once_with_its_reason(server: Server, root: Path) -> None:
    url = f"{server.simple}markupsafe/"
    before = httpx.get(url, headers={"Accept": JSON})
    command = [str(VENV_BIN / "omniwheel"), "index", "yank", "markupsafe==3.0.2",
               "--reason", "no arm64 slice test", "--root", str(root), "--json"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=client_env())
    assert result.returncode == 0, result.stderr
    try:
        after = httpx.get(url, headers={"Accept": JSON, "If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        yanked = {f["filename"]: f["yanked"] for f in after.json()["files"]}
        assert yanked["MarkupSafe-3.0.2-cp313-cp313-macosx_10_13_universal2.whl"] == (
            "no arm64 slice test"
        )
        assert sum(1 for value in yanked.values() if value) == 1
        html = anchors(httpx.get(url).text)
        assert [a.get("data-yanked") for a in html if "data-yanked" in a] == ["no arm64 slice test"]
    finally:
        undo = [*command[:3], "markupsafe==3.0.2", "--undo", "--root", str(root)]
        subprocess.run(undo, check=True, capture_output=True, env=client_env())


def test_a_project_whose_files_are_all_removed_is_gone(
    server: Server, root: Path, make_wheel: MakeWheel
) -> None:
    index = PackageIndex(root)
    index.add_path(make_wheel("goner-1.0-py3-none-any.whl"))
    urls = [f"{server.simple}goner/", f"{server.url}/project/goner/",
            f"{server.url}/api/projects/goner"]  # fmt: skip
    assert [httpx.get(url).status_code for url in urls] == [200, 200, 200]
    assert 'data-project="goner"' in httpx.get(f"{server.url}/?q=goner").text
    index.remove("goner")
    index.close()
    assert [httpx.get(url).status_code for url in urls] == [404, 404, 404]
    assert "goner/" not in [a["href"] for a in anchors(httpx.get(server.simple).text)]
    assert 'data-project="goner"' not in httpx.get(f"{server.url}/?q=goner").text


# -- uploading ---------------------------------------------------------------------------------
def _upload(
    server: Server,
    path: Path,
    token: str | None,
    *,
    fields: dict[str, str] | None = None,
    accept: str = "text/plain",
) -> httpx.Response:
    data = path.read_bytes()
    name, version = path.name.split("-")[:2]
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "sha256_digest": _sha256(data),
    }
    form.update(fields or {})
    return httpx.post(
        f"{server.url}/legacy/",
        data=form,
        files={"content": (path.name, data, "application/octet-stream")},
        auth=("__token__", token) if token else None,
        headers={"Accept": accept},
        timeout=60,
    )


def test_upload_needs_a_valid_token_in_scope(
    server: Server, tokens: dict[str, str], make_wheel: MakeWheel
) -> None:
    wheel = make_wheel("scoped-1.0-py3-none-any.whl")
    anonymous = _upload(server, wheel, None)
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert _upload(server, wheel, tokens["old"]).status_code == 403
    assert _upload(server, wheel, "owt_000000000000_guess").status_code == 403
    out_of_scope = _upload(server, wheel, tokens["ci"])
    assert out_of_scope.status_code == 403
    assert "may not upload to project 'scoped'" in out_of_scope.text
    assert httpx.get(f"{server.simple}scoped/").status_code == 404
    accepted = _upload(server, wheel, tokens["admin"], accept="application/json")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["file"]["sha256"] == _sha256(wheel.read_bytes())
    listed = httpx.get(f"{server.simple}scoped/?format=json").json()["files"]
    assert [entry["filename"] for entry in listed] == [wheel.name]


def test_upload_refusals_are_clear_4xx(
    server: Server, tokens: dict[str, str], make_wheel: MakeWheel, tmp_path: Path
) -> None:
    admin = tokens["admin"]
    wheel = make_wheel("refusals-1.0-py3-none-any.whl")
    bad_hash = _upload(server, wheel, admin, fields={"sha256_digest": "0" * 64})
    assert bad_hash.status_code == 400 and "sha256_digest" in bad_hash.text
    wrong_name = _upload(server, wheel, admin, fields={"name": "other"})
    assert wrong_name.status_code == 400 and "the form says name 'other'" in wrong_name.text
    wrong_version = _upload(server, wheel, admin, fields={"version": "2.0"})
    assert wrong_version.status_code == 400
    no_action = _upload(server, wheel, admin, fields={":action": "submit"})
    assert no_action.status_code == 400 and "file_upload" in no_action.text
    sdist = tmp_path / "refusals-1.0.tar.gz"
    sdist.write_bytes(b"\x1f\x8b not really")
    refused_sdist = _upload(server, sdist, admin)
    assert refused_sdist.status_code == 400
    assert refused_sdist.text == (
        "'refusals-1.0.tar.gz': this index accepts wheels only (name-version-tags.whl)\n"
    )
    mismatch = tmp_path / "refusals-2.0-py3-none-any.whl"
    mismatch.write_bytes(wheel.read_bytes())
    mismatched = _upload(server, mismatch, admin)
    assert mismatched.status_code == 400 and "does not match the filename" in mismatched.text
    assert _upload(server, wheel, admin).status_code == 200
    stored_sha256 = file_sha256(wheel)
    # The identical file again succeeds (a retried upload is safe) and changes nothing.
    again = _upload(server, wheel, admin)
    assert again.status_code == 200
    assert again.text == f"{wheel.name} is already in the index with this sha256\n"
    different = make_wheel(wheel.name, {"demo/__init__.py": b"x = 2\n"})
    conflict = _upload(server, different, admin)
    assert conflict.status_code == 409
    assert conflict.text == (
        f"{wheel.name} is already in the index with sha256 {stored_sha256}, and this upload's "
        f"content differs (sha256 {file_sha256(different)}); files are never overwritten\n"
    )


def test_mistagged_upload_is_refused_with_findings(
    server: Server, tokens: dict[str, str], tmp_path: Path
) -> None:
    mistagged = retag(realwheels.fetch("musllinux"), "ios_14_0_arm64_iphoneos", tmp_path)
    text = _upload(server, mistagged, tokens["admin"])
    assert text.status_code == 400
    assert "error: [ios_14_0_arm64_iphoneos] wrong-binary-format" in text.text
    document = _upload(server, mistagged, tokens["admin"], accept="application/json").json()
    codes = {finding["code"] for finding in document["check"]["findings"]}
    assert {"wrong-binary-format", "extension-suffix"} <= codes
    assert document["check"]["verdicts"][0]["status"] == "error"
    files = httpx.get(f"{server.simple}markupsafe/?format=json").json()["files"]
    assert mistagged.name not in {entry["filename"] for entry in files}


def test_upload_size_limit(tmp_path: Path, make_wheel: MakeWheel) -> None:
    root = tmp_path / "small"
    index = PackageIndex(root)
    _, token = create_token(index.db, "admin")
    index.close()
    with serve(root, env={"OMNIWHEEL_INDEX_MAX_UPLOAD_SIZE": "4000"}) as server:
        small = make_wheel("small-1.0-py3-none-any.whl")
        assert _upload(server, small, token).status_code == 200
        big = make_wheel("big-1.0-py3-none-any.whl", {"big/data.bin": os.urandom(20_000)})
        streamed = _upload(server, big, token)
        assert streamed.status_code == 413 and "4000 bytes" in streamed.text
        huge = make_wheel("huge-1.0-py3-none-any.whl", {"huge/data.bin": os.urandom(2 << 20)})
        assert _upload(server, huge, token).status_code == 413
    assert sorted(p.name for p in (root / "files").rglob("*.whl")) == [small.name]
    assert list((root / "tmp").iterdir()) == []


def test_crash_mid_upload_leaves_nothing_visible(
    tmp_path: Path, real_wheel: Callable[[str], Path]
) -> None:
    root = tmp_path / "crash"
    index = PackageIndex(root)
    _, token = create_token(index.db, "admin")
    wheel = real_wheel("manylinux-vendored")  # 6 MB: still arriving when the server dies
    request = httpx.Request(
        "POST",
        "http://127.0.0.1/legacy/",
        data={":action": "file_upload"},
        files={"content": (wheel.name, wheel.read_bytes(), "application/octet-stream")},
        headers={
            "Authorization": "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
        },
    )
    body = request.read()
    with serve(root) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as connection:
            head = "".join(f"{key}: {value}\r\n" for key, value in request.headers.items())
            connection.sendall(f"POST /legacy/ HTTP/1.1\r\n{head}\r\n".encode())
            connection.sendall(body[: len(body) // 2])
            deadline = time.monotonic() + 20
            while not any((root / "tmp").rglob("*.whl")) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            server.kill()
    partial = list((root / "tmp").rglob("*.whl"))
    assert partial and partial[0].stat().st_size < wheel.stat().st_size
    assert not any((root / "files").rglob("*.whl"))
    assert [p.kind for p in index.verify().problems] == ["stale-staging"]
    with serve(root) as server:
        assert list((root / "tmp").iterdir()) == []
        assert httpx.get(f"{server.simple}pillow/").status_code == 404
    assert index.verify().problems == []
    index.close()


def test_several_workers_share_one_root(tmp_path: Path, make_wheel: MakeWheel) -> None:
    root = tmp_path / "workers"
    index = PackageIndex(root)
    _, token = create_token(index.db, "admin")
    wheels = [make_wheel(f"parallel{n}-1.0-py3-none-any.whl") for n in range(12)]
    results: list[int] = []
    with serve(root, workers=2) as server:

        def upload(path: Path) -> None:
            results.append(_upload(server, path, token).status_code)

        threads = [threading.Thread(target=upload, args=(path,)) for path in wheels]
        threads += [threading.Thread(target=upload, args=(wheels[0],)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        listed = httpx.get(server.simple, headers={"Accept": JSON}).json()["projects"]
        # Each worker answers from its own cache: all of them must see every upload.
        seen = {len(httpx.get(server.simple, headers={"Accept": JSON}).json()["projects"])
                for _ in range(10)}  # fmt: skip
    # wheels[0] four times at once: one adds it, the others find the identical file there.
    assert sorted(results) == [200] * 15
    assert {entry["name"] for entry in listed} == {f"parallel{n}" for n in range(12)}
    assert seen == {12}
    assert index.verify().problems == []
    index.close()


def test_private_index_needs_a_token_to_read(
    tmp_path: Path, real_wheel: Callable[[str], Path]
) -> None:
    root = tmp_path / "private"
    index = PackageIndex(root)
    index.add_path(real_wheel("pure"))
    _, token = create_token(index.db, "reader")
    index.close()
    with serve(root, env={"OMNIWHEEL_INDEX_PRIVATE": "true"}) as server:
        denied = httpx.get(f"{server.simple}iniconfig/")
        assert denied.status_code == 401 and "Basic" in denied.headers["www-authenticate"]
        auth = ("__token__", token)
        page: dict[str, Any] = httpx.get(f"{server.simple}iniconfig/?format=json", auth=auth).json()
        url = page["files"][0]["url"]
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, auth=auth).status_code == 200
        assert (
            httpx.get(f"{server.simple}iniconfig/", auth=auth)
            .headers["cache-control"]
            .startswith("private")
        )
