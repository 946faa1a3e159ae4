"""The wheel writer: raw copies, fresh WHEEL and RECORD, atomic and deterministic output."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import MakeWheel
from omniwheel.errors import UsageError
from omniwheel.wheel import Wheel, WheelError, WheelFilename, writer
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel
from omniwheel.wheel.zipformat import read_central_directory

PURE = "demo-1.0-py3-none-any.whl"

if TYPE_CHECKING:
    from collections.abc import Buffer


def _stored_bytes(path: Path) -> dict[str, bytes]:
    """Each member's compressed bytes exactly as stored in the archive."""
    with Wheel.open(path) as wheel:
        stored = {}
        for member in wheel.members():
            info = wheel.archive.stored_member(member.name)
            with path.open("rb") as handle:
                handle.seek(info.data_start)
                stored[member.name] = handle.read(info.compressed_size)
        return stored


def _retagged(path: Path, platform: str) -> WheelFilename:
    name = WheelFilename.parse(path)
    return WheelFilename.from_parts(
        name.name, name.version, name.python_tags, name.abi_tags, [platform], name.build
    )


def test_real_wheel_retag_copies_members_raw(
    real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    """Pillow gets a new tag; every member but WHEEL and RECORD is copied byte for byte."""
    source = real_wheel("manylinux-vendored")
    new_name = _retagged(source, "manylinux_2_28_x86_64")
    output = rewrite_wheel(source, WheelChanges(filename=new_name), tmp_path / new_name.filename)

    with Wheel.open(output) as wheel:
        wheel.verify()  # every RECORD hash and size holds for the new archive
        assert [str(tag) for tag in wheel.wheel_info.tags] == ["cp313-cp313-manylinux_2_28_x86_64"]
        dist_info = wheel.dist_info
    before, after = _stored_bytes(source), _stored_bytes(output)
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == {f"{dist_info}/WHEEL", f"{dist_info}/RECORD"}
    with zipfile.ZipFile(output) as archive:
        assert archive.testzip() is None  # an independent reader agrees on every CRC
        assert archive.namelist()[-1] == f"{dist_info}/RECORD"
    assert source.stat().st_size - 300 < output.stat().st_size < source.stat().st_size + 300


def test_output_is_deterministic(make_wheel: MakeWheel, tmp_path: Path) -> None:
    source = make_wheel(PURE, {"demo/__init__.py": b"x = 1\n", "demo/data.txt": b"d" * 5000})
    changes = WheelChanges(files={"demo/new.py": b"y = 2\n"}, renames={"demo/data.txt": "demo/d"})
    first = rewrite_wheel(source, changes, tmp_path / "one.whl")
    second = rewrite_wheel(source, changes, tmp_path / "two.whl")
    assert first.read_bytes() == second.read_bytes()


def test_additions_renames_removals(make_wheel: MakeWheel, tmp_path: Path) -> None:
    source = make_wheel(
        PURE,
        {"demo/__init__.py": b"x = 1\n", "demo/old.txt": b"old", "demo/gone.txt": b"gone"},
    )
    changes = WheelChanges(
        files={"demo/__init__.py": b"x = 2\n", "demo.libs/libfoo.so": b"\x7fELF fake"},
        renames={"demo/old.txt": "demo/new.txt"},
        removals={"demo/gone.txt"},
        modes={"demo.libs/libfoo.so": 0o755},
    )
    output = rewrite_wheel(source, changes, tmp_path / PURE)
    with Wheel.open(output) as wheel:
        wheel.verify()
        names = [member.name for member in wheel.members()]
        # Input order, the addition before the first .dist-info member, RECORD last.
        assert names == [
            "demo.libs/libfoo.so",
            "demo-1.0.dist-info/METADATA",
            "demo-1.0.dist-info/WHEEL",
            "demo/__init__.py",
            "demo/new.txt",
            "demo-1.0.dist-info/RECORD",
        ]
        assert wheel.read_bytes("demo/__init__.py") == b"x = 2\n"
        assert wheel.read_bytes("demo/new.txt") == b"old"
        assert "demo/gone.txt" not in wheel.record
        modes = {member.name: member.mode for member in wheel.members()}
    assert modes["demo.libs/libfoo.so"] == 0o755
    assert modes["demo/new.txt"] == modes["demo/__init__.py"]


def test_additions_go_before_dist_info(make_wheel: MakeWheel, tmp_path: Path) -> None:
    """Installers stream members in order; .dist-info last is the convention pypa/wheel keeps."""
    source = make_wheel(PURE)
    output = rewrite_wheel(source, WheelChanges(files={"zzz.py": b""}), tmp_path / PURE)
    with zipfile.ZipFile(output) as archive:
        names = archive.namelist()
    assert names.index("zzz.py") < min(
        index for index, name in enumerate(names) if ".dist-info/" in name
    )
    assert names[-1] == "demo-1.0.dist-info/RECORD"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (WheelChanges(files={"../evil.py": b""}), "'..' component"),
        (WheelChanges(files={"/abs.py": b""}), "absolute path"),
        (WheelChanges(files={"demo/sub/": b""}), "names a directory"),
        (WheelChanges(files={"demo-1.0.dist-info/RECORD": b""}), "generated by the rewrite"),
        (WheelChanges(renames={"missing.py": "x.py"}), "not in the wheel"),
        (WheelChanges(removals={"missing.py"}), "not in the wheel"),
        (
            WheelChanges(renames={"demo/__init__.py": "demo-1.0.dist-info/METADATA"}),
            "would overwrite",
        ),
        (
            WheelChanges(filename=WheelFilename.parse("other-1.0-py3-none-any.whl")),
            "keeps the name and version",
        ),
    ],
)
def test_bad_changes_are_refused(
    make_wheel: MakeWheel, tmp_path: Path, changes: WheelChanges, message: str
) -> None:
    source = make_wheel(PURE)
    output = tmp_path / "out" / PURE
    output.parent.mkdir()
    with pytest.raises(UsageError, match=message):
        rewrite_wheel(source, changes, output)
    assert list(output.parent.iterdir()) == []


