"""One resolve/lock run: the HTTP client, sources, metadata and downloads sharing one cache."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from packaging.pylock import Pylock

from omniwheel.errors import UsageError
from omniwheel.files import default_cache_dir
from omniwheel.platforms import Platform
from omniwheel.resolve.config import IndexConfig
from omniwheel.resolve.download import Downloader
from omniwheel.resolve.http import HttpClient, split_credentials
from omniwheel.resolve.lock import build_lock
from omniwheel.resolve.metadata import MetadataFetcher
from omniwheel.resolve.resolver import HashPins, Resolution, resolve
from omniwheel.resolve.sources import Sources, local_path


def _check_indexes(urls: Sequence[str]) -> None:
    """One clear line for an index that cannot be one, before anything is fetched."""
    for url in urls:
        try:
            path = local_path(url)
        except ValueError as exc:  # urlsplit: a malformed host (``http://[::1/simple``)
            shown = re.sub(r"//[^/@]*@", "//****@", url)
            raise UsageError(f"index URL {shown} is not a valid URL ({exc})") from None
        if path is not None and not path.is_dir():
            raise UsageError(f"index {url} is neither an http(s) URL nor an existing directory")


class Session:
    """Resolve, lock and download through one configuration; close it (or use ``with``).

    Credentials in the configured URLs are taken out of them here and given to the
    HTTP client by host: nothing downstream (pages, locks, errors) sees them.
    """

    def __init__(
        self,
        config: IndexConfig,
        *,
        cache_dir: Path | None = None,
        offline: bool = False,
        workers: int = 8,
    ) -> None:
        _check_indexes(config.index_urls)
        urls, credentials = split_credentials([*config.index_urls, *config.find_links])
        indexes = len(config.index_urls)
        self.config = config._replace(
            index_urls=tuple(urls[:indexes]), find_links=tuple(urls[indexes:])
        )
        self.cache_dir = cache_dir or default_cache_dir()
        if self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise UsageError(f"cache directory {self.cache_dir} is a file; give a directory")
        self.workers = workers
        self.http = HttpClient(self.cache_dir, credentials=credentials, offline=offline)
        self.sources = Sources(self.config, self.http)
        self.metadata = MetadataFetcher(self.http, self.cache_dir)
        self.downloader = Downloader(self.http, workers)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def resolve(
        self,
        requirements: Sequence[str],
        platform: Platform,
        constraints: Sequence[str] = (),
        hash_pins: HashPins | None = None,
    ) -> Resolution:
        return resolve(
            requirements,
            platform,
            self.sources,
            self.metadata,
            constraints=constraints,
            hash_pins=hash_pins,
            workers=self.workers,
        )

    def lock(
        self,
        requirements: Sequence[str],
        platforms: Sequence[Platform],
        *,
        constraints: Sequence[str] = (),
        hash_pins: HashPins | None = None,
        lock_dir: Path,
    ) -> tuple[Pylock, list[Resolution]]:
        """Resolve for every platform and merge the results into one lock."""
        resolutions = [
            self.resolve(requirements, platform, constraints, hash_pins) for platform in platforms
        ]
        return build_lock(resolutions, self.downloader.sha256, lock_dir), resolutions
