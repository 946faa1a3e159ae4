"""The index client over HTTP: credentials go to their host and into nothing written or
shown, every hash an index lists is checked, a broken index or location is one line."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from omniwheel.cli.main import main
from omniwheel.resolve.http import split_credentials
from omniwheel.resolve.transport import HostAuth

Route = tuple[int, dict[str, str], bytes]
AUTHORIZATION = "Basic " + base64.b64encode(b"alice:s3cret").decode()


class ScriptedIndex:
    """An index on 127.0.0.1 answering each path from ``routes``; 404 otherwise. It
    records every request's path and Authorization header, and with ``password`` set
    answers 401 to any request without it."""

    def __init__(self, *, password: bool = False) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str | None]] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                authorization = self.headers.get("Authorization")
                index.requests.append((self.path, authorization))
                status, headers, body = index.routes.get(self.path, (404, {}, b""))
                if password and authorization != AUTHORIZATION:
                    status, headers, body = 401, {"WWW-Authenticate": 'Basic realm="x"'}, b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def page(self, project: str, links: list[str]) -> None:
        """A PEP 503 page of ``<a>`` elements (given as HTML)."""
        body = "<!DOCTYPE html><html><body>" + "".join(links) + "</body></html>"
        self.routes[f"/simple/{project}/"] = (200, {"Content-Type": "text/html"}, body.encode())

    def file(self, path: Path) -> str:
        """Serve a wheel under /files/; its path on the server."""
        self.routes[f"/files/{path.name}"] = (200, {}, path.read_bytes())
        return f"/files/{path.name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index() -> Iterator[ScriptedIndex]:
    served = ScriptedIndex()
    yield served
    served.close()


@pytest.fixture
def private_index() -> Iterator[ScriptedIndex]:
    served = ScriptedIndex(password=True)
    yield served
    served.close()


@pytest.fixture(autouse=True)
def no_pip_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the index each test names: no pip.conf, PIP_* variable or ~/.netrc of this machine."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``omniwheel lock REQUIREMENT -i INDEX`` for a Linux target: (status, stdout, stderr)."""

    def run(requirement: str, index_url: str, *options: str) -> tuple[int, str, str]:
        arguments = ["lock", requirement, "-i", index_url, "--platform", "linux-x86_64"]
        arguments += ["--python", "3.12", "--cache-dir", str(tmp_path / "cache")]
        arguments += ["-o", str(tmp_path / "pylock.toml"), "-q", *options]
        status = main(arguments)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_index_credentials_reach_their_host_and_nothing_written_or_shown(
    private_index: ScriptedIndex, make_wheel: Callable[..., Path], tmp_path: Path, lock: Run
) -> None:
    """As pip does: the user:password of an index URL authenticates every request to that
    host, a file linked by absolute URL included; the lock (committed to version
    control), the cache and the error messages never carry them."""
    relative = make_wheel("foo-1.0-py3-none-any.whl")
    absolute = make_wheel("bar-1.0-py3-none-any.whl")
    path = private_index.file(relative)
    private_index.page("foo", [f'<a href="../..{path}#sha256={_sha256(relative)}">f</a>'])
    path = private_index.file(absolute)
    link = f"{private_index.origin}{path}#sha256={_sha256(absolute)}"
    private_index.page("bar", [f'<a href="{link}">b</a>'])
    private_index.routes["/simple/boom/"] = (403, {}, b"")
    url = private_index.origin.replace("http://", "http://alice:s3cret@") + "/simple/"

    assert lock("foo", url)[0] == 0
    assert "s3cret" not in (tmp_path / "pylock.toml").read_text()
    assert lock("bar", url)[0] == 0
    requests = dict(private_index.requests)
    assert requests[f"/files/{absolute.name}"] == AUTHORIZATION
    cached = [path.read_bytes() for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    assert cached and not any(b"s3cret" in data for data in cached)

    status, _, error = lock("boom", url)
    assert status == 1
    assert error.count("\n") == 1 and "/simple/boom/ answered HTTP 403" in error
    assert "s3cret" not in error


def test_netrc_credentials_authenticate_their_host(
    private_index: ScriptedIndex,
    make_wheel: Callable[..., Path],
    tmp_path: Path,
    lock: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wheel = make_wheel("foo-1.0-py3-none-any.whl")
    private_index.page("foo", [f'<a href="{private_index.file(wheel)}">foo</a>'])
    url = private_index.origin + "/simple/"
    status, _, error = lock("foo", url)
    assert status == 1 and "answered HTTP 401" in error
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert lock("foo", url)[0] == 0


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "sha512"])
def test_every_hash_an_index_lists_is_checked(
    index: ScriptedIndex, make_wheel: Callable[..., Path], tmp_path: Path, lock: Run, algorithm: str
) -> None:
    """A file listed with only an md5 (or any hashlib-guaranteed hash) is checked
    against it: a different file is refused, as pip refuses it."""
    wheel = make_wheel("foo-1.0-py3-none-any.whl")
    path = index.file(wheel)
    wrong = hashlib.new(algorithm, b"other bytes").hexdigest()
    index.page("foo", [f'<a href="{path}#{algorithm}={wrong}">foo</a>'])
    status, _, error = lock("foo", index.origin + "/simple/")
    assert status == 1
    assert error.count("\n") == 1
    assert f"has {algorithm} {hashlib.new(algorithm, wheel.read_bytes()).hexdigest()}" in error
    assert f"expected {wrong}" in error

    right = hashlib.new(algorithm, wheel.read_bytes()).hexdigest()
    index.page("foo", [f'<a href="{path}#{algorithm}={right}">foo</a>'])
    assert lock("foo", index.origin + "/simple/")[0] == 0
    assert _sha256(wheel) in (tmp_path / "pylock.toml").read_text()


