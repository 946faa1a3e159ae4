"""HTTP for indexes: an on-disk cache that revalidates, retries with backoff, offline mode.

Index pages are cached with their validators (ETag, Last-Modified) and reused
without a request while ``Cache-Control: max-age`` says they are fresh; files
are cached by their sha256, which never changes for a published file.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from omniwheel import __version__
from omniwheel.errors import OmniwheelError
from omniwheel.files import atomic_output, write_atomic

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CHUNK = 1 << 16
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


class FetchError(OmniwheelError):
    """A URL that could not be fetched (after retries), or a file whose hash is wrong."""


@dataclass(frozen=True)
class Page:
    """A fetched index page: its bytes, content type and final URL (after redirects)."""

    body: bytes
    content_type: str
    url: str


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fresh(meta: Mapping[str, Any], now: float) -> bool:
    control = str(meta.get("cache-control") or "")
    if "no-cache" in control.lower():
        return False
    match = _MAX_AGE.search(control)
    return match is not None and now - float(meta["stored"]) < int(match.group(1))


class HttpClient:
    """One connection pool with a disk cache; thread-safe for concurrent downloads."""

    def __init__(
        self,
        cache_dir: Path,
        *,
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
        self._client = httpx.Client(
            follow_redirects=True,
            timeout=timeout,
            headers={"User-Agent": f"omniwheel/{__version__}"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    def close(self) -> None:
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
        for attempt in range(self.retries + 1):
            delay = self.backoff * 2**attempt
            try:
                request = self._client.build_request(method, url, headers=dict(headers))
                response = self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise FetchError(f"cannot fetch {url}: {exc}") from exc
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
        meta: dict[str, Any] | None = None
        if meta_path.is_file() and body_path.is_file():
            meta = json.loads(meta_path.read_text())
        now = time.time()
        if meta is not None and (self.offline or _fresh(meta, now)):
            if meta.get("status") == 404:
                return None
            return Page(body_path.read_bytes(), meta["content-type"], meta["url"])
        headers = {"Accept": accept}
        if meta is not None and meta.get("status") != 404:
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last-modified"):
                headers["If-Modified-Since"] = meta["last-modified"]
        response = self._request("GET", url, headers)
        if response.status_code == 304 and meta is not None:
            meta["stored"] = now
            write_atomic(meta_path, json.dumps(meta).encode())
            return Page(body_path.read_bytes(), meta["content-type"], meta["url"])
        if response.status_code == 404:
            self._remember(meta_path, response, now, url)
            return None
        if response.status_code != 200:
            raise FetchError(f"{url} answered HTTP {response.status_code}; expected 200")
        page = Page(response.content, response.headers.get("content-type", ""), str(response.url))
        if "no-store" not in response.headers.get("cache-control", "").lower():
            write_atomic(body_path, page.body)
            self._remember(meta_path, response, now, page.url)
        return page

    def _remember(self, meta_path: Path, response: httpx.Response, now: float, url: str) -> None:
        meta = {
            "url": url,
            "status": response.status_code,
            "content-type": response.headers.get("content-type", ""),
            "etag": response.headers.get("etag"),
            "last-modified": response.headers.get("last-modified"),
            "cache-control": response.headers.get("cache-control"),
            "stored": now,
        }
        write_atomic(meta_path, json.dumps(meta).encode())

    def get_range(self, url: str, start: int, end: int | None) -> tuple[bytes, int | None]:
        """Bytes ``start..end`` (inclusive), or the last ``-start`` bytes when ``end`` is None.

        Returns the bytes and the file's total size from Content-Range; a server that
        ignores ranges answers 200 with the whole file, returned with total ``None``.
        """
        spec = f"bytes={start}" if end is None else f"bytes={start}-{end}"
        response = self._request("GET", url, {"Range": spec, "Accept-Encoding": "identity"})
        if response.status_code == 200:
            return response.content, None
        if response.status_code != 206:
            raise FetchError(f"{url} answered HTTP {response.status_code} to a range request")
        total = response.headers.get("content-range", "").rpartition("/")[2]
        return response.content, int(total) if total.isdigit() else None

    def cached_file(self, filename: str, sha256: str | None, url: str) -> Path:
        """Where a downloaded file lives in the cache (content-addressed when hashed)."""
        folder = sha256 if sha256 else "url-" + _key(url)
        return self._files / folder[:2] / folder / filename

    def download(
        self,
        url: str,
        filename: str,
        sha256: str | None,
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """The file from the cache, or fetched (streamed, sha256-checked) into it."""
        target = self.cached_file(filename, sha256, url)
        if target.is_file():
            if progress is not None:
                progress(target.stat().st_size)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        response = self._request("GET", url, {"Accept-Encoding": "identity"}, stream=True)
        try:
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}; expected 200")
            with atomic_output(target) as handle:
                for chunk in response.iter_raw(_CHUNK):
                    hasher.update(chunk)
                    handle.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
                if sha256 is not None and hasher.hexdigest() != sha256:
                    raise FetchError(
                        f"{filename} from {url} has sha256 {hasher.hexdigest()}, expected "
                        f"{sha256}: refusing a file that changed or was corrupted"
                    )
        except httpx.TransportError as exc:
            raise FetchError(f"download of {url} broke off: {exc}") from exc
        finally:
            response.close()
        return target

    def store_file(self, filename: str, sha256: str, data: bytes) -> Path:
        """Keep a whole file fetched for another reason (a range request answered in full)."""
        target = self.cached_file(filename, sha256, "")
        if hashlib.sha256(data).hexdigest() == sha256 and not target.is_file():
            write_atomic(target, data)
        return target