def test_failure_leaves_existing_output_untouched(make_wheel: MakeWheel, tmp_path: Path) -> None:
    """A source that breaks mid-copy must leave neither a torn file nor a temporary behind."""
    source = make_wheel(PURE, {"demo/big.bin": bytes(range(256)) * 4000})
    with Wheel.open(source) as wheel:
        start = wheel.archive.stored_member("demo/big.bin").data_start
    data = bytearray(source.read_bytes())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / PURE
    existing.write_bytes(b"previous good wheel")
    # The local header of the member lies about its compression method: the copy checks it.
    header = bytes(data).rfind(b"PK\x03\x04", 0, start)
    data[header + 8] ^= 0xFF  # compression method
    source.write_bytes(bytes(data))
    with pytest.raises(WheelError, match="local header"):
        rewrite_wheel(source, WheelChanges(files={"x.py": b""}), existing)
    assert existing.read_bytes() == b"previous good wheel"
    assert [path.name for path in out_dir.iterdir()] == [PURE]


def test_in_place(make_wheel: MakeWheel) -> None:
    source = make_wheel(PURE)
    rewrite_wheel(source, WheelChanges(files={"demo/extra.py": b"z = 3\n"}), source)
    with Wheel.open(source) as wheel:
        wheel.verify()
        assert wheel.read_bytes("demo/extra.py") == b"z = 3\n"


