"""HTTP for indexes: an on-disk cache that revalidates, retries with backoff, offline mode.

Index pages are cached with their validators (ETag, Last-Modified) and reused
without a request while ``Cache-Control: max-age`` says they are fresh; files
are cached by their sha256 (a file listed unhashed is filed under the digest it
turns out to have), which never changes for a published file. Every hash an index
gives for a file (sha256, or md5 … sha512 as PEP 503 allows) is checked.

Credentials never travel inside URLs here: ``split_credentials`` takes them out of
the configured index and find-links URLs (so that no page, lock, cache entry or
error message carries them), and every request to such a host is sent with them,
as pip does; other hosts get those ``~/.netrc`` names, if any.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlsplit

from omniwheel.errors import OmniwheelError
from omniwheel.files import atomic_output, file_digests, file_sha256, write_atomic

if TYPE_CHECKING:  # httpx is loaded with the client, on the first request
    import httpx

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1 << 16
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
#: The hash algorithms an index may give for a file (PEP 503: any of hashlib's
#: guaranteed ones; these are the ones pip checks). Each one given is verified.
HASH_ALGORITHMS = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
#: A username and password for basic authentication.
Credentials = tuple[str, str]


class FetchError(OmniwheelError):
    """A URL that could not be fetched (after retries), or a file whose hash is wrong."""


class ByteRange(NamedTuple):
    """Part of a remote file, and the whole file's size (from Content-Range)."""

    data: bytes
    total: int


class Page(NamedTuple):
    """A fetched index page: its bytes, content type and final URL (after redirects)."""

    body: bytes
    content_type: str
    url: str


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read_meta(path: Path) -> dict[str, Any] | None:
    """A cached page's metadata; ``None`` (a miss) if a crash left it unreadable: page
    entries are written without fsync."""
    try:
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _read_body(path: Path, meta: Mapping[str, Any]) -> bytes | None:
    """A cached page body, if it is there and its sha256 is the one its metadata records."""
    try:
        body = path.read_bytes()
    except OSError:
        return None
    return body if hashlib.sha256(body).hexdigest() == meta.get("sha256") else None


def _fresh(meta: Mapping[str, Any], now: float) -> bool:
    control = str(meta.get("cache-control") or "")
    if "no-cache" in control.lower():
        return False
    match = _MAX_AGE.search(control)
    return match is not None and now - float(meta["stored"]) < int(match.group(1))


def _algorithms(expected: Mapping[str, str]) -> list[str]:
    """sha256 (files are cached under it) and each other algorithm ``expected`` gives."""
    return sorted({"sha256"} | (HASH_ALGORITHMS & set(expected)))


def hash_mismatch(digests: Mapping[str, str], expected: Mapping[str, str]) -> str | None:
    """``"<algorithm> <got>, expected <want>"`` for the first expected hex digest that
    ``digests`` contradicts."""
    for name, digest in digests.items():
        want = expected.get(name)
        if want is not None and digest != want.lower():
            return f"{name} {digest}, expected {want}"
    return None


#: The port a URL means when it names none: a default port written out is the same host.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_key(scheme: str, host: str, port: int | None) -> str:
    """The host and port a request goes to, as credentials are filed under."""
    return host.lower() if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host.lower()}:{port}"


def split_credentials(urls: Iterable[str]) -> tuple[list[str], dict[str, Credentials]]:
    """The URLs without their ``user:password@``, and those credentials by host."""
    clean: list[str] = []
    found: dict[str, Credentials] = {}
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.username is not None:
            host = host_key(parts.scheme, parts.hostname or "", parts.port)
            found.setdefault(host, (unquote(parts.username), unquote(parts.password or "")))
            netloc = parts.netloc.rpartition("@")[2]
            url = parts._replace(netloc=netloc).geturl()
        clean.append(url)
    return clean, found


