"""Files under the index root, written so that no reader ever sees half of one.

Every new wheel is written in ``tmp/`` (one staging directory per writer, named
after its process), flushed to disk, then hard-linked into place: a link
either appears whole or not at all, and never replaces an existing file, so two
workers racing for the same filename cannot overwrite each other. Small files
written whole (configuration, extracted metadata, cached pages) go through
``omniwheel.files.write_atomic`` instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from omniwheel.files import write_atomic
from omniwheel.index.config import CONFIG_NAME, default_config_text

DATABASE_NAME = "index.sqlite3"
_CHUNK = 1 << 20


class Storage:
    """The layout of an index root: ``files/<project>/``, ``tmp/``, ``quarantine/``, ``mirror/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "files"
        self.tmp = root / "tmp"
        self.quarantine = root / "quarantine"
        self.mirror = root / "mirror"
        self.database = root / DATABASE_NAME

    def create(self) -> None:
        """Make the directories and the commented default configuration, once."""
        for directory in (self.files, self.tmp, self.quarantine, self.mirror):
            directory.mkdir(parents=True, exist_ok=True)
        config = self.root / CONFIG_NAME
        if not config.exists():
            write_atomic(config, default_config_text().encode())

    def file_path(self, project: str, filename: str) -> Path:
        return self.files / project / filename

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh private directory in ``tmp/``, removed afterwards whatever happens."""
        directory = self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}"
        directory.mkdir(parents=True)
        try:
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def stale_staging(self) -> list[Path]:
        """Staging directories whose writing process is gone (a crash mid-upload)."""
        stale = []
        for entry in self.tmp.iterdir() if self.tmp.is_dir() else ():
            pid_text = entry.name.split("-", 1)[0]
            if not pid_text.isdigit() or not process_alive(int(pid_text)):
                stale.append(entry)
        return stale

    def to_quarantine(self, path: Path) -> Path:
        """Move a file nobody vouches for out of sight, keeping its bytes."""
        self.quarantine.mkdir(parents=True, exist_ok=True)
        target = self.quarantine / f"{secrets.token_hex(4)}-{path.name}"
        path.replace(target)
        return target


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (our own process counts as gone: it is not writing anything)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_path(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def publish(staged: Path, final: Path) -> None:
    """Link a fully written file into place; ``FileExistsError`` if something is there.

    The staged copy is flushed first and the directory after, so the name never
    points at bytes that are not on disk.
    """
    fsync_path(staged)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.link(staged, final)
    fsync_path(final.parent)


def copy_hashed(source: BinaryIO, target: Path) -> tuple[str, int]:
    """Copy a stream into ``target`` in bounded memory; its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as stream:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            stream.write(chunk)
    return digest.hexdigest(), size
