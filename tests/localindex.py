"""A local package index of real wheels, served over 127.0.0.1 for the resolve/install tests.

The wheels are real files from the index pip is configured with (pinned by
filename and sha256, fetched once through ``pip download``); the index pages
(PEP 503 HTML and PEP 691 JSON) are generated here, so tests can also say what
an index claims about a file (yanked, Requires-Python) without altering the file.
"""

from __future__ import annotations

import hashlib
import html
import json
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name, parse_wheel_filename

import realwheels
from omniwheel.files import file_sha256
from realwheels import RealWheel

#: Every wheel the local index serves.
INDEX_WHEELS: tuple[RealWheel, ...] = (
    RealWheel(
        "jinja2==3.1.6",
        "any",
        "3.13",
        "none",
        "jinja2-3.1.6-py3-none-any.whl",
        "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67",
    ),
    realwheels.WHEELS["ios-device"],
    realwheels.WHEELS["ios-simulator"],
    realwheels.WHEELS["android-arm64"],
    RealWheel(
        "markupsafe==3.0.4",
        "android_24_x86_64",
        "3.13",
        "cp313",
        "markupsafe-3.0.4-cp313-cp313-android_24_x86_64.whl",
        "34bdde374c5932765d7dc685c4a1d191a3207852d67e8e0a9eb6ea85156181f1",
    ),
    RealWheel(
        "markupsafe==3.0.4",
        "ios_13_0_arm64_iphoneos",
        "3.14",
        "cp314",
        "markupsafe-3.0.4-cp314-cp314-ios_13_0_arm64_iphoneos.whl",
        "8781a792a070cf2bd1b86d3aa943894115faaba6e88122a7bf32d62072742453",
    ),
    realwheels.WHEELS["pyemscripten"],
    realwheels.WHEELS["pyemscripten-2025"],
    RealWheel(
        "pydantic==2.14.3",
        "any",
        "3.14",
        "none",
        "pydantic-2.14.3-py3-none-any.whl",
        "3f7b347782ab7e4cf4c798496ae3a82787d9f21ec12676a9c564355eeef8daa8",
    ),
    RealWheel(
        "pydantic-core==2.50.4",
        "pyemscripten_2026_0_wasm32",
        "3.14",
        "cp314",
        "pydantic_core-2.50.4-cp314-cp314-pyemscripten_2026_0_wasm32.whl",
        "e6da138a1ecc1341c8b788a5ee822670b03788e1f5decf7af9d461de6e508b8e",
    ),
    RealWheel(
        "typing-extensions==4.16.0",
        "any",
        "3.14",
        "none",
        "typing_extensions-4.16.0-py3-none-any.whl",
        "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8",
    ),
    RealWheel(
        "annotated-types==0.8.0",
        "any",
        "3.14",
        "none",
        "annotated_types-0.8.0-py3-none-any.whl",
        "f072f4d804ea359e4eaf198b1af7a8b0943881a87f31bb764f8bf219bb9419e0",
    ),
    RealWheel(
        "typing-inspection==0.4.5",
        "any",
        "3.14",
        "none",
        "typing_inspection-0.4.5-py3-none-any.whl",
        "bc210535442b39e1bf2805e0c7a17dfd6a4ace760c84c7f7d16245d23a6b1c39",
    ),
    RealWheel(
        "attrs==26.1.0",
        "any",
        "3.12",
        "none",
        "attrs-26.1.0-py3-none-any.whl",
        "c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309",
    ),
)


def fetch_all() -> list[Path]:
    return [realwheels.fetch_wheel(wheel) for wheel in INDEX_WHEELS]


@dataclass
class FileClaims:
    """What the generated index says about one file beyond its name and hash."""

    yanked: str | None = None
    requires_python: str | None = None


def build_index(
    root: Path,
    wheels: list[Path],
    claims: Mapping[str, FileClaims] | None = None,
) -> Path:
    """Write ``root/files/*.whl`` and ``root/simple/<project>/`` (index.html and index.json)."""
    claims = claims or {}
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[dict[str, Any]]] = {}
    for wheel in wheels:
        shutil.copyfile(wheel, files / wheel.name)
        digest = file_sha256(wheel)
        claim = claims.get(wheel.name, FileClaims())
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        projects.setdefault(project, []).append(
            {
                "filename": wheel.name,
                "url": f"../../files/{wheel.name}",
                "hashes": {"sha256": digest},
                "requires-python": claim.requires_python,
                "yanked": claim.yanked if claim.yanked is not None else False,
                "size": wheel.stat().st_size,
            }
        )
    simple = root / "simple"
    for project, entries in projects.items():
        directory = simple / project
        directory.mkdir(parents=True, exist_ok=True)
        document = {"meta": {"api-version": "1.1"}, "name": project, "files": entries}
        (directory / "index.json").write_text(json.dumps(document))
        anchors = []
        for entry in entries:
            attributes = ""
            if entry["requires-python"]:
                attributes += f' data-requires-python="{html.escape(entry["requires-python"])}"'
            if entry["yanked"] is not False:
                attributes += f' data-yanked="{html.escape(entry["yanked"])}"'
            href = f"{entry['url']}#sha256={entry['hashes']['sha256']}"
            anchors.append(f'<a href="{href}"{attributes}>{entry["filename"]}</a><br/>')
        (directory / "index.html").write_text(
            "<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>\n"
        )
    return simple


