"""The index client: pip's configuration, PEP 691/503 pages, the HTTP cache, metadata routes
(wheels and sdists)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import localindex
from omniwheel.cli.main import main
from omniwheel.errors import OmniwheelError
from omniwheel.platforms import parse_platform
from omniwheel.resolve import (
    IndexConfig,
    IndexStrategy,
    Session,
    locked_wheels,
    pip_index_config,
)
from omniwheel.resolve.candidates import ProjectFiles
from omniwheel.resolve.http import FetchError, HttpClient
from omniwheel.resolve.metadata import MetadataFetcher
from omniwheel.resolve.simple import JSON_V1, IndexFormatError
from omniwheel.resolve.sources import Sources, local_path
from omniwheel.wheel import Wheel

pytestmark = pytest.mark.network


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_pip_configuration_precedence(tmp_path: Path) -> None:
    """Global, then user files, then PIP_* variables, as pip layers them."""
    _write(
        tmp_path / "xdg" / "pip" / "pip.conf",
        "[global]\nindex-url = http://global.invalid/simple\nfind-links = /g\n",
    )
    _write(
        tmp_path / "home" / ".config" / "pip" / "pip.conf",
        "[install]\nindex-url = http://user.invalid/simple\n"
        "extra-index-url = http://a.invalid/simple\n  http://b.invalid/simple\n",
    )
    environ = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "xdg")}
    config = pip_index_config(environ)
    assert config.index_urls == (
        "http://user.invalid/simple",
        "http://a.invalid/simple",
        "http://b.invalid/simple",
    )
    assert config.find_links == ("/g",)
    config = pip_index_config(
        {**environ, "PIP_INDEX_URL": "http://env.invalid/simple", "PIP_EXTRA_INDEX_URL": ""}
    )
    # pip ignores an empty value: the user file's extra indexes stay.
    assert config.index_urls == (
        "http://env.invalid/simple",
        "http://a.invalid/simple",
        "http://b.invalid/simple",
    )
    assert pip_index_config({**environ, "PIP_NO_INDEX": "1"}).index_urls == ()
    devnull = pip_index_config(
        {**environ, "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://x.invalid/"}
    )
    assert devnull.find_links == ()


def test_machine_configuration_matches_pip() -> None:
    """On this machine, we read the same extra indexes and find-links that pip reports."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    )
    reported: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        reported[key.split(".", 1)[1]] = value.strip("'")
    config = pip_index_config()
    assert config.index_urls[1:] == tuple(reported.get("extra-index-url", "").split())
    assert set(config.find_links) == set(reported.get("find-links", "").split())
    if "index-url" in reported:
        assert config.index_urls[0] == reported["index-url"]


@pytest.mark.parametrize("json_pages", [True, False])
def test_json_and_html_pages_agree(local_index: Path, tmp_path: Path, json_pages: bool) -> None:
    """PEP 691 and PEP 503 forms of one index give the same files, hashes and sizes known."""
    claims = {"attrs-26.1.0-py3-none-any.whl": localindex.FileClaims("broken", ">=3.13")}
    root = tmp_path / "idx"
    wheels = [
        localindex.realwheels.fetch_wheel(wheel)
        for wheel in localindex.INDEX_WHEELS
        if wheel.filename.startswith(("attrs", "markupsafe"))
    ]
    localindex.build_index(root, wheels, claims)
    with (
        localindex.serve(root, json_pages=json_pages) as (url, log),
        HttpClient(tmp_path / "cache") as http,
    ):
        sources = Sources(IndexConfig((url,)), http)
        attrs = sources.files("attrs")
        markupsafe = sources.files("MarkupSafe")
        assert sources.files("no-such-project") == []
    assert [f.filename for f in attrs] == ["attrs-26.1.0-py3-none-any.whl"]
    assert attrs[0].yanked == "broken"
    assert attrs[0].requires_python == ">=3.13"
    assert attrs[0].url == url.replace("/simple/", "/files/") + attrs[0].filename
    assert len(markupsafe) == 5
    assert all(f.sha256 and len(f.sha256) == 64 and f.yanked is None for f in markupsafe)
    assert (markupsafe[0].size is not None) is json_pages  # PEP 700 size: JSON only
    assert "/simple/markupsafe/" in log.paths()