class HttpClient:
    """One connection pool with a disk cache; thread-safe for concurrent downloads."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        credentials: Mapping[str, Credentials] | None = None,
        offline: bool = False,
        retries: int = 4,
        backoff: float = 0.25,
        timeout: float = 60.0,
    ) -> None:
        self.cache_dir = cache_dir
        self.offline = offline
        self.retries = retries
        self.backoff = backoff
        self._pages = cache_dir / "http"
        self._files = cache_dir / "files"
        #: The sha256 of each file fetched in this run, by URL (for files listed unhashed).
        self._digests: dict[str, str] = {}
        self._credentials = dict(credentials or {})
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    def _http(self) -> httpx.Client:
        """The HTTP client, made on the first request: a warm run whose pages are all fresh
        (``Cache-Control: max-age``) makes none, and loading httpx costs it ~30 ms."""
        with self._client_lock:
            if self._client is None:
                from omniwheel.resolve.transport import new_client

                self._client = new_client(self._credentials, self._timeout)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _request(
        self, method: str, url: str, headers: Mapping[str, str], *, stream: bool = False
    ) -> httpx.Response:
        """Send with retries on connection errors and 429/5xx (honouring Retry-After)."""
        if self.offline:
            raise FetchError(f"{url} is not in the cache and --offline forbids fetching it")
        import httpx  # loaded by ``_http``

        client = self._http()
        for attempt in range(self.retries + 1):
            delay = self.backoff * 2**attempt
            try:
                request = client.build_request(method, url, headers=dict(headers))
                response = client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise FetchError(f"cannot fetch {url}: {exc}") from exc
            except httpx.TooManyRedirects as exc:
                raise FetchError(f"{url} redirects in a loop ({exc})") from exc
            except httpx.InvalidURL as exc:
                raise FetchError(f"{url} is not a valid URL ({exc})") from exc
            else:
                if response.status_code not in _RETRY_STATUS or attempt == self.retries:
                    return response
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = min(float(retry_after), 30.0)
                response.close()
            time.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def get_page(self, url: str, accept: str) -> Page | None:
        """An index page through the cache; ``None`` when the index answers 404 (no project)."""
        key = _key(f"{accept}\n{url}")
        meta_path = self._pages / f"{key}.json"
        body_path = self._pages / f"{key}.body"
        meta = _read_meta(meta_path) if meta_path.is_file() else None
        body = b""
        if meta is not None and meta.get("status") != 404:
            cached = _read_body(body_path, meta)
            meta, body = (None, b"") if cached is None else (meta, cached)
        now = time.time()
        if meta is not None and (self.offline or _fresh(meta, now)):
            if meta.get("status") == 404:
                return None
            return Page(body, meta["content-type"], meta["url"])
        headers = {"Accept": accept}
        if meta is not None and meta.get("status") != 404:
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last-modified"):
                headers["If-Modified-Since"] = meta["last-modified"]
        response = self._request("GET", url, headers)
        if response.status_code == 304 and meta is not None:
            if _MAX_AGE.search(str(meta.get("cache-control") or "")):
                # Fresh again for max-age from now; without max-age nothing to record.
                meta["stored"] = now
                write_atomic(meta_path, json.dumps(meta).encode(), durable=False)
            return Page(body, meta["content-type"], meta["url"])
        if response.status_code == 404:
            self._remember(meta_path, response, now, url, b"")
            return None
        if response.status_code != 200:
            raise FetchError(f"{url} answered HTTP {response.status_code}; expected 200")
        page = Page(response.content, response.headers.get("content-type", ""), str(response.url))
        if "no-store" not in response.headers.get("cache-control", "").lower():
            write_atomic(body_path, page.body, durable=False)
            self._remember(meta_path, response, now, page.url, page.body)
        return page

    def _remember(
        self, meta_path: Path, response: httpx.Response, now: float, url: str, body: bytes
    ) -> None:
        """Cache a response's metadata, with the body's sha256 (entries are written without
        fsync: a body a crash left torn must not be served)."""
        meta = {
            "url": url,
            "status": response.status_code,
            "content-type": response.headers.get("content-type", ""),
            "etag": response.headers.get("etag"),
            "last-modified": response.headers.get("last-modified"),
            "cache-control": response.headers.get("cache-control"),
            "stored": now,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        write_atomic(meta_path, json.dumps(meta).encode(), durable=False)

    def get_range(
        self, url: str, start: int, end: int | None, filename: str, hashes: Mapping[str, str]
    ) -> ByteRange | Path:
        """Bytes ``start..end`` (inclusive), or the last ``-start`` bytes when ``end`` is None.

        A server that ignores ranges answers 200 with the whole file: it is streamed
        into the cache (as ``download`` would, checked against ``hashes``) and its path
        returned instead.
        """
        import httpx  # loaded by ``_request``

        spec = f"bytes={start}" if end is None else f"bytes={start}-{end}"
        headers = {"Range": spec, "Accept-Encoding": "identity"}
        response = self._request("GET", url, headers, stream=True)
        try:
            if response.status_code == 200:
                return self._save(response, url, filename, hashes, None)[0]
            if response.status_code != 206:
                raise FetchError(f"{url} answered HTTP {response.status_code} to a range request")
            total = response.headers.get("content-range", "").rpartition("/")[2]
            if not total.isdigit():
                raise FetchError(f"{url} answered a range request without the file's size")
            return ByteRange(response.read(), int(total))
        except httpx.TransportError as exc:
            raise FetchError(f"range request to {url} broke off: {exc}") from exc
        finally:
            response.close()

    def cached_file(self, filename: str, sha256: str) -> Path:
        """Where a downloaded file lives in the cache: under its sha256."""
        return self._files / sha256[:2] / sha256 / filename

    def download(
        self,
        url: str,
        filename: str,
        hashes: Mapping[str, str],
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """The file from the cache (re-hashed: a cache can rot), or fetched (streamed,
        checked against every hash in ``hashes`` while it arrives) into it."""
        sha256 = hashes.get("sha256") or self._digests.get(url)
        if sha256 is not None:
            cached = self.cached_file(filename, sha256)
            if cached.is_file():
                expected = {**hashes, "sha256": sha256}
                others = _algorithms(expected)
                digests = (
                    {"sha256": file_sha256(cached)}  # the usual case: hashlib's own loop
                    if others == ["sha256"]
                    else file_digests(cached, others)
                )
                if hash_mismatch(digests, expected) is None:
                    if progress is not None:
                        progress(cached.stat().st_size)
                    return cached
        return self._fetch(url, filename, hashes, progress)[0]

    def sha256_of(self, url: str, filename: str, hashes: Mapping[str, str]) -> str:
        """The sha256 of a file its index lists without one: fetched once into the cache
        (and checked against the hashes it is listed with)."""
        known = self._digests.get(url)
        if known is not None and self.cached_file(filename, known).is_file():
            return known
        return self._fetch(url, filename, hashes, None)[1]

    def _fetch(
        self,
        url: str,
        filename: str,
        hashes: Mapping[str, str],
        progress: Callable[[int], None] | None,
    ) -> tuple[Path, str]:
        import httpx  # loaded by ``_request``

        response = self._request("GET", url, {"Accept-Encoding": "identity"}, stream=True)
        try:
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}; expected 200")
            return self._save(response, url, filename, hashes, progress)
        except httpx.TransportError as exc:
            raise FetchError(f"download of {url} broke off: {exc}") from exc
        finally:
            response.close()

    def _save(
        self,
        response: httpx.Response,
        url: str,
        filename: str,
        hashes: Mapping[str, str],
        progress: Callable[[int], None] | None,
    ) -> tuple[Path, str]:
        """Stream a 200 response's body into the cache, hashing it on the way; the file is
        filed under the sha256 it turned out to have (every hash in ``hashes`` checked)."""
        hashers = {name: hashlib.new(name) for name in _algorithms(hashes)}
        staging = self._files / "incoming" / f"{uuid.uuid4().hex}-{filename}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(staging) as handle:
            for chunk in response.iter_raw(_CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
                handle.write(chunk)
                if progress is not None:
                    progress(len(chunk))
            digests = {name: hasher.hexdigest() for name, hasher in hashers.items()}
            mismatch = hash_mismatch(digests, hashes)
            if mismatch is not None:
                raise FetchError(
                    f"{filename} from {url} has {mismatch}: refusing a file that changed "
                    "or was corrupted"
                )
            digest = digests["sha256"]
        target = self.cached_file(filename, digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(target)
        self._digests[url] = digest
        return target, digest
