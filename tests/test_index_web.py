"""The web pages in headless Chromium: the matrix read from the DOM, a screenshot that shows it."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

import realwheels
from indexserver import Server, serve
from omniwheel.index import PackageIndex

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web") / "index"
    index = PackageIndex(root)
    wheels = ("ios-device", "ios-simulator", "android-arm64", "macos-universal2", "win-amd64",
              "musllinux", "pyemscripten", "pyemscripten-2025", "pure")  # fmt: skip
    for key in wheels:
        index.add_path(realwheels.fetch(key))
    index.yank("markupsafe==3.0.2", "no longer supported")
    index.close()
    with serve(root) as running:
        yield running


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("Debian's chromium is needed for the browser test")
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", *args]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


class _MatrixReader(HTMLParser):
    """(version, column) -> [(filename, status)] from the rendered table."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.columns: list[str] = []
        self._version = ""
        self._column = ""
        self._in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "thead":
            self._in_header = True
        elif tag == "th" and self._in_header and "data-column" in found:
            self.columns.append(found["data-column"])
        elif tag == "tr" and "data-version" in found:
            self._version = found["data-version"]
        elif tag == "td" and "data-column" in found:
            self._column = found["data-column"]
            self.cells.setdefault((self._version, self._column), [])
        elif tag == "a" and "data-status" in found:
            entry = (found["data-filename"], found["data-status"])
            self.cells[(self._version, self._column)].append(entry)

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._in_header = False


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows of an 8-bit RGB(A) PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    channels = 3 if color == 2 else 4
    stride = width * channels
    raw = zlib.decompress(chunks)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line[x] for x in range(stride) if x % channels < 3))
        previous = line
    return width, height, rows


def test_matrix_page_in_chromium_matches_the_json(server: Server, tmp_path: Path) -> None:
    url = f"{server.url}/project/markupsafe/"
    dom = _chromium("--dump-dom", url, tmp_path=tmp_path).stdout
    reader = _MatrixReader()
    reader.feed(dom)
    document = httpx.get(f"{server.url}/api/projects/markupsafe").json()
    assert reader.columns == [column["key"] for column in document["columns"]]
    assert reader.columns == [
        "ios", "ios-simulator", "android", "macos-universal2", "musllinux", "windows",
    ]  # fmt: skip
    expected = {
        (version["version"], key): [(cell["filename"], cell["status"]) for cell in cells]
        for version in document["versions"]
        for key, cells in version["cells"].items()
    }
    filled = {key: value for key, value in reader.cells.items() if value}
    assert filled == expected
    assert filled[("3.0.4", "ios")] == [
        ("markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl", "ok")
    ]
    assert reader.cells[("3.0.2", "ios")] == []
    (yanked,) = [v for v in document["versions"] if v["version"] == "3.0.2"]
    assert yanked["yanked"] and "(yanked)" in dom

    shot = tmp_path / "matrix.png"
    _chromium("--window-size=1000,400", f"--screenshot={shot}", url, tmp_path=tmp_path)
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 400)
    pixels = [row[x : x + 3] for row in rows[::4] for x in range(0, len(row), 12)]
    background = max(set(pixels), key=pixels.count)
    colours = set(pixels)
    green = {p for p in colours if p[1] > 100 and p[1] > p[0] + 40 and p[1] > p[2] + 40}
    assert len(colours) > 20, "the screenshot is blank"
    assert sum(p != background for p in pixels) > len(pixels) // 20
    assert green, "no green (ok) cell is visible"


def test_package_list_searches(server: Server) -> None:
    everything = httpx.get(f"{server.url}/").text
    assert all(f'data-project="{name}"' in everything for name in ("markupsafe", "msgpack"))
    found = httpx.get(f"{server.url}/", params={"q": "Msg"}).text
    assert 'data-project="msgpack"' in found and 'data-project="markupsafe"' not in found
    assert ">emscripten</span>" in found
    nothing = httpx.get(f"{server.url}/", params={"q": "zzz_%"}).text
    assert "data-project=" not in nothing


def test_matrix_json_for_pyodide_and_pure(server: Server) -> None:
    msgpack = httpx.get(f"{server.url}/api/projects/msgpack").json()
    assert [c["key"] for c in msgpack["columns"]] == ["pyodide-2025.0", "pyodide-2026.0"]
    (version,) = msgpack["versions"]
    cell = version["cells"]["pyodide-2025.0"][0]
    assert cell["status"] == "ok" and cell["python"] == "cp313"
    assert httpx.get(cell["url"]).status_code == 200
    pure = httpx.get(f"{server.url}/api/projects/iniconfig").json()
    assert pure["columns"] == [
        {"key": "pure", "family": "pure", "title": "Pure Python", "arch": None}
    ]
    assert httpx.get(f"{server.url}/api/projects/nothing").status_code == 404
    redirected = httpx.get(f"{server.url}/project/MarkupSafe/", follow_redirects=True)
    assert (
        redirected.url.path == "/project/markupsafe/" and '<table id="matrix">' in redirected.text
    )