def test_cache_revalidates_then_works_offline(
    served_index: tuple[str, object], tmp_path: Path
) -> None:
    url, log = served_index
    assert isinstance(log, localindex.RequestLog)
    page = f"{url}jinja2/"
    with HttpClient(tmp_path) as http:
        first = http.get_page(page, "application/vnd.pypi.simple.v1+json")
    before = len(log.lines)
    with HttpClient(tmp_path) as http:
        again = http.get_page(page, "application/vnd.pypi.simple.v1+json")
    assert first is not None and again is not None and again.body == first.body
    assert log.lines[before:] == [("GET", "/simple/jinja2/", None)]  # one 304 revalidation
    with HttpClient(tmp_path, offline=True) as http:
        offline = http.get_page(page, "application/vnd.pypi.simple.v1+json")
        assert offline is not None and offline.body == first.body
        with pytest.raises(FetchError, match="--offline"):
            http.get_page(f"{url}attrs/", "application/vnd.pypi.simple.v1+json")
    assert len(log.lines) == before + 1
    # Page entries are written without fsync: a body a crash left torn is never served.
    (body,) = (tmp_path / "http").glob("*.body")
    body.write_bytes(first.body[:10])
    with HttpClient(tmp_path, offline=True) as http, pytest.raises(FetchError, match="--offline"):
        http.get_page(page, "application/vnd.pypi.simple.v1+json")
    with HttpClient(tmp_path) as http:
        fetched = http.get_page(page, "application/vnd.pypi.simple.v1+json")
    assert fetched is not None and fetched.body == first.body
    assert log.lines[before + 1 :] == [("GET", "/simple/jinja2/", None)]
    assert body.read_bytes() == first.body


def test_metadata_by_range_requests(served_index: tuple[str, object], tmp_path: Path) -> None:
    """Without PEP 658, METADATA comes from range requests (the zip tail), not the whole wheel."""
    url, log = served_index
    assert isinstance(log, localindex.RequestLog)
    with HttpClient(tmp_path) as http:
        file = next(
            f
            for f in Sources(IndexConfig((url,)), http).files("pydantic")
            if f.filename.endswith(".whl")
        )
        before = len(log.lines)
        metadata = MetadataFetcher(http, tmp_path).metadata(file)
        assert file.sha256 is not None
        assert not http.cached_file(file.filename, file.sha256).exists()
    requests = log.lines[before:]
    assert [path for _, path, _ in requests] == [f"/files/{file.filename}"] * len(requests)
    assert 1 <= len(requests) <= 3 and all(rng for _, _, rng in requests)
    assert requests[0][2] == "bytes=-65536"
    with Wheel.open(localindex.realwheels.cache_dir() / file.filename) as wheel:
        assert metadata.name == wheel.metadata.name
        assert [str(r) for r in metadata.requires_dist or []] == [
            str(r) for r in wheel.metadata.requires_dist or []
        ]
    # Cached (parsed): a second fetcher asks nothing and reads the same fields.
    with HttpClient(tmp_path) as http:
        again = MetadataFetcher(http, tmp_path).metadata(file)
    assert len(log.lines) == before + len(requests)
    assert again.name == metadata.name and again.version == metadata.version
    assert again.requires_dist == metadata.requires_dist
    assert again.requires_python == metadata.requires_python
    # A cache entry a crash left torn is a miss: fetched again, not an error.
    (entry,) = (tmp_path / "metadata").rglob(f"*{file.filename}*")
    entry.write_bytes(entry.read_bytes()[:20])
    with HttpClient(tmp_path) as http:
        assert MetadataFetcher(http, tmp_path).metadata(file).name == metadata.name
    assert len(log.lines) > before + len(requests)


