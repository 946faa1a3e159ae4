"""Installed images: each wheel unpacked once, in a layout's final form, then placed by
copying or hard-linking its files.

Unpacking (decompressing, hashing, writing RECORD, making frameworks) is the
costly part of an install and its result depends only on the wheel's bytes and
the layout's settings, so it is done once per wheel sha256 into
``<cache>/images/`` and every later install only places files. A hard link shares
the cache's inode (as uv's ``--link-mode hardlink``): editing an installed file
would edit the cached image, so placing never writes through an existing file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from omniwheel import __version__

#: Bump when an image built from the same inputs would differ. 2: ios-app moves shipped
#: .dylib files into frameworks; 3: POSIX scripts start ``#!/usr/bin/env python3``, RECORD
#: paths have no ``./``, Pyodide imports include ``.data/purelib`` and ``.data/platlib``.
_FORMAT = "3"


class LinkMode(StrEnum):
    """How an image's files reach the install directory (uv's ``--link-mode`` names)."""

    COPY = "copy"
    HARDLINK = "hardlink"


def image_key(*parts: str) -> str:
    """A cache key for an image from everything that shapes it (wheel sha256, layout, …)."""
    text = "\0".join((_FORMAT, __version__, *parts))
    return hashlib.sha256(text.encode()).hexdigest()


class ImageCache:
    """Images under one directory, each built once, atomically (a crash leaves none)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str, build: Callable[[Path], None]) -> Path:
        """The image for ``key``, made by ``build(directory)`` if it is not cached yet."""
        final = self.root / key[:2] / key
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        try:
            build(staging)
            staging.rename(final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not final.is_dir():  # not another install finishing the same image first
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final


#: A file to place: an image file's path (a string: thousands are placed per install, and
#: building ``Path`` objects for them costs more than linking them), or bytes to write.
Source = str | bytes


class Executable(bytes):
    """Bytes to place as an executable file (a universal binary joined at install time, which
    must be as executable as the slices it joins)."""


def image_files(image: Path) -> dict[str, str]:
    """Every file of an image (its path) by its path relative to the image (``/``-separated)."""
    files: dict[str, str] = {}
    pending = [("", str(image))]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((relative + "/", entry.path))
                else:
                    files[relative] = entry.path
    return files


class Placer:
    """Puts files under an install directory by copy or hard link, never writing into an
    existing file (it may be a hard link into the cache): an existing one is replaced."""

    def __init__(self, into: Path, mode: LinkMode) -> None:
        self.into = into
        self.link = mode is LinkMode.HARDLINK

    def make_directories(self, relatives: Iterable[str]) -> None:
        """Create the parent directories of files to place (once, before any thread places)."""
        parents = {relative.rpartition("/")[0] for relative in relatives}
        for parent in sorted(parents):
            (self.into / parent).mkdir(parents=True, exist_ok=True)

    def place(self, files: Mapping[str, Source]) -> None:
        """Each file at its relative path, its directory already made by ``make_directories``.

        A wheel's RECORD goes first: an install cut short then leaves only files that
        RECORD lists, which the next install replaces instead of refusing them as the
        user's own."""
        into = str(self.into)
        records = [relative for relative in files if relative.endswith(".dist-info/RECORD")]
        rest = (relative for relative in files if not relative.endswith(".dist-info/RECORD"))
        for relative in chain(records, rest):
            source = files[relative]
            target = f"{into}/{relative}"
            try:
                self._place(source, target)
            except FileExistsError:  # an earlier install's file, or a link into the cache
                Path(target).unlink(missing_ok=True)
                self._place(source, target)

    def _place(self, source: Source, target: str) -> None:
        if isinstance(source, bytes):
            with _create(target, 0o777 if isinstance(source, Executable) else 0o666) as handle:
                handle.write(source)
            return
        if self.link:
            try:
                os.link(source, target)
                return
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM):
                    raise
                self.link = False  # another device (or no links allowed): copy from now on
        _copy(source, target)


def _create(path: str, mode: int) -> BinaryIO:
    """A new file opened for writing; ``FileExistsError`` if ``path`` exists."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb")


def _copy(source: str, target: str) -> None:
    """Copy file contents and permission bits into a new file (raw descriptors: creating
    the file costs most, so nothing else per file should)."""
    source_fd = os.open(source, os.O_RDONLY)
    try:
        status = os.fstat(source_fd)
        target_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(target_fd, status.st_mode & 0o7777)  # the image's bits, whatever umask
            offset = 0
            try:
                while offset < status.st_size:
                    sent = os.sendfile(target_fd, source_fd, offset, status.st_size - offset)
                    if sent == 0:
                        break
                    offset += sent
            except OSError:  # no sendfile between files here (not Linux): read and write
                os.lseek(target_fd, offset, os.SEEK_SET)
                while chunk := os.pread(source_fd, 1 << 20, offset):
                    os.write(target_fd, chunk)
                    offset += len(chunk)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)
