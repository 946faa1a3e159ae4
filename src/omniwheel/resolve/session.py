"""One resolve/lock run: the HTTP client, sources, metadata and downloads sharing one cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.pylock import Pylock

from omniwheel.files import default_cache_dir
from omniwheel.platforms import Platform
from omniwheel.resolve.config import IndexConfig
from omniwheel.resolve.download import Downloader
from omniwheel.resolve.http import HttpClient
from omniwheel.resolve.lock import build_lock
from omniwheel.resolve.metadata import MetadataFetcher
from omniwheel.resolve.resolver import Resolution, resolve
from omniwheel.resolve.sources import Sources


class Session:
    """Resolve, lock and download through one configuration; close it (or use ``with``)."""

    def __init__(
        self,
        config: IndexConfig,
        *,
        cache_dir: Path | None = None,
        offline: bool = False,
        workers: int = 8,
    ) -> None:
        self.config = config
        self.cache_dir = cache_dir or default_cache_dir()
        self.workers = workers
        self.http = HttpClient(self.cache_dir, offline=offline)
        self.sources = Sources(config, self.http)
        self.metadata = MetadataFetcher(self.http, self.cache_dir)
        self.downloader = Downloader(self.http, workers)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def resolve(
        self, requirements: Sequence[str], platform: Platform, constraints: Sequence[str] = ()
    ) -> Resolution:
        return resolve(
            requirements,
            platform,
            self.sources,
            self.metadata,
            constraints=constraints,
            workers=self.workers,
        )

    def lock(
        self,
        requirements: Sequence[str],
        platforms: Sequence[Platform],
        *,
        constraints: Sequence[str] = (),
        lock_dir: Path,
    ) -> tuple[Pylock, list[Resolution]]:
        """Resolve for every platform and merge the results into one lock."""
        resolutions = [self.resolve(requirements, p, constraints) for p in platforms]
        return build_lock(resolutions, self.downloader.sha256, lock_dir), resolutions