def test_metadata_file_pep658(tmp_path: Path) -> None:
    """An advertised ``.metadata`` file is used (and its hash checked) instead of the wheel."""
    wheel = localindex.realwheels.fetch_wheel(localindex.INDEX_WHEELS[0])
    root = tmp_path / "idx"
    localindex.build_index(root, [wheel])
    with Wheel.open(wheel) as opened:
        data = opened.read_bytes(f"{opened.dist_info}/METADATA")
    (root / "files" / f"{wheel.name}.metadata").write_bytes(data)
    page = root / "simple" / "jinja2" / "index.html"
    page.write_text(page.read_text().replace("<a ", '<a data-core-metadata="true" '))
    with localindex.serve(root, json_pages=False) as (url, log), HttpClient(tmp_path) as http:
        file = Sources(IndexConfig((url,)), http).files("jinja2")[0]
        assert file.metadata == {}
        metadata = MetadataFetcher(http, tmp_path).metadata(file)
    assert metadata.name == "Jinja2"
    assert f"/files/{wheel.name}.metadata" in log.paths()
    assert not log.ranges()


def test_first_index_wins_over_a_later_index(local_index: Path, tmp_path: Path) -> None:
    """A project on the primary index hides the same name elsewhere unless asked to merge."""
    only_ios = tmp_path / "primary"
    localindex.build_index(only_ios, [localindex.realwheels.fetch("ios-device")])
    config = IndexConfig((only_ios.joinpath("simple").as_uri(), local_index.as_uri()))
    with HttpClient(tmp_path / "cache") as http:
        first = Sources(config, http).files("markupsafe")
        merged = Sources(
            IndexConfig(config.index_urls, (), IndexStrategy.UNSAFE_BEST_MATCH), http
        ).files("markupsafe")
        jinja2 = Sources(config, http).files("jinja2")
    assert [f.filename for f in first] == [localindex.realwheels.WHEELS["ios-device"].filename]
    assert len(merged) == 6
    assert [f.index for f in jinja2] == [local_index.as_uri() + "/"]


def test_find_links_directory(tmp_path: Path) -> None:
    wheel = localindex.realwheels.fetch("pure")
    with HttpClient(tmp_path) as http:
        files = Sources(IndexConfig((), (str(wheel.parent),)), http).files("iniconfig")
    assert [f.filename for f in files] == [wheel.name]
    assert files[0].index is None and files[0].url == wheel.resolve().as_uri()


def test_metadata_far_from_the_zip_end(make_wheel: Callable[..., Path], tmp_path: Path) -> None:
    """METADATA outside the fetched tail costs one more range request, not the whole file."""
    metadata = b"Metadata-Version: 2.4\nName: big\nVersion: 1.0\nRequires-Dist: attrs>=23\n"
    wheel = make_wheel(
        "big-1.0-py3-none-any.whl",
        {"big-1.0.dist-info/METADATA": metadata, "big/blob.bin": os.urandom(300_000)},
    )
    root = tmp_path / "idx"
    localindex.build_index(root, [wheel])
    with localindex.serve(root, json_pages=True) as (url, log), HttpClient(tmp_path) as http:
        file = Sources(IndexConfig((url,)), http).files("big")[0]
        parsed = MetadataFetcher(http, tmp_path / "meta").metadata(file)
    assert [str(r) for r in parsed.requires_dist or []] == ["attrs>=23"]
    ranges = log.ranges()
    assert ranges[0] == "bytes=-65536" and len(ranges) == 2
    start, _, end = ranges[1].removeprefix("bytes=").partition("-")
    assert int(end) - int(start) < 64 * 1024


MARKUPSAFE_SDIST_SHA256 = "722695808f4b6457b320fdc131280796bdceb04ab50fe1795cd540799ebe1698"


def test_sdists_are_listed_and_their_pkg_info_read(tmp_path: Path) -> None:
    """The resolver never builds sdists, but recipe writers list them and read their metadata."""
    with Session(pip_index_config(), cache_dir=tmp_path) as session:
        files = session.sources.files("MarkupSafe")
        project = ProjectFiles(
            tuple(files), parse_platform("pyodide-2025.0"), canonicalize_name("MarkupSafe")
        )
        [sdist] = project.sdists[Version("3.0.3")]
        metadata = session.metadata.metadata(sdist)
        downloaded = session.http.cached_file(sdist.filename, MARKUPSAFE_SDIST_SHA256)
    assert (sdist.filename, sdist.sha256) == ("markupsafe-3.0.3.tar.gz", MARKUPSAFE_SDIST_SHA256)
    assert set(project.sdists) <= project.all_versions
    assert (metadata.name, str(metadata.version)) == ("MarkupSafe", "3.0.3")
    # PKG-INFO and the index page agree on Requires-Python: two independent sources.
    assert sdist.requires_python is not None
    assert metadata.requires_python == SpecifierSet(sdist.requires_python)
    assert downloaded.is_file()  # fetched once, sha256-checked, where the build looks too


