"""The zip container (PKWARE's APPNOTE) as wheels use it: the record layouts the reader and
the writer share, and a parser of the central directory.

The directory is parsed here rather than by ``zipfile`` for two reasons. Speed:
a wheel like torch's lists 12,000 members, and ``zipfile`` builds a ``ZipInfo``
for each, which costs more than copying the whole archive does. Trust: every
count, size and offset read is bounded by the bytes actually present, the entry
count must match the directory's size exactly, and nothing is "repaired"
(``zipfile`` silently shifts every offset when data precedes the archive).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

LOCAL = struct.Struct("<4sHHHHHIIIHH")
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
END = struct.Struct("<4sHHHHIIH")
ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
ZIP64_LOCATOR = struct.Struct("<4sIQI")
LOCAL_SIGNATURE = b"PK\x03\x04"
CENTRAL_SIGNATURE = b"PK\x01\x02"
END_SIGNATURE = b"PK\x05\x06"
ZIP64_END_SIGNATURE = b"PK\x06\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_MARKER = 0xFFFFFFFF
"""A 32-bit size or offset field holding this says "the value is in the zip64 extra field"."""
ZIP64_COUNT_MARKER = 0xFFFF
FLAG_ENCRYPTED = 0x1
FLAG_DATA_DESCRIPTOR = 0x8
FLAG_UTF8 = 0x800
STORED = 0
DEFLATED = 8
_ZIP64_EXTRA_ID = 1
_EXTRA_HEADER = struct.Struct("<HH")
_MAX_COMMENT = 0xFFFF


class ZipFormatError(ValueError):
    """The bytes are not a zip archive this module can read; the message says what is wrong."""


@dataclass(slots=True)
class MemberRecord:
    """What the central directory says of a member (zip64 values substituted): what the
    reader checks a local header against, and what the writer records."""

    raw_name: bytes
    """The name bytes as stored: the local header must repeat them exactly."""
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compressed_size: int
    size: int
    external_attr: int
    header_offset: int


@dataclass(slots=True)
class CentralEntry(MemberRecord):
    """A record as read from an archive: with its decoded name and its place in the directory."""

    name: str
    record_offset: int
    """Where this entry's record starts inside the central directory."""

    @property
    def date_time(self) -> tuple[int, int, int, int, int, int]:
        return date_time(self.dos_date, self.dos_time)


def date_time(dos_date: int, dos_time: int) -> tuple[int, int, int, int, int, int]:
    """An MS-DOS timestamp as ``zipfile`` gives it: (year, month, day, hour, minute, second)."""
    return (
        (dos_date >> 9) + 1980,
        (dos_date >> 5) & 0xF,
        dos_date & 0x1F,
        dos_time >> 11,
        (dos_time >> 5) & 0x3F,
        (dos_time & 0x1F) * 2,
    )


class CentralDirectory(NamedTuple):
    entries: list[CentralEntry]
    """In directory order (the order installers and RECORD follow)."""
    start: int
    """Where the directory begins: every member's data must end before it."""
    data: bytes
    """The directory's bytes, so a rewrite can reuse records whose members did not move."""


def read_central_directory(read_at: Callable[[int, int], bytes], size: int) -> CentralDirectory:
    """Parse the directory of a ``size``-byte archive read through ``read_at(offset, length)``."""
    tail_start = max(0, size - END.size - _MAX_COMMENT)
    tail = read_at(tail_start, size - tail_start)
    end_at = _find_end_record(tail)
    if end_at < 0:
        raise ZipFormatError("no end-of-central-directory record (not a zip, or truncated)")
    (_, disk, directory_disk, disk_count, count, length, start, _) = END.unpack_from(tail, end_at)
    end_position = tail_start + end_at
    if disk or directory_disk or disk_count != count:
        raise ZipFormatError("is a multi-volume archive; wheels are a single file")
    if ZIP64_MARKER in (length, start) or count == ZIP64_COUNT_MARKER:
        count, length, start, end_position = _zip64_end(read_at, end_position)
    if start + length > end_position:
        raise ZipFormatError(
            f"central directory ({length} bytes at {start}) runs past its end record "
            f"at {end_position}"
        )
    directory = read_at(start, length)
    if len(directory) != length:
        raise ZipFormatError("central directory is cut short (truncated file)")
    shift = end_position - length - start
    if count and directory[:4] != CENTRAL_SIGNATURE and shift > 0:
        raise ZipFormatError(
            f"{shift} bytes precede the archive (a self-extractor or a concatenated file?); "
            "a wheel starts with its first member"
        )
    return CentralDirectory(_parse_entries(directory, count), start, directory)


