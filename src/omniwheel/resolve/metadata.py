"""A wheel's core metadata without downloading the wheel when the index allows it.

In order: the PEP 658/714 ``.metadata`` file; HTTP range requests into the
wheel's zip directory (the tail, then the METADATA member); the whole wheel.
An sdist's is its top-level ``PKG-INFO`` (the resolver never asks for one;
``omniwheel skeleton`` does). Results are cached on disk by the file's sha256
(or URL when unhashed, with size and modification time for a local file).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import IO, cast

from packaging.metadata import Metadata, RawMetadata, parse_email

from omniwheel.errors import OmniwheelError
from omniwheel.files import write_atomic
from omniwheel.resolve.http import (
    HASH_ALGORITHMS,
    ByteRange,
    FetchError,
    HttpClient,
    hash_mismatch,
)
from omniwheel.resolve.simple import IndexFile
from omniwheel.resolve.sources import local_path
from omniwheel.wheel import WheelError

#: Where an sdist keeps its core metadata: ``<name>-<version>/PKG-INFO``.
_PKG_INFO = re.compile(r"^[^/]+/PKG-INFO$")
#: How much of a wheel's end to ask for first: the zip directory of most wheels fits.
_TAIL = 64 * 1024
_MIN_READ = 16 * 1024


def parse_raw_metadata(data: bytes, source: str) -> RawMetadata:
    """The fields of core metadata installers read; fields they do not need may be invalid."""
    raw, _unparsed = parse_email(data)
    if "name" not in raw or "version" not in raw:
        raise WheelError(source, "METADATA lacks Name or Version", "METADATA")
    return raw


def _read_cached(path: Path) -> RawMetadata | None:
    """Parsed metadata from the cache; ``None`` (a miss) if absent or unreadable."""
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    valid = isinstance(raw, dict) and "name" in raw and "version" in raw
    return cast(RawMetadata, raw) if valid else None


def _metadata_member(archive: zipfile.ZipFile, source: str) -> str:
    found = [
        name
        for name in archive.namelist()
        if name.count("/") == 1 and name.endswith(".dist-info/METADATA")
    ]
    if len(found) != 1:
        raise WheelError(source, f"must hold exactly one .dist-info/METADATA, found {len(found)}")
    return found[0]


def read_metadata_member(stream: IO[bytes], source: str) -> bytes:
    """The METADATA bytes of a wheel given as a seekable binary stream."""
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.read(_metadata_member(archive, source))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise WheelError(source, f"is not a readable zip archive ({exc})") from exc


def _read_wheel_file(path: Path, source: str) -> bytes:
    with path.open("rb") as stream:
        return read_metadata_member(stream, source)


def read_sdist_pkg_info(path: Path) -> bytes:
    """The top-level ``PKG-INFO`` of a ``.tar.gz`` or ``.zip`` sdist."""
    import tarfile  # only ``skeleton`` reads sdists: the resolver never loads this

    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if _PKG_INFO.match(name):
                        return archive.read(name)
        else:
            with tarfile.open(path) as archive:
                for member in archive:
                    if member.isfile() and _PKG_INFO.match(member.name):
                        stream = archive.extractfile(member)
                        assert stream is not None  # a regular member always has content
                        return stream.read()
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise OmniwheelError(f"{path.name}: not a readable sdist archive ({exc})") from exc
    raise OmniwheelError(f"{path.name}: no <name>-<version>/PKG-INFO in this sdist")


class _RangeIgnoredError(Exception):
    """The server answered a later range request with the whole file, now in the cache."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path


class _RangeReader(io.RawIOBase):
    """A seekable view of a remote file that fetches only the byte ranges zipfile reads."""

    def __init__(self, http: HttpClient, file: IndexFile, tail: ByteRange) -> None:
        self._http = http
        self._file = file
        self._size = tail.total
        self._position = 0
        self._spans: list[tuple[int, bytes]] = [(tail.total - len(tail.data), tail.data)]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._position)
        if want <= 0:
            return 0
        data = self._covered(self._position, want)
        if data is None:
            end = min(self._size, self._position + max(want, _MIN_READ)) - 1
            file = self._file
            fetched = self._http.get_range(
                file.url, self._position, end, file.filename, file.hashes
            )
            if isinstance(fetched, Path):
                raise _RangeIgnoredError(fetched)
            self._spans.append((self._position, fetched.data))
            data = fetched.data[:want]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _covered(self, start: int, length: int) -> bytes | None:
        for begin, chunk in self._spans:
            if begin <= start and start + length <= begin + len(chunk):
                return chunk[start - begin : start - begin + length]
        return None


class MetadataFetcher:
    """Core metadata for index files, by the cheapest route the source offers."""

    def __init__(self, http: HttpClient, cache_dir: Path) -> None:
        self.http = http
        self._cache = cache_dir / "metadata"

    def _cache_path(self, file: IndexFile) -> Path:
        """Filed under the sha256; a file listed without one under its URL, and a local
        one under its size and modification time too: a wheel rebuilt under the same
        name (``--find-links dist/``) has new metadata."""
        key = file.sha256
        if key is None:
            identity = file.url
            path = local_path(file.url)
            if path is not None:
                try:
                    stat = path.stat()
                except OSError:
                    pass  # reading it will say what is wrong
                else:
                    identity += f"\n{stat.st_size}\n{stat.st_mtime_ns}"
            key = hashlib.sha256(identity.encode()).hexdigest()
        return self._cache / key[:2] / f"{key}-{file.filename}.json"

    def metadata(self, file: IndexFile) -> Metadata:
        """Cached parsed, as JSON: reading that is ten times faster than parsing METADATA's
        email format, which every resolution would otherwise redo for every candidate."""
        cached = self._cache_path(file)
        raw = _read_cached(cached)
        if raw is None:
            raw = parse_raw_metadata(self._fetch(file), file.filename)
            write_atomic(cached, json.dumps(raw).encode())
        return Metadata.from_raw(raw, validate=False)

    def _fetch(self, file: IndexFile) -> bytes:
        path = local_path(file.url)
        if not file.filename.endswith(".whl"):
            if path is None:
                path = self.http.download(file.url, file.filename, file.hashes)
            return read_sdist_pkg_info(path)
        if path is not None:
            return _read_wheel_file(path, file.filename)
        if file.metadata is not None:
            return self._metadata_file(file)
        if file.sha256:
            downloaded = self.http.cached_file(file.filename, file.sha256)
            if downloaded.is_file():
                return _read_wheel_file(downloaded, file.filename)
        tail = self.http.get_range(file.url, -_TAIL, None, file.filename, file.hashes)
        if isinstance(tail, Path):  # the server sent the whole wheel, now cached for the install
            return _read_wheel_file(tail, file.filename)
        try:
            reader = _RangeReader(self.http, file, tail)
            return read_metadata_member(io.BufferedReader(reader), file.filename)
        except _RangeIgnoredError as whole:
            return _read_wheel_file(whole.path, file.filename)

    def _metadata_file(self, file: IndexFile) -> bytes:
        """PEP 658: ``<wheel URL>.metadata``, checked against its advertised hash."""
        url = file.url + ".metadata"
        page = self.http.get_page(url, "*/*")
        if page is None:
            raise FetchError(f"{url} is advertised by the index but answers 404")
        expected = file.metadata or {}
        digests = {
            name: hashlib.new(name, page.body).hexdigest()
            for name in HASH_ALGORITHMS & set(expected)
        }
        mismatch = hash_mismatch(digests, expected)
        if mismatch is not None:
            raise FetchError(f"{url} has {mismatch} (the index advertises it)")
        return page.body
