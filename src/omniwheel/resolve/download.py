"""Getting wheels onto local disk, hash-checked, several at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from omniwheel.files import file_sha256
from omniwheel.resolve.http import FetchError, HttpClient
from omniwheel.resolve.lock import LockedWheel
from omniwheel.resolve.simple import IndexFile
from omniwheel.resolve.sources import local_path

Progress = Callable[[int], None]


class Downloader:
    """Local paths for locked wheels: local files checked in place, remote ones cached."""

    def __init__(self, http: HttpClient, workers: int = 8) -> None:
        self.http = http
        self.workers = workers

    def sha256(self, file: IndexFile) -> str:
        """The file's sha256: from the index, else computed (a remote file is downloaded
        into the cache under that digest, where the install finds it)."""
        if file.sha256:
            return file.sha256
        path = local_path(file.url)
        if path is None:
            return self.http.sha256_of(file.url, file.filename, file.hashes)
        return file_sha256(path)

    def fetch(self, wheel: LockedWheel, progress: Progress | None = None) -> Path:
        """The wheel on local disk, its bytes matching the lock's sha256 (else ``FetchError``).

        A download is checked while it streams (and a cache hit re-hashed) by the
        HTTP client; a local file is hashed here.
        """
        path = local_path(wheel.location)
        if path is None:
            return self.http.download(
                wheel.location, wheel.filename, {"sha256": wheel.sha256}, progress
            )
        if not path.is_file():
            raise FetchError(f"{wheel.filename}: {path} does not exist (the lock points there)")
        if progress is not None:
            progress(path.stat().st_size)
        digest = file_sha256(path)
        if digest != wheel.sha256:
            raise FetchError(
                f"{wheel.filename} at {wheel.location} has sha256 {digest}, but the lock says "
                f"{wheel.sha256}: refusing to install it"
            )
        return path

    def fetch_all(
        self, wheels: Sequence[LockedWheel], progress: Progress | None = None
    ) -> list[Path]:
        """Every wheel (concurrently), in the order given."""
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda wheel: self.fetch(wheel, progress), wheels))