def test_sdist_without_pkg_info_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "links" / "bare-1.0.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(_write(tmp_path / "setup.py", "print()\n"), "bare-1.0/setup.py")
    with HttpClient(tmp_path) as http:
        [sdist] = Sources(IndexConfig((), (str(archive.parent),)), http).files("bare")
        with pytest.raises(OmniwheelError, match=r"bare-1.0.tar.gz: no <name>-<version>/PKG-INFO"):
            MetadataFetcher(http, tmp_path).metadata(sdist)


def _attrs_index(root: Path) -> tuple[Path, str]:
    """An index serving only attrs (its real wheel); the wheel's path and its pinned sha256."""
    attrs = next(w for w in localindex.INDEX_WHEELS if w.filename.startswith("attrs"))
    wheel = localindex.realwheels.fetch_wheel(attrs)
    localindex.build_index(root, [wheel])
    return wheel, attrs.sha256


def test_unhashed_file_is_downloaded_once(tmp_path: Path) -> None:
    """A file listed without a hash is fetched once: locking hashes it into the cache under
    that sha256, where the install finds it; a cache entry that rotted is fetched again."""
    root = tmp_path / "idx"
    wheel, sha256 = _attrs_index(root)
    page = root / "simple" / "attrs" / "index.html"
    page.write_text(page.read_text().replace(f"#sha256={sha256}", ""))
    platform = parse_platform("ios", python="3.13")
    whole = f"/files/{wheel.name}", None
    with (
        localindex.serve(root, json_pages=False) as (url, log),
        Session(IndexConfig((url,)), cache_dir=tmp_path / "cache") as session,
    ):
        assert session.sources.files("attrs")[0].sha256 is None
        lock, _ = session.lock(["attrs"], [platform], lock_dir=tmp_path)
        [locked] = locked_wheels(lock, platform, tmp_path)
        assert locked.sha256 == sha256
        [path] = session.downloader.fetch_all([locked])
        assert [(p, r) for _, p, r in log.lines].count(whole) == 1
        assert path == session.http.cached_file(wheel.name, sha256)
        path.write_bytes(b"rotten")
        assert session.downloader.fetch(locked) == path
        assert [(p, r) for _, p, r in log.lines].count(whole) == 2
    assert path.read_bytes() == wheel.read_bytes()


def test_server_ignoring_ranges_sends_the_wheel_once(tmp_path: Path) -> None:
    """A server that answers a range request with the whole wheel (200): METADATA is read
    from the wheel streamed into the cache, and the install takes it from there."""
    root = tmp_path / "idx"
    wheel, sha256 = _attrs_index(root)
    with (
        localindex.serve(root, json_pages=True, ranges="none") as (url, log),
        Session(IndexConfig((url,)), cache_dir=tmp_path / "cache") as session,
    ):
        [file] = session.sources.files("attrs")
        before = len(log.lines)
        metadata = session.metadata.metadata(file)
        assert log.lines[before:] == [("GET", f"/files/{wheel.name}", "bytes=-65536")]
        cached = session.http.cached_file(wheel.name, sha256)
        assert cached.read_bytes() == wheel.read_bytes()
        platform = parse_platform("ios", python="3.13")
        lock, _ = session.lock(["attrs"], [platform], lock_dir=tmp_path)
        assert session.downloader.fetch_all(locked_wheels(lock, platform, tmp_path)) == [cached]
        assert len(log.lines) == before + 1
    with Wheel.open(wheel) as opened:
        assert (metadata.name, metadata.version) == (opened.metadata.name, opened.metadata.version)