def _find_end_record(tail: bytes) -> int:
    """Offset in ``tail`` of the end record whose comment reaches exactly to the file's end."""
    at = len(tail)
    while (at := tail.rfind(END_SIGNATURE, 0, at)) >= 0:
        if at + END.size <= len(tail):
            comment_length = END.unpack_from(tail, at)[-1]
            if at + END.size + comment_length == len(tail):
                return at
    return -1


def _zip64_end(read_at: Callable[[int, int], bytes], end_position: int) -> tuple[int, ...]:
    """(count, directory length, directory start, record position) from the zip64 records."""
    locator_at = end_position - ZIP64_LOCATOR.size
    locator = read_at(locator_at, ZIP64_LOCATOR.size) if locator_at >= 0 else b""
    if len(locator) != ZIP64_LOCATOR.size or locator[:4] != ZIP64_LOCATOR_SIGNATURE:
        raise ZipFormatError("end record points to zip64 fields but no zip64 locator precedes it")
    _, disk, record_at, disks = ZIP64_LOCATOR.unpack(locator)
    if disk or disks > 1:
        raise ZipFormatError("is a multi-volume archive; wheels are a single file")
    record = read_at(record_at, ZIP64_END.size) if record_at < locator_at else b""
    if len(record) != ZIP64_END.size or record[:4] != ZIP64_END_SIGNATURE:
        raise ZipFormatError(f"no zip64 end record at {record_at}, where the locator points")
    (_, _, _, _, disk, directory_disk, disk_count, count, length, start) = ZIP64_END.unpack(record)
    if disk or directory_disk or disk_count != count:
        raise ZipFormatError("is a multi-volume archive; wheels are a single file")
    return count, length, start, record_at


def _parse_entries(directory: bytes, count: int) -> list[CentralEntry]:
    """Exactly ``count`` records that fill ``directory`` exactly."""
    entries = []
    position, end = 0, len(directory)
    unpack = CENTRAL.unpack_from
    for index in range(count):
        record_offset = position
        if position + CENTRAL.size > end:
            raise ZipFormatError(f"central directory ends inside record {index} of {count}")
        (
            signature, _, _, flags, method, dos_time, dos_date, crc, compressed, size,
            name_length, extra_length, comment_length, _, _, external, offset,
        ) = unpack(directory, position)  # fmt: skip
        if signature != CENTRAL_SIGNATURE:
            raise ZipFormatError(f"central directory record {index} has a bad signature")
        name_start = position + CENTRAL.size
        extra_start = name_start + name_length
        position = extra_start + extra_length + comment_length
        if position > end:
            raise ZipFormatError(f"central directory record {index} runs past the directory")
        raw_name = directory[name_start:extra_start]
        if ZIP64_MARKER in (compressed, size, offset):
            size, compressed, offset = _zip64_values(
                directory[extra_start : extra_start + extra_length], size, compressed, offset
            )
        try:
            name = raw_name.decode("utf-8" if flags & FLAG_UTF8 else "cp437")
        except UnicodeDecodeError:
            raise ZipFormatError(f"member name {raw_name!r} is flagged UTF-8 but is not") from None
        entries.append(
            CentralEntry(
                raw_name, flags, method, dos_time, dos_date, crc, compressed, size,
                external, offset, name, record_offset,
            )
        )  # fmt: skip
    if position != end:
        raise ZipFormatError(
            f"central directory holds {end - position} bytes after its {count} records"
        )
    return entries


def _zip64_values(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """Substitute the marked fields from the zip64 extra field, which lists only those, in order."""
    position = 0
    while position + _EXTRA_HEADER.size <= len(extra):
        kind, length = _EXTRA_HEADER.unpack_from(extra, position)
        position += _EXTRA_HEADER.size
        if kind == _ZIP64_EXTRA_ID:
            values = extra[position : position + length]
            wanted = [v == ZIP64_MARKER for v in (size, compressed, offset)].count(True)
            if len(values) < 8 * wanted:
                break
            found = iter(struct.unpack_from(f"<{wanted}Q", values))
            size = next(found) if size == ZIP64_MARKER else size
            compressed = next(found) if compressed == ZIP64_MARKER else compressed
            offset = next(found) if offset == ZIP64_MARKER else offset
            return size, compressed, offset
        position += length
    raise ZipFormatError("a member's sizes point to a zip64 extra field that is missing or short")
