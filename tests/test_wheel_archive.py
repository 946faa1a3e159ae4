"""Hostile zip archives, crafted here with zipfile and raw byte surgery, must be refused."""

from __future__ import annotations

import io
import mmap
import random
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.wheel import Limits, WheelArchive, WheelError

NAME = "demo-1.0-py3-none-any.whl"
# Offsets of fields inside the local (PK\3\4) and central (PK\1\2) headers (APPNOTE 4.3.7, 4.3.12).
LOCAL = {
    "flags": (6, "H"),
    "method": (8, "H"),
    "crc": (14, "L"),
    "compressed": (18, "L"),
    "size": (22, "L"),
    "name": (30, "B"),
}
CENTRAL = {
    "flags": (8, "H"),
    "method": (10, "H"),
    "crc": (16, "L"),
    "compressed": (20, "L"),
    "size": (24, "L"),
    "external": (38, "L"),
    "offset": (42, "L"),
    "name": (46, "B"),
}


def noise(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes, so ratios stay realistic."""
    return random.Random(seed).randbytes(size)


def build(
    members: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED
) -> bytearray:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on the duplicate names we craft
        with zipfile.ZipFile(out, "w", method) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return bytearray(out.getvalue())


def header_offsets(data: bytes) -> list[tuple[int, int]]:
    """(local, central) header offsets per member, walking the central directory by hand."""
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        central = archive.start_dir
        result = []
        for info in archive.infolist():
            result.append((info.header_offset, central))
            name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, central + 28)
            central += 46 + name_len + extra_len + comment_len
    return result


def patch(data: bytearray, index: int, where: str = "both", **fields: int) -> bytearray:
    """Overwrite header fields of member ``index`` in the local and/or central header."""
    local, central = header_offsets(data)[index]
    for table, base in ((LOCAL, local), (CENTRAL, central)):
        if where in ("both", "local" if table is LOCAL else "central"):
            for field, value in fields.items():
                offset, fmt = table[field]
                struct.pack_into("<" + fmt, data, base + offset, value)
    return data


def save(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / NAME
    path.write_bytes(data)
    return path


def read_all(path: Path, name: str, limits: Limits | None = None, chunk: int = -1) -> bytes:
    """The member's bytes, read whole (one inflate call) or in ``chunk``-byte reads."""
    with WheelArchive(path, limits) as archive, archive.open_member(name) as stream:
        if chunk < 0:
            return stream.read()
        return b"".join(iter(lambda: stream.read(chunk), b""))


def refused(path: Path, limits: Limits | None = None, member: str | None = None) -> str:
    """The one-line message opening (and reading ``member``) raises.

    A member is read both whole and streamed in chunks: the two decoding paths
    must refuse the same input with the same message.
    """
    messages = set()
    for chunk in (-1, 4096) if member is not None else (-1,):
        with pytest.raises(WheelError) as caught:
            if member is None:
                WheelArchive(path, limits).close()
            else:
                read_all(path, member, limits, chunk)
        messages.add(str(caught.value))
    assert len(messages) == 1, messages
    message = messages.pop()
    assert message.startswith(f"{NAME}: ")
    assert "\n" not in message
    return message


def test_members_stream_and_list_as_declared(tmp_path: Path) -> None:
    executable = zipfile.ZipInfo("pkg/tool.sh")
    executable.external_attr = (stat.S_IFREG | 0o755) << 16
    path = save(
        tmp_path, build([("pkg/", b""), (executable, b"#!/bin/sh\n"), ("pkg/blob", noise(300_000))])
    )
    with WheelArchive(path) as archive:
        assert [(m.name, m.size, m.is_dir, m.mode) for m in archive.members()] == [
            ("pkg/", 0, True, 0o775),  # zipfile.writestr default for directories
            ("pkg/tool.sh", 10, False, 0o755),
            ("pkg/blob", 300_000, False, 0o600),
        ]
        with archive.open_member("pkg/blob") as stream:
            assert b"".join(iter(lambda: stream.read(999), b"")) == noise(300_000)
        with archive.member_buffer("pkg/tool.sh") as small:
            assert small == b"#!/bin/sh\n"
        assert "pkg/blob" in archive and "pkg/missing" not in archive


def test_large_members_come_as_a_read_only_mmap(tmp_path: Path) -> None:
    path = save(tmp_path, build([("pkg/blob", noise(200_000))]))
    with WheelArchive(path, Limits(in_memory_max=1024)) as archive:
        with archive.member_buffer("pkg/blob") as buffer:
            assert isinstance(buffer, mmap.mmap)
            assert buffer[:] == noise(200_000)
            with pytest.raises(TypeError):
                buffer[0] = 0  # type: ignore[index]
        with pytest.raises(
            WheelError, match=r"declares 200000 bytes, more than Limits.in_memory_max \(1024\)"
        ):
            archive.read_bytes("pkg/blob")


def test_unknown_member_is_named(tmp_path: Path) -> None:
    path = save(tmp_path, build([("a.py", b"")]))
    message = refused(path, member="b.py")
    assert message == f"{NAME}: member 'b.py': is not in the archive"


def test_size_declared_smaller_than_the_data_is_caught(tmp_path: Path) -> None:
    data = noise(100_000)
    # Both headers claim 1000 bytes with the CRC of the first 1000: stdlib zipfile is fooled.
    raw = patch(build([("pkg/blob", data)]), 0, size=1000, crc=zlib.crc32(data[:1000]))
    path = save(tmp_path, raw)
    with zipfile.ZipFile(path) as stdlib:
        assert stdlib.read("pkg/blob") == data[:1000]
    message = refused(path, member="pkg/blob")
    assert message.endswith(
        "member 'pkg/blob': holds more than the 1000 bytes its zip header declares"
    )


def test_lying_zip_bomb_stops_at_the_declared_size(tmp_path: Path) -> None:
    zeros = bytes(64 << 20)
    # The headers claim 2 MiB, which passes the ratio check at open; 64 MiB is inside.
    raw = patch(build([("bomb", zeros)]), 0, size=2 << 20, crc=zlib.crc32(zeros[: 2 << 20]))
    message = refused(save(tmp_path, raw), member="bomb")
    assert message.endswith("holds more than the 2097152 bytes its zip header declares")


def test_size_declared_larger_than_the_data_is_caught(tmp_path: Path) -> None:
    raw = patch(build([("pkg/blob", noise(100_000))]), 0, size=100_001)
    message = refused(save(tmp_path, raw), member="pkg/blob")
    assert message.endswith("holds 100000 bytes but its zip header declares 100001")


def test_ratio_bomb_is_refused_at_open_unless_the_limit_is_raised(tmp_path: Path) -> None:
    path = save(tmp_path, build([("bomb", bytes(64 << 20))]))
    message = refused(path)
    assert "member 'bomb': expands" in message
    assert message.endswith("bytes to 67108864 (more than 200:1): refusing a likely zip bomb")
    assert read_all(path, "bomb", Limits(max_ratio=2000)) == bytes(64 << 20)


def test_total_size_cap(tmp_path: Path) -> None:
    path = save(tmp_path, build([("a", noise(600)), ("b", noise(600, 1))]))
    message = refused(path, Limits(max_total_size=1000))
    assert message == (
        f"{NAME}: unpacks to 1200 bytes, more than the limit of 1000; "
        "raise Limits.max_total_size if it is genuine"
    )


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    # Two central entries sharing one local header: the overlapping-file zip bomb.
    raw = patch(build([("a", noise(1000)), ("b", noise(1000, 1))]), 1, where="central", offset=0)
    assert "overlaps the next member or the central directory" in refused(save(tmp_path, raw))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.py", "has a '..' component"),
        ("pkg/../../evil.py", "has a '..' component"),
        ("/etc/passwd", "is an absolute path"),
        ("C:/Windows/evil.dll", "starts with a drive letter"),
        ("c:evil.dll", "starts with a drive letter"),
        ("pkg\\evil.py", "has a backslash in its name"),
        ("", "has an empty name"),
    ],
)
def test_unsafe_names_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    message = refused(save(tmp_path, build([(zipfile.ZipInfo(name), b"x")])))
    assert message.startswith(f"{NAME}: member {name!r}: {problem}")


