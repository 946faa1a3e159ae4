"""Safe, streaming access to the zip archive inside a wheel.

Wheels come from strangers, so nothing in a zip header is taken on trust:

* The central directory is parsed by ``zipformat``, which bounds every count,
  size and offset by the bytes present; member data is decoded here, from the
  local header on, so every byte that comes out is counted.
* Opening refuses traversal names (``..``, absolute, drive letters,
  backslashes, NUL), links/devices/FIFOs, duplicates, encryption, compression
  other than stored/deflate, members whose data overlaps the next member (the
  overlapping-file zip bomb) and archives whose declared sizes exceed
  ``Limits``.
* Streaming then enforces that each member yields exactly its declared size and
  CRC — decoding stops with an error at the first byte past the declared size —
  so the declared totals checked at open bound the bytes actually decompressed,
  however the headers lie.
* When a RECORD row is given, the stream hashes as it goes and raises at EOF if
  hash or size disagree.
"""

from __future__ import annotations

import io
import mmap
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from omniwheel.wheel.errors import WheelError
from omniwheel.wheel.record import FileHash, RecordEntry, new_hasher
from omniwheel.wheel.zipformat import (
    DEFLATED,
    FLAG_DATA_DESCRIPTOR,
    FLAG_ENCRYPTED,
    LOCAL,
    LOCAL_SIGNATURE,
    STORED,
    ZIP64_MARKER,
    CentralDirectory,
    CentralEntry,
    ZipFormatError,
    date_time,
    read_central_directory,
)

if TYPE_CHECKING:
    import zlib as inflating

    from _typeshed import WriteableBuffer

    from omniwheel.binaries.base import ReadableBuffer

if not TYPE_CHECKING:
    # python-isal inflates (and CRCs) at over twice zlib's speed, and it releases the GIL as
    # zlib does. It has wheels for the common hosts only, so elsewhere zlib does the work.
    try:
        from isal import isal_zlib as inflating
    except ImportError:
        import zlib as inflating