@dataclass
class RequestLog:
    """What the test server was asked, to prove which route the client took."""

    lines: list[tuple[str, str, str | None]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.lines]

    def ranges(self) -> list[str]:
        return [rng for _, _, rng in self.lines if rng]


#: Which byte ranges the test server honours: every single range, only suffix ranges
#: (``bytes=-N``), or none (it answers 200 with the whole file, as some servers do).
Ranges = Literal["all", "suffix", "none"]


class _Handler(SimpleHTTPRequestHandler):
    """Static files plus PEP 691 negotiation and single byte ranges, over persistent
    connections (HTTP/1.1, as real indexes serve)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: with Nagle's algorithm on, a kept-alive
    # connection then stalls on the client's delayed ACK (~40 ms a response).
    disable_nagle_algorithm = True
    json_pages = False
    ranges: Ranges = "all"
    #: ``Cache-Control`` of project pages (``None``: none, so clients revalidate each time).
    cache_control: str | None = None
    log: RequestLog

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.log.lines.append(("GET", self.path, self.headers.get("Range")))
        if self.path.endswith("/") and self.path.startswith("/simple/"):
            return self._page()
        spec = (self.headers.get("Range") or "").removeprefix("bytes=")
        if spec and (self.ranges == "all" or (self.ranges == "suffix" and spec[0] == "-")):
            return self._range(spec)
        return super().do_GET()

    def _page(self) -> None:
        directory = Path(self.translate_path(self.path))
        accept = self.headers.get("Accept", "")
        use_json = self.json_pages and "application/vnd.pypi.simple.v1+json" in accept
        page = directory / ("index.json" if use_json else "index.html")
        if not page.is_file():
            self.send_error(404)
            return
        body = page.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            # A 304 repeats the validator (RFC 9110 15.4.5); uv refetches the page without it.
            self.send_response(304)
            self.send_header("ETag", etag)
            self._send_cache_control()
            self.end_headers()
            return
        self.send_response(200)
        self.send_header(
            "Content-Type", "application/vnd.pypi.simple.v1+json" if use_json else "text/html"
        )
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self._send_cache_control()
        self.end_headers()
        self.wfile.write(body)

    def _send_cache_control(self) -> None:
        if self.cache_control is not None:
            self.send_header("Cache-Control", self.cache_control)

    def _range(self, spec: str) -> None:
        path = Path(self.translate_path(self.path))
        size = path.stat().st_size
        first, _, last = spec.partition("-")
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(size - 1, int(last) if last else size - 1)
        with path.open("rb") as stream:
            stream.seek(start)
            chunk = stream.read(end + 1 - start)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        self.wfile.write(chunk)


@contextmanager
def serve(
    root: Path, *, json_pages: bool, ranges: Ranges = "all", cache_control: str | None = None
) -> Iterator[tuple[str, RequestLog]]:
    """Serve ``root`` on 127.0.0.1 (ephemeral port); yields the index URL and the request log."""
    log = RequestLog()
    settings = {
        "json_pages": json_pages,
        "ranges": ranges,
        "cache_control": cache_control,
        "log": log,
    }
    handler = type("Handler", (_Handler,), settings)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", log
    finally:
        server.shutdown()
        server.server_close()


def uv_install_command(
    *arguments: str, target: Path, triple: str, python: str, cache: Path
) -> list[str]:
    """``uv pip install --target`` for another platform (the pinned uv, no user config)."""
    return [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "install",
        "--no-config",
        "--target",
        str(target),
        "--python-platform",
        triple,
        "--python-version",
        python,
        "--cache-dir",
        str(cache),
        *arguments,
    ]


def lock_arguments(url: str, cache: Path, output: Path, *arguments: str) -> list[str]:
    """``omniwheel lock`` arguments against the local index (CPython 3.13 targets)."""
    return [
        "lock",
        *arguments,
        "--python",
        "3.13",
        "--index-url",
        url,
        "--cache-dir",
        str(cache),
        "-o",
        str(output),
    ]