def test_range_reader_falls_back_when_a_later_range_is_ignored(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """The zip tail came as a range, the METADATA member's range as the whole file (200):
    METADATA is read from that file, not from a short or missing range."""
    metadata = b"Metadata-Version: 2.4\nName: big\nVersion: 1.0\nRequires-Dist: attrs>=23\n"
    wheel = make_wheel(
        "big-1.0-py3-none-any.whl",
        {"big-1.0.dist-info/METADATA": metadata, "big/blob.bin": os.urandom(300_000)},
    )
    root = tmp_path / "idx"
    localindex.build_index(root, [wheel])
    with (
        localindex.serve(root, json_pages=True, ranges="suffix") as (url, log),
        HttpClient(tmp_path / "cache") as http,
    ):
        file = Sources(IndexConfig((url,)), http).files("big")[0]
        parsed = MetadataFetcher(http, tmp_path / "meta").metadata(file)
        assert file.sha256 is not None
        assert http.cached_file(file.filename, file.sha256).read_bytes() == wheel.read_bytes()
    assert [str(r) for r in parsed.requires_dist or []] == ["attrs>=23"]
    ranges = log.ranges()
    assert len(ranges) == 2 and ranges[0] == "bytes=-65536" and not ranges[1].startswith("-")


def test_pip_constraint_setting_applies_as_pip_applies_it(
    served_index: tuple[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip.conf's ``constraint`` ([install] over [global], empty values ignored) and
    ``PIP_CONSTRAINT`` (over both) shape an install exactly as they shape real pip's."""
    url, _ = served_index
    impossible = _write(tmp_path / "impossible.txt", "markupsafe<3\n")
    pinned = _write(tmp_path / "pinned.txt", "markupsafe==3.0.4\njinja2>=3\n")
    xdg = tmp_path / "xdg"
    for name in [key for key in os.environ if key.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(xdg))
    cases = [
        # ([install] constraint, PIP_CONSTRAINT, resolvable?)
        (str(pinned), None, True),
        ("", None, False),  # an empty value is ignored: [global]'s constraint holds
        (str(pinned), str(impossible), False),
    ]
    for install_value, variable, resolvable in cases:
        _write(
            xdg / "pip" / "pip.conf",
            f"[global]\nconstraint = {impossible}\n[install]\nconstraint = {install_value}\n",
        )
        if variable is None:
            monkeypatch.delenv("PIP_CONSTRAINT", raising=False)
        else:
            monkeypatch.setenv("PIP_CONSTRAINT", variable)
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--dry-run",
                "--target",
                str(tmp_path / "pip-target"),
                "--only-binary",
                ":all:",
                "--platform",
                "ios_13_0_arm64_iphoneos",
                "--python-version",
                "3.13",
                "--index-url",
                url,
                "jinja2",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        ours = main(
            [
                "install",
                "jinja2",
                "--platform",
                "ios",
                "--python",
                "3.13",
                "--index-url",
                url,
                "--cache-dir",
                str(tmp_path / "cache"),
                "--into",
                str(tmp_path / "app"),
                "--json",
            ]
        )
        case = (install_value, variable)
        assert (pip.returncode == 0) is resolvable, (case, pip.stderr[-500:])
        assert (ours == 0) is resolvable, case


@contextmanager
def _pages(pages: Mapping[str, tuple[str, bytes]]) -> Iterator[str]:
    """Serve fixed ``{path: (Content-Type, body)}`` pages on 127.0.0.1, each header as
    given (localindex's server sets its own); yields the index URL (``/simple/``)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path not in pages:
                self.send_error(404)
                return
            content_type, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serve = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    serve.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()


def _json_page(files: list[Any], api_version: str = "1.0") -> tuple[str, bytes]:
    document = {"meta": {"api-version": api_version}, "name": "foo", "files": files}
    return JSON_V1, json.dumps(document).encode()


def _html_page(head: str, body: str, charset: str = "utf-8") -> tuple[str, bytes]:
    page = f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"
    return f"text/html; charset={charset}", page.encode(charset)


_ANCHOR = f'<a href="/f/foo-1.0-py3-none-any.whl#sha256={"0" * 64}">foo-1.0-py3-none-any.whl</a>'
_ENTRY = {"filename": "foo-1.0-py3-none-any.whl", "url": "/f/foo-1.0-py3-none-any.whl"}


def _files(page: tuple[str, bytes], tmp_path: Path) -> list[str]:
    """The filenames Sources reads from ``page`` served as project foo's."""
    with _pages({"/simple/foo/": page}) as url, HttpClient(tmp_path / "cache") as http:
        return [file.filename for file in Sources(IndexConfig((url,)), http).files("foo")]


@pytest.mark.parametrize("form", ["json", "html"])
def test_api_version_above_major_1_is_refused(tmp_path: Path, form: str) -> None:
    """PEP 629/691: a page declaring API major version 2 changed incompatibly and MUST be
    refused; a higher minor version is compatible."""

    def page(version: str) -> tuple[str, bytes]:
        if form == "json":
            return _json_page([_ENTRY], version)
        meta = f'<meta name="pypi:repository-version" content="{version}">'
        return _html_page(meta, _ANCHOR)

    assert _files(page("1.4"), tmp_path) == ["foo-1.0-py3-none-any.whl"]
    with pytest.raises(
        IndexFormatError,
        match=r"^http://127\.0\.0\.1:\d+/simple/foo/: the page declares simple API version 2\.0; "
        r"omniwheel reads version 1\.x only \(PEP 629\), so it cannot use this index$",
    ):
        _files(page("2.0"), tmp_path)


def test_html_page_is_decoded_in_its_declared_charset(tmp_path: Path) -> None:
    """pip decodes an HTML page in the Content-Type's charset (UTF-8 when none is named):
    a Latin-1 page is read, its non-ASCII text intact; an unknown charset is an error."""
    anchor = _ANCHOR.replace("<a ", '<a data-yanked="caf\xe9 broke it" ')
    latin = _html_page("<!-- caf\xe9 -->", anchor, "ISO-8859-1")
    with _pages({"/simple/foo/": latin}) as url, HttpClient(tmp_path / "cache") as http:
        [file] = Sources(IndexConfig((url,)), http).files("foo")
        [linked] = Sources(IndexConfig((), (f"{url}foo/",)), http).files("foo")
    assert (file.filename, file.yanked) == ("foo-1.0-py3-none-any.whl", "caf\xe9 broke it")
    assert linked.filename == file.filename  # the same page as a find-links location
    with pytest.raises(IndexFormatError, match=r"/simple/foo/: the page's charset 'x-nonsense'"):
        _files(("text/html; charset=x-nonsense", b"<a href='x'>x</a>"), tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("filename", 5, 'files[0] "filename" is 5, not a string'),
        ("url", None, 'files[0] "url" is missing, not a string'),
        ("hashes", {"sha256": 5}, 'files[0] "hashes" gives sha256 as 5, not a hex string'),
        ("hashes", ["sha256"], "files[0] \"hashes\" is ['sha256'], not an object"),
        ("requires-python", 3, 'files[0] "requires-python" is 3, not a string'),
        ("yanked", 1, 'files[0] "yanked" is 1, not a boolean or a string'),
        ("core-metadata", "yes", "files[0] \"core-metadata\" is 'yes', not an object or a boolean"),
        ("size", True, 'files[0] "size" is True, not an integer'),
    ],
)
def test_json_fields_of_the_wrong_type_are_refused(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    """A PEP 691 page whose file entry has a field of the wrong JSON type is an error naming
    the page, the entry and the field (not a traceback when the value is used)."""
    entry = {**_ENTRY, field: value}
    with pytest.raises(IndexFormatError) as caught:
        _files(_json_page([entry]), tmp_path)
    assert str(caught.value).endswith(f"/simple/foo/: not a valid PEP 691 project page ({message})")


def test_a_file_url_is_percent_decoded_once(tmp_path: Path) -> None:
    """``file:`` URLs name local indexes and find-links: ``%25`` is a ``%`` of the name, not
    the start of another escape."""
    directory = tmp_path / "wheels%41 b"
    assert directory.as_uri().endswith("/wheels%2541%20b")
    assert local_path(directory.as_uri()) == directory
    assert local_path(str(directory)) == directory