MiB = 1 << 20
GiB = 1 << 30
_CHUNK = MiB
_DRIVE = re.compile(r"[A-Za-z]:")
_REFUSED_TYPES = {
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


class Limits(NamedTuple):
    """Caps that keep a hostile archive from exhausting disk, memory or time.

    Defaults: 8 GiB of uncompressed data in all (the largest real wheels, CUDA
    libraries, unpack to a few GiB); a compression ratio of at most 200:1 for
    any member larger than 1 MiB (deflate tops out near 1032:1, real binaries
    and text stay far below 200); members up to 32 MiB are handed out as bytes,
    larger ones as an mmap of a spooled temporary file.
    """

    max_total_size: int = 8 * GiB
    max_ratio: int = 200
    ratio_grace: int = 1 * MiB
    in_memory_max: int = 32 * MiB


class MemberInfo(NamedTuple):
    """A member as the central directory declares it (sizes are enforced when read).

    A named tuple: wheels list thousands of members, and it is built for each.
    """

    name: str
    size: int
    compressed_size: int
    is_dir: bool
    mode: int
    """Permission bits from the Unix mode (``0o755`` …), 0 when the archive records none."""


class StoredMember(NamedTuple):
    """A member as stored: where its compressed bytes are and what they must decode to."""

    name: str
    header_offset: int
    data_start: int
    compressed_size: int
    size: int
    crc: int
    method: int
    date_time: tuple[int, int, int, int, int, int]
    external_attr: int
    local_flags: int
    self_contained: bool
    """False when a data descriptor follows the data (the local header holds no sizes)."""

    @property
    def data_end(self) -> int:
        return self.data_start + self.compressed_size


class _Entry(NamedTuple):
    info: CentralEntry
    data_limit: int  # offset the member's data must end by: next header or central directory


def path_problem(name: str) -> str | None:
    """Why extracting this member name could write outside the target directory, if it could."""
    if not name:
        return "has an empty name"
    if "\x00" in name:
        return "has a NUL byte in its name; names must be plain relative paths"
    if "\\" in name:
        return "has a backslash in its name; archive paths use '/' separators"
    if name.startswith("/"):
        return "is an absolute path; archive paths are relative"
    if _DRIVE.match(name):
        return "starts with a drive letter; archive paths are relative"
    if ".." in name.split("/"):
        return "has a '..' component; archive paths must stay inside the target directory"
    return None


def _type_problem(info: CentralEntry) -> str | None:
    """Why this member is not a plain file or directory, if it is not."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind in _REFUSED_TYPES:
        return f"is {_REFUSED_TYPES[kind]}; wheels may only hold regular files"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"has unknown file type {kind:#o}; wheels may only hold regular files"
    if kind == stat.S_IFDIR and not info.name.endswith("/"):
        return "is marked as a directory but its name does not end in '/'"
    if info.name.endswith("/") and info.size:
        return f"is a directory entry holding {info.size} bytes; directories hold none"
    return None


def _storage_problem(info: CentralEntry, limits: Limits) -> str | None:
    """Why this member's encryption, compression or declared sizes are unacceptable."""
    if info.flags & FLAG_ENCRYPTED:
        return "is encrypted; wheels must not be"
    if info.method not in (STORED, DEFLATED):
        return f"uses compression method {info.method}; wheels use stored (0) or deflate (8)"
    if info.method == STORED and info.compressed_size != info.size:
        return (
            f"is stored uncompressed but declares {info.compressed_size} stored bytes "
            f"for {info.size} bytes of content"
        )
    if info.size > limits.ratio_grace and info.size > limits.max_ratio * max(
        info.compressed_size, 1
    ):
        return (
            f"expands {info.compressed_size} bytes to {info.size} "
            f"(more than {limits.max_ratio}:1): refusing a likely zip bomb"
        )
    return None


class WheelArchive:
    """An open wheel zip, checked member by member before anything is read."""

    def __init__(self, path: str | os.PathLike[str], limits: Limits | None = None) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.limits = limits or Limits()
        try:
            self._file = self.path.open("rb")
        except OSError as exc:
            raise WheelError(self.name, f"cannot be opened: {exc.strerror or exc}") from exc
        try:
            self._directory, self._entries = self._read_directory()
        except BaseException:
            self._file.close()
            raise

    def _read_directory(self) -> tuple[CentralDirectory, dict[str, _Entry]]:
        try:
            size = os.fstat(self._file.fileno()).st_size
            directory = read_central_directory(self._read_at, size)
        except (ZipFormatError, OSError) as exc:
            raise WheelError(
                self.name, f"is not a readable zip archive (truncated or corrupt?): {exc}"
            ) from exc

        total = 0
        entries: dict[str, _Entry] = {}
        ordered = sorted(directory.entries, key=lambda info: info.header_offset)
        limits = [info.header_offset for info in ordered[1:]] + [directory.start]
        for info, limit in zip(ordered, limits, strict=True):
            problem = path_problem(info.name) or _type_problem(info)
            problem = problem or _storage_problem(info, self.limits)
            if problem is None and info.name in entries:
                problem = "appears twice in the archive; member names must be unique"
            if problem is None and not (
                info.header_offset + LOCAL.size + len(info.raw_name) + info.compressed_size <= limit
            ):
                problem = "overlaps the next member or the central directory (corrupt or zip bomb)"
            if problem is not None:
                raise WheelError(self.name, problem, info.name)
            total += info.size
            entries[info.name] = _Entry(info, limit)
        if total > self.limits.max_total_size:
            raise WheelError(
                self.name,
                f"unpacks to {total} bytes, more than the limit of "
                f"{self.limits.max_total_size}; raise Limits.max_total_size if it is genuine",
            )
        # Restore archive order for listings: installers and RECORD follow it.
        return directory, {info.name: entries[info.name] for info in directory.entries}

    def members(self) -> tuple[MemberInfo, ...]:
        """All members in archive order."""
        return self._members

    @cached_property
    def _members(self) -> tuple[MemberInfo, ...]:
        return tuple(
            MemberInfo(
                name=name,
                size=entry.info.size,
                compressed_size=entry.info.compressed_size,
                is_dir=name.endswith("/"),
                mode=stat.S_IMODE(entry.info.external_attr >> 16),
            )
            for name, entry in self._entries.items()
        )

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def _info(self, name: str) -> CentralEntry:
        return self._entry(name).info

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise WheelError(self.name, "is not in the archive", name) from None

    def open_member(self, name: str, expected: RecordEntry | None = None) -> MemberStream:
        """A stream of the member's bytes, verified (size, CRC, RECORD row) at EOF."""
        return MemberStream(self, self._entry(name), expected)

    def read_bytes(self, name: str, expected: RecordEntry | None = None) -> bytes:
        """The whole member as bytes, for small files; refuses ones over ``in_memory_max``."""
        size = self._entry(name).info.size
        if size > self.limits.in_memory_max:
            raise WheelError(
                self.name,
                f"declares {size} bytes, more than Limits.in_memory_max "
                f"({self.limits.in_memory_max}) allows to read into memory",
                name,
            )
        with self.open_member(name, expected) as stream:
            return stream.readall()

    @contextmanager
    def member_buffer(
        self, name: str, expected: RecordEntry | None = None
    ) -> Iterator[ReadableBuffer]:
        """The member's bytes for binary parsing, fully verified before they are handed out.

        Small members come as ``bytes``; larger ones are spooled to a temporary
        file and mapped read-only, so resident memory stays bounded. Release any
        memoryview of the buffer before the ``with`` block ends.
        """
        if self._entry(name).info.size <= self.limits.in_memory_max:
            yield self.read_bytes(name, expected)
            return
        with tempfile.TemporaryFile() as spool:
            with self.open_member(name, expected) as stream:
                shutil.copyfileobj(stream, spool, _CHUNK)
            spool.flush()
            with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as view:
                yield view

    def data_start(self, name: str) -> int:
        """Where the member's stored bytes begin, after checking its local header."""
        return self._local_header(name)[0]

    def _local_header(self, name: str) -> tuple[int, int]:
        """Check the member's local header; return where its data starts and the header's flags.

        The local header must agree with the central directory (name, method,
        CRC and sizes) and the data must end before the next member: this is
        what makes copying or decoding the next ``compressed_size`` bytes safe.
        """
        entry = self._entry(name)
        info = entry.info

        def fail(problem: str) -> WheelError:
            return WheelError(self.name, problem, info.name)

        # The header and the name in one read: a retag reads 12,000 of them.
        header = self._read_at(info.header_offset, LOCAL.size + len(info.raw_name))
        if len(header) != LOCAL.size + len(info.raw_name) or header[:4] != LOCAL_SIGNATURE:
            raise fail("has no local header where the central directory points")
        (_, _, flags, method, _, _, crc, compressed, size, name_length, extra_length) = (
            LOCAL.unpack_from(header)
        )
        if header[LOCAL.size :] != info.raw_name or name_length != len(info.raw_name):
            stored_name = self._read_at(info.header_offset + LOCAL.size, name_length)
            raise fail(f"local header names {stored_name!r}; the central directory disagrees")
        if flags & FLAG_ENCRYPTED:
            raise fail("is encrypted; wheels must not be")
        declared = (crc, compressed, size)
        if method != info.method or (
            not flags & FLAG_DATA_DESCRIPTOR
            and ZIP64_MARKER not in (compressed, size)
            and declared != (info.crc, info.compressed_size, info.size)
        ):
            raise fail("local header (method, CRC or sizes) disagrees with the central directory")
        start: int = info.header_offset + LOCAL.size + name_length + extra_length
        if start + info.compressed_size > entry.data_limit:
            raise fail("data runs into the next member or the central directory")
        return start, flags

    def stored_member(self, name: str) -> StoredMember:
        """The member's stored (still compressed) form, for copying it without decoding."""
        info = self._entry(name).info
        data_start, flags = self._local_header(name)
        return StoredMember(
            name=name,
            header_offset=info.header_offset,
            data_start=data_start,
            compressed_size=info.compressed_size,
            size=info.size,
            crc=info.crc,
            method=info.method,
            date_time=info.date_time,
            external_attr=info.external_attr,
            local_flags=flags,
            self_contained=not flags & FLAG_DATA_DESCRIPTOR,
        )

    def newest_date_time(self, names: Iterable[str]) -> tuple[int, int, int, int, int, int]:
        """The latest timestamp among these members (1980-01-01 when there are none)."""
        infos = (self._entry(name).info for name in names)
        # (date, time) pairs order as the moments do; 0x21 is 1980-01-01.
        return date_time(
            *max(((info.dos_date, info.dos_time) for info in infos), default=(0x21, 0))
        )

    def leading_members(self, count: int) -> tuple[int, bytes] | None:
        """The first ``count`` members (directory order) as one block, for copying verbatim.

        Returns where their bytes end and their central-directory records, when
        those members fill the archive from its first byte in directory order (so
        a copy keeps every offset the records state); ``None`` otherwise. Each
        local header is checked, as for any member copied.
        """
        entries = self._directory.entries
        if count == 0:
            return 0, b""
        offsets = [entry.header_offset for entry in entries[: count + 1]]
        if offsets[0] != 0 or any(a >= b for a, b in pairwise(offsets)):
            return None
        for entry in entries[:count]:
            self._local_header(entry.name)
        if count == len(entries):
            return self._directory.start, self._directory.data
        return offsets[count], self._directory.data[: entries[count].record_offset]

    def copy_range(self, start: int, end: int, target: BinaryIO) -> None:
        """Copy bytes ``start:end`` of the archive to ``target`` (in the kernel where it can).

        Callers pass ranges made of checked members (``stored_member``), so the
        bytes are known to lie inside the file.
        """
        target.flush()
        source_fd, target_fd = self._file.fileno(), target.fileno()
        offset, left = start, end - start
        try:
            while left:
                copied = os.copy_file_range(source_fd, target_fd, left, offset)
                if copied == 0:
                    break
                offset += copied
                left -= copied
        except OSError:
            pass  # a filesystem without copy_file_range: finish in user space below
        target.seek(0, os.SEEK_END)
        while left:
            chunk = self._read_at(offset, min(left, _CHUNK))
            if not chunk:
                break
            target.write(chunk)
            offset += len(chunk)
            left -= len(chunk)
        if left:
            raise WheelError(self.name, "is cut short: the archive is truncated")

    def _read_at(self, offset: int, size: int) -> bytes:
        """``size`` bytes at ``offset`` (fewer at EOF); pread, so threads may share the file."""
        return os.pread(self._file.fileno(), size, offset)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> WheelArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class MemberStream(io.RawIOBase):
    """Decodes one member, counting, CRC-checking and hashing every byte it yields."""

    def __init__(self, archive: WheelArchive, entry: _Entry, expected: RecordEntry | None) -> None:
        super().__init__()
        self._archive = archive
        self._info = entry.info
        self._expected = expected
        self._hasher = (
            new_hasher(expected.hash.algorithm)
            if expected is not None and expected.hash is not None
            else None
        )
        self._position = archive.data_start(entry.info.name)
        self._compressed_left = entry.info.compressed_size
        self._inflater = (
            inflating.decompressobj(-inflating.MAX_WBITS) if entry.info.method == DEFLATED else None
        )
        self._produced = 0
        self._crc = 0
        self._pending = b""
        self._finished = False

    def _fail(self, problem: str) -> WheelError:
        return WheelError(self._archive.name, problem, self._info.name)

    def readable(self) -> bool:
        return True

    def _read_compressed(self, size: int) -> bytes:
        size = min(size, self._compressed_left)
        data = self._archive._read_at(self._position, size)
        if len(data) != size:
            raise self._fail("data is cut short: the archive is truncated")
        self._position += size
        self._compressed_left -= size
        return data

    def _inflate(self, inflater: inflating._Decompress, limit: int) -> bytes:
        """Decoded bytes (at most ``limit`` but for a final flush); ``b""`` at stream end."""
        try:
            while not inflater.eof:
                if inflater.unconsumed_tail:
                    source = inflater.unconsumed_tail
                elif self._compressed_left:
                    source = self._read_compressed(_CHUNK)
                else:
                    # All input is inside the inflater: only a few pending bytes remain.
                    data = inflater.flush()
                    if not inflater.eof:
                        raise self._fail("deflate data ends before the stream does (truncated)")
                    return data
                data = inflater.decompress(source, limit)
                if data:
                    return data
                if len(inflater.unconsumed_tail) >= len(source):
                    raise self._fail("deflate data is corrupt: decoding makes no progress")
        except inflating.error as exc:
            raise self._fail(f"deflate data is corrupt: {exc}") from exc
        if inflater.unused_data or self._compressed_left:
            raise self._fail("has bytes after the end of its deflate stream")
        return b""

    def _decode(self, limit: int) -> bytes:
        """The next decoded bytes, counted, CRC-checked and hashed; ``b""`` at the end."""
        if self._inflater is not None:
            data = self._inflate(self._inflater, limit)
        else:
            data = self._read_compressed(limit)
        return self._account(data)

    def _account(self, data: bytes) -> bytes:
        """Count, CRC and hash decoded bytes; more than the header declares is an error."""
        self._produced += len(data)
        if self._produced > self._info.size:
            raise self._fail(f"holds more than the {self._info.size} bytes its zip header declares")
        self._crc = inflating.crc32(data, self._crc)
        if self._hasher is not None:
            self._hasher.update(data)
        return data

    def _decode_whole(self) -> bytes:
        """The whole member in one read and one inflate call, then checked as at EOF.

        For members read whole (``read_bytes``): no chunk loop, no copy into a
        buffer, and each step releases the GIL once, so reader threads overlap.
        The inflate is capped one byte past the declared size, which exposes a
        member that lies about its size without ever inflating more.
        """
        compressed = self._read_compressed(self._compressed_left)
        inflater = self._inflater
        if inflater is None:
            data = compressed
        else:
            try:
                data = inflater.decompress(compressed, self._info.size + 1)
            except inflating.error as exc:
                raise self._fail(f"deflate data is corrupt: {exc}") from exc
            if len(data) <= self._info.size:
                if not inflater.eof:
                    raise self._fail("deflate data ends before the stream does (truncated)")
                if inflater.unused_data:
                    raise self._fail("has bytes after the end of its deflate stream")
        self._account(data)
        self._finish()
        return data

    def _next_chunk(self, limit: int) -> bytes:
        limit = min(limit, _CHUNK)
        if limit <= 0:
            return b""
        if not self._pending:
            if self._finished:
                return b""
            self._pending = self._decode(limit)
            if not self._pending:
                self._finish()
                return b""
        data, self._pending = self._pending[:limit], self._pending[limit:]
        return data

    def _finish(self) -> None:
        """At EOF: the data must match every size and digest declared for it."""
        info = self._info
        if self._produced != info.size:
            raise self._fail(
                f"holds {self._produced} bytes but its zip header declares {info.size}"
            )
        if self._crc != info.crc:
            raise self._fail("fails its CRC-32 check: the data is corrupt")
        expected = self._expected
        if expected is not None and expected.size not in (None, self._produced):
            raise self._fail(f"is {self._produced} bytes but RECORD says {expected.size}")
        if self._hasher is not None and expected is not None and expected.hash is not None:
            actual = FileHash.of_digest(expected.hash.algorithm, self._hasher.digest())
            if actual != expected.hash:
                raise self._fail(f"hashes to {actual} but RECORD says {expected.hash}")
        self._finished = True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self._next_chunk(len(view))
        view[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        fresh = not (self._produced or self._pending or self._finished)
        if fresh and self._compressed_left <= self._archive.limits.in_memory_max:
            return self._decode_whole()
        # BytesIO hands its buffer to getvalue() without a copy: peak memory is one member.
        out = io.BytesIO()
        while chunk := self._next_chunk(_CHUNK):
            out.write(chunk)
        return out.getvalue()

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        return self._next_chunk(size)