def test_nul_in_a_name_is_refused(tmp_path: Path) -> None:
    raw = build([("evil.py_.txt", b"x")])
    for offset in header_offsets(raw)[0]:
        base = offset + (LOCAL if offset == header_offsets(raw)[0][0] else CENTRAL)["name"][0]
        raw[base + len("evil.py")] = 0
    message = refused(save(tmp_path, raw))
    assert message.startswith(f"{NAME}: member 'evil.py\\x00.txt': has a NUL byte")


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        (stat.S_IFLNK, "is a symbolic link"),
        (stat.S_IFIFO, "is a FIFO"),
        (stat.S_IFCHR, "is a character device"),
        (stat.S_IFBLK, "is a block device"),
        (stat.S_IFSOCK, "is a socket"),
        (0o170000, "has unknown file type 0o170000"),
        (stat.S_IFDIR, "is marked as a directory but its name does not end in '/'"),
    ],
)
def test_special_file_types_are_refused(tmp_path: Path, kind: int, problem: str) -> None:
    info = zipfile.ZipInfo("pkg/link")
    info.external_attr = (kind | 0o777) << 16
    message = refused(save(tmp_path, build([(info, b"/etc/passwd")])))
    assert message.startswith(f"{NAME}: member 'pkg/link': {problem}")


