"""A read-through mirror of an upstream simple index, cached per project page and per file.

Project pages are fetched (PEP 691 JSON preferred, PEP 503 HTML understood),
kept under ``mirror/pages/`` and reused for ``upstream_ttl`` seconds; files are
downloaded on first request into ``mirror/files/``, checked against the
upstream's sha256, and served from there ever after. When the upstream cannot
be reached the cache answers, whatever its age.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import httpx

from omniwheel.index.config import IndexConfig
from omniwheel.index.simple import HTML_V1, JSON_V1, TEXT_HTML, Link
from omniwheel.index.storage import Storage, publish, write_atomic

_ACCEPT = f"{JSON_V1}, {HTML_V1};q=0.2, {TEXT_HTML};q=0.1"


class UpstreamUnavailableError(Exception):
    """The upstream cannot be reached and nothing is cached."""


@dataclass(frozen=True)
class UpstreamFile:
    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    yank_reason: str | None
    yanked: bool
    size: int | None
    upload_time: float | None


@dataclass(frozen=True)
class UpstreamPage:
    fetched: float
    files: tuple[UpstreamFile, ...]

    def links(self, base: str, project: str, exclude: set[str]) -> list[Link]:
        """The files as this index lists them: served through ``/mirror/``, not from upstream."""
        return [_link(base, project, item) for item in self.files if item.filename not in exclude]


def _link(base: str, project: str, item: UpstreamFile) -> Link:
    return Link(
        filename=item.filename,
        url=f"{base}/mirror/{project}/{item.filename}",
        sha256=item.sha256,
        requires_python=item.requires_python,
        yanked=item.yanked,
        yank_reason=item.yank_reason,
        metadata_sha256=None,
        size=item.size,
        upload_time=item.upload_time,
    )


class Mirror:
    def __init__(self, config: IndexConfig, storage: Storage, client: httpx.AsyncClient) -> None:
        self.base = config.upstream.rstrip("/") + "/"
        self.ttl = config.upstream_ttl
        self.storage = storage
        self.client = client
        self.pages = storage.mirror / "pages"
        self.files = storage.mirror / "files"

    def _page_path(self, project: str) -> Path:
        return self.pages / f"{project}.json"

    def _cached(self, project: str) -> UpstreamPage | None:
        try:
            document = json.loads(self._page_path(project).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = tuple(UpstreamFile(**item) for item in document["files"])
        return UpstreamPage(document["fetched"], files)

    async def page(self, project: str) -> UpstreamPage | None:
        """The upstream's files for ``project`` (None when upstream has no such project)."""
        cached = self._cached(project)
        if cached is not None and time.time() - cached.fetched < self.ttl:
            return cached
        url = f"{self.base}{project}/"
        try:
            response = await self.client.get(url, headers={"Accept": _ACCEPT})
        except httpx.HTTPError as exc:
            return _fallback(cached, f"{url}: {exc}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            return _fallback(cached, f"{url} answered {response.status_code}")
        final_url = str(response.url)
        media = response.headers.get("content-type", "").split(";")[0].strip()
        try:
            if media == JSON_V1:
                files = _from_json(final_url, response.json())
            else:
                files = _from_html(final_url, response.text)
        except (ValueError, KeyError, TypeError) as exc:
            return _fallback(cached, f"{url}: unreadable page ({exc})")
        page = UpstreamPage(time.time(), files)
        document = {"fetched": page.fetched, "files": [asdict(item) for item in files]}
        write_atomic(self._page_path(project), json.dumps(document).encode(), self.storage.tmp)
        return page

    async def file(self, project: str, filename: str) -> Path | None:
        """The cached copy of an upstream file, downloaded and hash-checked on first use."""
        target = self.files / project / filename
        if target.is_file():
            return target
        page = await self.page(project)
        found = next((f for f in page.files if f.filename == filename), None) if page else None
        if found is None:
            return None
        with self.storage.staging() as staging:
            staged = staging / filename
            digest = hashlib.sha256()
            try:
                async with self.client.stream("GET", found.url) as response:
                    if response.status_code != 200:
                        raise UpstreamUnavailableError(
                            f"{found.url} answered {response.status_code}"
                        )
                    with staged.open("wb") as stream:
                        async for chunk in response.aiter_bytes(1 << 20):
                            digest.update(chunk)
                            stream.write(chunk)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailableError(f"{found.url}: {exc}") from exc
            if found.sha256 and digest.hexdigest() != found.sha256:
                raise UpstreamUnavailableError(
                    f"{found.url} has sha256 {digest.hexdigest()}, upstream lists {found.sha256}"
                )
            with contextlib.suppress(FileExistsError):  # another request cached it first
                publish(staged, target)
        return target


def _fallback(cached: UpstreamPage | None, problem: str) -> UpstreamPage:
    if cached is None:
        raise UpstreamUnavailableError(f"upstream unavailable and nothing cached: {problem}")
    return cached


def _from_json(base: str, document: dict[str, object]) -> tuple[UpstreamFile, ...]:
    files = document["files"]
    if not isinstance(files, list):
        raise TypeError("'files' is not a list")
    result = []
    for item in files:
        yanked = item.get("yanked", False)
        upload_time = item.get("upload-time")
        result.append(
            UpstreamFile(
                filename=item["filename"],
                url=urljoin(base, item["url"]),
                sha256=item.get("hashes", {}).get("sha256"),
                requires_python=item.get("requires-python"),
                yanked=bool(yanked),
                yank_reason=yanked if isinstance(yanked, str) else None,
                size=item.get("size"),
                upload_time=datetime.fromisoformat(upload_time).timestamp()
                if upload_time
                else None,
            )
        )
    return tuple(result)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def _from_html(base: str, text: str) -> tuple[UpstreamFile, ...]:
    parser = _Anchors()
    parser.feed(text)
    result = []
    for attributes, label in parser.anchors:
        href = attributes.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(base, href))
        algorithm, _, value = fragment.partition("=")
        yank = attributes.get("data-yanked")
        result.append(
            UpstreamFile(
                filename=label or url.rsplit("/", 1)[-1],
                url=url,
                sha256=value if algorithm == "sha256" else None,
                requires_python=attributes.get("data-requires-python"),
                yanked="data-yanked" in attributes,
                yank_reason=yank or None,
                size=None,
                upload_time=None,
            )
        )
    return tuple(result)