def test_zip64_layout(
    make_wheel: MakeWheel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the zip64 threshold lowered, every size and offset goes through zip64 fields."""
    source = make_wheel(PURE, {"demo/__init__.py": b"x = 1\n" * 100, "demo/b.py": b"b" * 300})
    monkeypatch.setattr(writer, "ZIP64_THRESHOLD", 50)
    output = rewrite_wheel(source, WheelChanges(files={"demo/c.py": b"c" * 200}), tmp_path / PURE)
    raw = output.read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # zip64 end record and locator
    with zipfile.ZipFile(output) as archive:
        assert archive.testzip() is None
        assert archive.read("demo/c.py") == b"c" * 200
    with Wheel.open(output) as wheel:
        wheel.verify()


def test_non_ascii_names_are_flagged_utf8(make_wheel: MakeWheel, tmp_path: Path) -> None:
    source = make_wheel(PURE)
    output = rewrite_wheel(source, WheelChanges(files={"demo/données.txt": b"ok"}), tmp_path / PURE)
    with zipfile.ZipFile(output) as archive:
        info = archive.getinfo("demo/données.txt")
        assert info.flag_bits & 0x800
        assert stat.S_ISREG(info.external_attr >> 16)
        assert archive.read(info) == b"ok"


def _retag_to_new_platform(source: Path, output_dir: Path) -> Path:
    new_name = _retagged(source, "manylinux_2_34_x86_64")
    output_dir.mkdir(exist_ok=True)
    return rewrite_wheel(source, WheelChanges(filename=new_name), output_dir / new_name.filename)


def test_members_before_dist_info_are_copied_as_one_block(
    real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    """Everything up to .dist-info keeps its offset: its bytes and central records are reused."""
    source = real_wheel("manylinux-vendored")
    output = _retag_to_new_platform(source, tmp_path)
    data, new = source.read_bytes(), output.read_bytes()
    before = read_central_directory(lambda at, size: data[at : at + size], len(data))
    after = read_central_directory(lambda at, size: new[at : at + size], len(new))
    first_dist_info = next(i for i, e in enumerate(before.entries) if ".dist-info/" in e.name)
    block_end = before.entries[first_dist_info].header_offset
    records_end = before.entries[first_dist_info].record_offset
    assert first_dist_info > 100 and new[:block_end] == data[:block_end]
    assert after.data[:records_end] == before.data[:records_end]
    with Wheel.open(output) as wheel:
        wheel.verify()


def test_directory_order_unlike_file_order_is_rewritten_member_by_member(
    real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    """A directory listing members in another order than the file holds them still retags."""
    data = bytearray(real_wheel("manylinux-vendored").read_bytes())
    directory = read_central_directory(lambda at, size: data[at : at + size], len(data))
    spans = [
        directory.data[entry.record_offset : following.record_offset]
        for entry, following in zip(directory.entries, directory.entries[1:], strict=False)
    ] + [directory.data[directory.entries[-1].record_offset :]]
    spans[0], spans[1] = spans[1], spans[0]  # the second member is now listed first
    data[directory.start : directory.start + len(directory.data)] = b"".join(spans)
    source = tmp_path / real_wheel("manylinux-vendored").name
    source.write_bytes(bytes(data))
    output = _retag_to_new_platform(source, tmp_path / "out")
    with Wheel.open(output) as wheel:
        wheel.verify()
        names = [member.name for member in wheel.members()]
    assert names[:2] == [directory.entries[1].name, directory.entries[0].name]
    with zipfile.ZipFile(output) as archive:
        assert archive.testzip() is None


def test_a_bad_local_header_inside_the_block_is_refused(
    real_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    data = bytearray(real_wheel("manylinux-vendored").read_bytes())
    directory = read_central_directory(lambda at, size: data[at : at + size], len(data))
    victim = directory.entries[5]
    data[victim.header_offset + 30] ^= 0x01  # first byte of the local header's name
    source = tmp_path / real_wheel("manylinux-vendored").name
    source.write_bytes(bytes(data))
    with pytest.raises(WheelError, match="local header names"):
        _retag_to_new_platform(source, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_only_a_replaced_file_is_made_durable(
    make_wheel: MakeWheel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsync when the rename replaces a file (its content is at stake), not for a new file."""
    source = make_wheel(PURE)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    (tmp_path / "new").mkdir()
    rewrite_wheel(source, WheelChanges(files={"demo/x.py": b""}), tmp_path / "new" / PURE)
    assert synced == []
    rewrite_wheel(source, WheelChanges(files={"demo/y.py": b""}), source)
    assert len(synced) == 2  # the file, then its directory


class _Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes each member with a data descriptor."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: Buffer) -> int:
        self.data += bytes(chunk)
        return len(bytes(chunk))


def test_members_with_data_descriptors_in_the_block_are_copied_whole(
    make_wheel: MakeWheel, tmp_path: Path
) -> None:
    """Members whose sizes follow their data (streamed zips) sit in the verbatim block too."""
    made = make_wheel(PURE, {"demo/__init__.py": b"x = 1\n", "demo/data.txt": b"d" * 5000})
    with zipfile.ZipFile(made) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    order = sorted(members, key=lambda name: ".dist-info/" in name)  # package files first
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in order:
            archive.writestr(name, members[name])
    source = tmp_path / "streamed" / PURE
    source.parent.mkdir()
    source.write_bytes(bytes(stream.data))
    with Wheel.open(source) as wheel:
        assert not wheel.archive.stored_member("demo/data.txt").self_contained
    output = _retag_to_new_platform(source, tmp_path / "out")
    with Wheel.open(output) as wheel:
        wheel.verify()
        assert wheel.read_bytes("demo/data.txt") == b"d" * 5000
    with zipfile.ZipFile(output) as archive:
        assert archive.testzip() is None