def test_directory_entry_with_data_is_refused(tmp_path: Path) -> None:
    message = refused(save(tmp_path, build([("pkg/", b"hidden")])))
    assert message.endswith(
        "member 'pkg/': is a directory entry holding 6 bytes; directories hold none"
    )


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    message = refused(save(tmp_path, build([("a.py", b"1"), ("a.py", b"2")])))
    assert message.endswith(
        "member 'a.py': appears twice in the archive; member names must be unique"
    )


def test_encrypted_members_are_refused(tmp_path: Path) -> None:
    raw = patch(build([("a.py", b"secret")]), 0, flags=1)
    assert refused(save(tmp_path, raw)).endswith("member 'a.py': is encrypted; wheels must not be")


def test_unusual_compression_is_refused(tmp_path: Path) -> None:
    message = refused(save(tmp_path, build([("a.py", b"x" * 100)], zipfile.ZIP_BZIP2)))
    assert message.endswith("uses compression method 12; wheels use stored (0) or deflate (8)")


def test_local_header_must_agree_with_the_central_directory(tmp_path: Path) -> None:
    raw = patch(build([("a.py", noise(100))]), 0, where="local", size=99)
    message = refused(save(tmp_path, raw), member="a.py")
    assert message.endswith(
        "local header (method, CRC or sizes) disagrees with the central directory"
    )
    raw = build([("a.py", b"x")])
    raw[header_offsets(raw)[0][0] + LOCAL["name"][0]] = ord("b")
    message = refused(save(tmp_path, raw), member="a.py")
    assert message.endswith("local header names b'b.py'; the central directory disagrees")


def test_corrupt_data_fails_the_crc(tmp_path: Path) -> None:
    raw = build([("a.bin", b"0123456789")], zipfile.ZIP_STORED)
    raw[header_offsets(raw)[0][0] + 30 + len("a.bin")] ^= 0xFF
    assert refused(save(tmp_path, raw), member="a.bin").endswith(
        "fails its CRC-32 check: the data is corrupt"
    )


def test_truncated_deflate_stream_is_refused(tmp_path: Path) -> None:
    raw = build([("a.bin", noise(10_000))])
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        compressed = archive.getinfo("a.bin").compress_size
    raw = patch(raw, 0, compressed=compressed - 100)
    message = refused(save(tmp_path, raw), member="a.bin")
    assert message.endswith("deflate data ends before the stream does (truncated)")


def test_bytes_after_the_deflate_stream_are_refused(tmp_path: Path) -> None:
    data = noise(10_000)
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = packer.compress(data) + packer.flush()
    # Stored as "stream + junk", then relabelled deflated with the true size and CRC.
    raw = build([("a.bin", stream + b"junk")], zipfile.ZIP_STORED)
    raw = patch(raw, 0, method=zipfile.ZIP_DEFLATED, size=len(data), crc=zlib.crc32(data))
    message = refused(save(tmp_path, raw), member="a.bin")
    assert message.endswith("has bytes after the end of its deflate stream")


@pytest.mark.parametrize(
    "content",
    [b"", b"this is a text file, not a zip\n", bytes(build([("a", noise(5000))])[:3000])],
    ids=["empty", "text", "truncated"],
)
def test_non_zip_and_truncated_input_is_refused(tmp_path: Path, content: bytes) -> None:
    message = refused(save(tmp_path, content))
    assert message.startswith(f"{NAME}: is not a readable zip archive (truncated or corrupt?): ")


def test_missing_file_is_a_wheel_error(tmp_path: Path) -> None:
    with pytest.raises(WheelError, match=f"^{NAME}: cannot be opened: No such file or directory$"):
        WheelArchive(tmp_path / NAME)


@pytest.mark.parametrize("isal", ["present", "absent"])
def test_members_inflate_with_and_without_isal(
    real_wheel: Callable[[str], Path], isal: str
) -> None:
    """python-isal inflates where it is installed; zlib does the same work where it is not."""
    script = (
        "import sys\n"
        + ("sys.modules['isal'] = None\n" if isal == "absent" else "")
        + "from omniwheel.wheel import Wheel, archive\n"
        "with Wheel.open(sys.argv[1]) as wheel:\n"
        "    wheel.verify()\n"
        "print(archive.inflating.__name__)\n"
    )
    wheel = real_wheel("manylinux-vendored")
    done = subprocess.run(
        [sys.executable, "-c", script, str(wheel)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("isal.isal_zlib" if isal == "present" else "zlib")
