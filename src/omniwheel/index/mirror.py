"""A read-through mirror of an upstream simple index, cached per project page and per file.

Project pages are fetched (PEP 691 JSON preferred, PEP 503 HTML understood, both
read by the resolver's own parser), kept in memory and under ``mirror/pages/``,
and reused for ``upstream_ttl`` seconds; files and their PEP 658 metadata are
downloaded on first request into ``mirror/files/``, checked against the
upstream's sha256, and served from there ever after. When the upstream cannot
be reached the cache answers, whatever its age.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import anyio.to_thread
import httpx

from omniwheel.files import write_atomic
from omniwheel.index.config import IndexConfig
from omniwheel.index.repository import METADATA_SUFFIX
from omniwheel.index.storage import Storage, publish
from omniwheel.resolve.simple import ACCEPT, IndexFile, IndexFormatError, parse_project_page

#: Project pages kept in memory per worker; the rest are read back from ``mirror/pages/``.
_PAGES_IN_MEMORY = 1024


class UpstreamUnavailableError(Exception):
    """The upstream cannot be reached and nothing is cached."""


@dataclass(frozen=True)
class UpstreamPage:
    fetched: float
    files: tuple[IndexFile, ...]

    def served(self, base: str, project: str, exclude: set[str]) -> list[IndexFile]:
        """The files as this index lists them: served through ``/mirror/``, not from upstream."""
        return [
            replace(file, url=f"{base}/mirror/{project}/{file.filename}")
            for file in self.files
            if file.filename not in exclude
        ]

    def find(self, filename: str) -> IndexFile | None:
        return next((file for file in self.files if file.filename == filename), None)


class Mirror:
    def __init__(self, config: IndexConfig, storage: Storage, client: httpx.AsyncClient) -> None:
        self.base = config.upstream.rstrip("/") + "/"
        self.ttl = config.upstream_ttl
        self.storage = storage
        self.client = client
        self.pages = storage.mirror / "pages"
        self.files = storage.mirror / "files"
        self._memory: OrderedDict[str, UpstreamPage] = OrderedDict()

    def _page_path(self, project: str) -> Path:
        return self.pages / f"{project}.json"

    def _read_cached(self, project: str) -> UpstreamPage | None:
        """The page another worker (or an earlier run) fetched, if any."""
        try:
            document = json.loads(self._page_path(project).read_bytes())
            files = tuple(IndexFile(**item) for item in document["files"])
            return UpstreamPage(float(document["fetched"]), files)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember(self, project: str, page: UpstreamPage) -> UpstreamPage:
        self._memory[project] = page
        self._memory.move_to_end(project)
        while len(self._memory) > _PAGES_IN_MEMORY:
            self._memory.popitem(last=False)
        return page

    async def page(self, project: str) -> UpstreamPage | None:
        """The upstream's files for ``project`` (None when upstream has no such project)."""
        cached = self._memory.get(project)
        if cached is None:
            cached = await anyio.to_thread.run_sync(self._read_cached, project)
        if cached is not None and time.time() - cached.fetched < self.ttl:
            return self._remember(project, cached)
        try:
            page = await self._fetch(project)
        except UpstreamUnavailableError as exc:
            if cached is None:
                message = f"upstream unavailable and nothing cached: {exc}"
                raise UpstreamUnavailableError(message) from exc
            return self._remember(project, cached)
        if page is None:
            return None
        document = {"fetched": page.fetched, "files": [asdict(file) for file in page.files]}
        data = json.dumps(document).encode()
        await anyio.to_thread.run_sync(write_atomic, self._page_path(project), data)
        return self._remember(project, page)

    async def _fetch(self, project: str) -> UpstreamPage | None:
        url = f"{self.base}{project}/"
        try:
            response = await self.client.get(url, headers={"Accept": ACCEPT})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{url}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise UpstreamUnavailableError(f"{url} answered {response.status_code}")
        content_type = response.headers.get("content-type", "")
        try:
            files = parse_project_page(response.content, content_type, str(response.url), self.base)
        except IndexFormatError as exc:
            raise UpstreamUnavailableError(str(exc)) from exc
        return UpstreamPage(time.time(), tuple(files))

    async def file(self, project: str, filename: str) -> Path | None:
        """The cached copy of an upstream file or its PEP 658 metadata, fetched on first use."""
        target = self.files / project / filename
        if target.is_file():
            return target
        page = await self.page(project)
        wheel_name = filename.removesuffix(METADATA_SUFFIX)
        found = page.find(wheel_name) if page else None
        if found is None:
            return None
        if wheel_name == filename:
            await self._download(found.url, found.hashes, target)
        elif found.metadata is not None:
            await self._download(found.url + METADATA_SUFFIX, found.metadata, target)
        else:
            return None
        return target

    async def _download(self, url: str, hashes: Mapping[str, str], target: Path) -> None:
        """Fetch ``url`` into ``target``, refusing bytes whose sha256 is not the one listed."""
        with self.storage.staging() as staging:
            staged = staging / target.name
            digest = hashlib.sha256()
            try:
                async with self.client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise UpstreamUnavailableError(f"{url} answered {response.status_code}")
                    with staged.open("wb") as stream:
                        async for chunk in response.aiter_bytes(1 << 20):
                            digest.update(chunk)
                            stream.write(chunk)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailableError(f"{url}: {exc}") from exc
            expected = hashes.get("sha256")
            if expected and digest.hexdigest() != expected:
                raise UpstreamUnavailableError(
                    f"{url} has sha256 {digest.hexdigest()}, upstream lists {expected}"
                )
            with contextlib.suppress(FileExistsError):  # another request cached it first
                publish(staged, target)
