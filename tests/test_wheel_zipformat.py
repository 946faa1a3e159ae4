"""Our central-directory parser against zipfile's on real wheels, and on crafted edge cases."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.wheel import WheelArchive, WheelError
from omniwheel.wheel.zipformat import END, ZipFormatError, read_central_directory

REAL = ["manylinux-vendored", "macos-universal2", "pyemscripten", "win-amd64", "ios-device"]


def parse(data: bytes) -> list[tuple[object, ...]]:
    def read_at(offset: int, size: int) -> bytes:
        return data[offset : offset + size]

    directory = read_central_directory(read_at, len(data))
    return [
        (e.name, e.size, e.compressed_size, e.crc, e.method, e.header_offset, e.date_time)
        for e in directory.entries
    ]


def zipfile_view(data: bytes) -> list[tuple[object, ...]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (
                i.orig_filename,
                i.file_size,
                i.compress_size,
                i.CRC,
                i.compress_type,
                i.header_offset,
                i.date_time,
            )
            for i in archive.infolist()
        ]


@pytest.mark.parametrize("key", REAL)
def test_real_wheels_parse_as_zipfile_reads_them(
    key: str, real_wheel: Callable[[str], Path]
) -> None:
    data = real_wheel(key).read_bytes()
    ours = parse(data)
    assert ours == zipfile_view(data)
    assert len(ours) > 5


def sample(comment: bytes = b"", names: tuple[str, ...] = ("a.py", "pkg/ü.py")) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, name.encode() * 50)
        archive.comment = comment
    return out.getvalue()


def test_comment_and_utf8_names_are_read() -> None:
    """An end-record signature inside the comment is skipped (zipfile trips over it)."""
    data = sample(comment=b"made with PK\x05\x06 inside the comment")
    assert [row[0] for row in parse(data)] == ["a.py", "pkg/ü.py"]
    assert parse(data) == parse(sample()) == zipfile_view(sample())


def test_end_record_counts_more_entries_than_the_directory_holds() -> None:
    data = bytearray(sample())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 3, 3)
    with pytest.raises(ZipFormatError, match="ends inside record 2 of 3"):
        parse(bytes(data))


def test_end_record_counts_fewer_entries_than_the_directory_holds() -> None:
    data = bytearray(sample())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 1, 1)
    with pytest.raises(ZipFormatError, match="bytes after its 1 records"):
        parse(bytes(data))


def test_directory_pointing_past_its_end_record_is_refused() -> None:
    data = bytearray(sample())
    end = data.rfind(b"PK\x05\x06")
    start = END.unpack_from(data, end)[6]
    struct.pack_into("<I", data, end + 16, start + 10)
    with pytest.raises(ZipFormatError, match="runs past its end record"):
        parse(bytes(data))


def test_zip64_marker_without_locator_is_refused() -> None:
    data = bytearray(sample())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 16, 0xFFFFFFFF)
    with pytest.raises(ZipFormatError, match="no zip64 locator"):
        parse(bytes(data))


def test_garbage_after_the_end_record_is_not_taken_for_a_comment() -> None:
    with pytest.raises(ZipFormatError, match="no end-of-central-directory record"):
        parse(sample() + b"trailing junk")


def test_data_prepended_to_the_archive_is_refused(tmp_path: Path) -> None:
    """zipfile shifts every offset to accept this ("concatenated" archives); we do not."""
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(b"#!/bin/sh\nexit 0\n" + sample())
    with pytest.raises(WheelError, match="17 bytes precede the archive"):
        WheelArchive(path)