def test_a_metadata_file_is_checked_against_any_hash_listed(
    index: ScriptedIndex, make_wheel: Callable[..., Path], lock: Run
) -> None:
    """PEP 658: ``data-dist-info-metadata="md5=…"`` is checked like a sha256 one."""
    wheel = make_wheel("foo-1.0-py3-none-any.whl")
    path = index.file(wheel)
    metadata = b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: evil\n"
    index.routes[f"{path}.metadata"] = (200, {}, metadata)
    claimed = hashlib.md5(b"the metadata the index meant").hexdigest()
    index.page("foo", [f'<a href="{path}" data-dist-info-metadata="md5={claimed}">foo</a>'])
    status, _, error = lock("foo", index.origin + "/simple/")
    assert status == 1
    assert f"{path}.metadata has md5 {hashlib.md5(metadata).hexdigest()}" in error


def test_a_redirect_loop_is_one_line(index: ScriptedIndex, lock: Run) -> None:
    index.routes["/simple/foo/"] = (302, {"Location": "/simple/foo/"}, b"")
    status, _, error = lock("foo", index.origin + "/simple/")
    assert status == 1
    assert error.count("\n") == 1 and "/simple/foo/ redirects in a loop" in error


@pytest.mark.parametrize(
    ("index_url", "message"),
    [
        ("http://alice:s3cret@[::1/simple/", "index URL http://****@[::1/simple/ is not a valid"),
        ("not an index", "index not an index is neither an http(s) URL nor an existing directory"),
    ],
)
def test_an_index_that_cannot_be_one_is_one_line(lock: Run, index_url: str, message: str) -> None:
    status, _, error = lock("foo", index_url)
    assert status == 2
    assert error.count("\n") == 1 and message in error
    assert "s3cret" not in error


def test_a_cache_dir_that_is_a_file_is_one_line(
    index: ScriptedIndex, lock: Run, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.write_text("not a directory")
    status, _, error = lock("foo", index.origin + "/simple/")
    assert status == 2
    assert error == f"omniwheel: error: cache directory {cache} is a file; give a directory\n"
    assert cache.read_text() == "not a directory"


def test_credentials_for_a_default_port_written_out_reach_that_host() -> None:
    """``https://user:pw@host:443/`` names the same host as ``https://host/``, which is how
    httpx spells the requests to it (it drops a default port)."""
    clean, credentials = split_credentials(
        ["https://alice:s%40cret@Files.Example.org:443/simple/", "http://bob@localhost:8080/"]
    )
    assert clean == ["https://Files.Example.org:443/simple/", "http://localhost:8080/"]
    request = httpx.Request("GET", "https://files.example.org/packages/foo.whl")
    [sent] = list(HostAuth(credentials).auth_flow(request))
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s@cret").decode()
    other = httpx.Request("GET", "http://localhost:8081/")
    assert "Authorization" not in next(HostAuth(credentials).auth_flow(other)).headers
