"""Files on disk: atomic writes (readers see the old content or the new, never a torn file),
content hashes and where the caches live, shared by every cache and output of the project."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_output(path: Path, mode: int = 0o644, *, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a temporary file beside ``path``; on success fsync it and rename it into place.

    On any error the temporary file is removed and ``path`` is untouched, so an
    interrupted rewrite can never leave a half-written wheel where a good one was.
    ``durable=False`` skips the fsyncs, for caches whose entries can be fetched again
    (readers must then treat an unreadable entry as missing): each fsync costs
    milliseconds, and an index page is cached on every resolve.
    """
    directory = path.parent
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            if durable:
                os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if not durable:
        return
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """``data`` into ``path`` (its directory created) through ``atomic_output``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, durable=durable) as handle:
        handle.write(data)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks (wheels and sdists can be large)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def file_digests(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """The hex digests of a file under each of ``algorithms``, in one streamed pass."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/omniwheel`` (``~/.cache/omniwheel``): downloads, pages, metadata."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "omniwheel"
