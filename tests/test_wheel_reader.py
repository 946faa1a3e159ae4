"""Wheel.open / verify on wheels built in the test, valid and subtly broken."""

from __future__ import annotations

import mmap
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.wheel import Limits, MemberInfo, Wheel, WheelError

MakeWheel = Callable[..., Path]
NAME = "demo-1.0-py3-none-any.whl"
INIT = "demo/__init__.py"
# RECORD hashes of b"x = 1\n" and b"x = 2\n", computed independently with
#   printf 'x = 1\n' | openssl dgst -sha256 -binary | basenc --base64url | tr -d =
X1_HASH = "sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q"
X2_HASH = "sha256=QgXEgJqxsID9Mra_lkDl_qptG2m_n6aElUq3EBV-wUE"


def refused(path: Path, *, verify: bool = False) -> str:
    with pytest.raises(WheelError) as caught, Wheel.open(path) as wheel:
        if verify:
            wheel.verify()
    message = str(caught.value)
    assert message.startswith(f"{path.name}: ")
    assert "\n" not in message
    return message


def test_valid_wheel_opens_and_verifies(make_wheel: MakeWheel) -> None:
    with Wheel.open(make_wheel(NAME, {INIT: b"x = 1\n", "demo/data/": b""})) as wheel:
        wheel.verify()
        assert wheel.filename.name == "demo"
        assert (wheel.dist_info, wheel.data_dir) == ("demo-1.0.dist-info", "demo-1.0.data")
        assert wheel.metadata.name == "demo"
        assert str(wheel.metadata.version) == "1.0"
        assert wheel.wheel_info.root_is_purelib
        assert wheel.warnings == ()
        assert wheel.metadata_problems() == ()
        assert [entry.path for entry in wheel.record] == [
            "demo-1.0.dist-info/METADATA",
            "demo-1.0.dist-info/WHEEL",
            INIT,
            "demo/data/",
            "demo-1.0.dist-info/RECORD",
        ]
        assert wheel.members()[2] == MemberInfo(INIT, 6, 8, False, 0o600)
        assert wheel.read_bytes(INIT) == b"x = 1\n"
        with wheel.open_member(INIT) as stream:
            assert stream.read() == b"x = 1\n"


def test_large_member_buffer_is_verified_against_record(make_wheel: MakeWheel) -> None:
    content = bytes(range(256)) * 400
    path = make_wheel(
        NAME, {"demo/blob.bin": content}, edit_record=lambda t: t.replace(",102400", ",102399")
    )
    limits = Limits(in_memory_max=4096)
    with (
        Wheel.open(path, limits=limits) as wheel,
        pytest.raises(WheelError, match=r"'demo/blob.bin': is 102400 bytes but RECORD says 102399"),
        wheel.member_buffer("demo/blob.bin"),
    ):
        pass
    path = make_wheel(NAME, {"demo/blob.bin": content})
    with Wheel.open(path, limits=limits) as wheel, wheel.member_buffer("demo/blob.bin") as buffer:
        assert isinstance(buffer, mmap.mmap)
        assert len(buffer) == len(content)
        assert buffer[1000:1004] == content[1000:1004]


def test_record_hash_mismatch(make_wheel: MakeWheel) -> None:
    path = make_wheel(
        NAME,
        {INIT: b"x = 2\n"},
        edit_record=lambda text: re.sub(rf"{INIT},sha256=[^,]+", f"{INIT},{X1_HASH}", text),
    )
    assert refused(path, verify=True) == (
        f"{NAME}: member '{INIT}': hashes to {X2_HASH} but RECORD says {X1_HASH}"
    )


def test_unlisted_member(make_wheel: MakeWheel) -> None:
    path = make_wheel(NAME, unlisted={"demo/sneaky.py": b"import os\n"})
    message = refused(path, verify=True)
    assert (
        message == f"{NAME}: member 'demo/sneaky.py': is not listed in RECORD; every file must be"
    )
    with Wheel.open(path) as wheel:
        for check in (wheel.check_listing, lambda: wheel.open_member("demo/sneaky.py")):
            with pytest.raises(WheelError, match=r"'demo/sneaky\.py': is not listed in RECORD"):
                check()


def test_record_signatures_may_be_unlisted(make_wheel: MakeWheel) -> None:
    path = make_wheel(
        NAME,
        unlisted={"demo-1.0.dist-info/RECORD.jws": b"{}", "demo-1.0.dist-info/RECORD.p7s": b""},
    )
    with Wheel.open(path) as wheel:
        wheel.verify()


def test_record_row_without_a_file(make_wheel: MakeWheel) -> None:
    path = make_wheel(
        NAME,
        edit_record=lambda text: text + f"demo/gone.py,{X1_HASH},6\n",
    )
    with Wheel.open(path) as wheel, pytest.raises(WheelError, match="missing from the archive"):
        wheel.check_listing()
    assert refused(path, verify=True) == (
        f"{NAME}: member 'demo/gone.py': is listed in RECORD but missing from the archive"
    )


def test_record_row_without_hash(make_wheel: MakeWheel) -> None:
    path = make_wheel(NAME, edit_record=lambda text: re.sub(rf"{INIT},[^\n]*", f"{INIT},,", text))
    assert refused(path, verify=True).endswith(
        f"'{INIT}': has no hash or size in RECORD; give both (sha256=…,SIZE)"
    )


def test_md5_in_record_is_refused_at_open(make_wheel: MakeWheel) -> None:
    path = make_wheel(
        NAME, edit_record=lambda text: text + "demo/x.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0\n"
    )
    assert "hash algorithm 'md5' is not allowed; RECORD needs sha256 or stronger" in refused(path)


def test_dist_info_must_match_the_filename(make_wheel: MakeWheel, tmp_path: Path) -> None:
    built = make_wheel("other-1.0-py3-none-any.whl")
    path = built.rename(tmp_path / NAME)
    assert refused(path) == (
        f"{NAME}: directory other-1.0.dist-info does not match the filename's name and version; "
        "expected demo-1.0.dist-info"
    )


def test_dist_info_match_is_normalised(make_wheel: MakeWheel, tmp_path: Path) -> None:
    path = make_wheel("Demo.Pkg-1.0.0-py3-none-any.whl").rename(
        tmp_path / "demo_pkg-1.0-py3-none-any.whl"
    )
    with Wheel.open(path) as wheel:
        wheel.verify()
        assert wheel.dist_info == "Demo.Pkg-1.0.0.dist-info"
        assert wheel.data_dir == "Demo.Pkg-1.0.0.data"


def test_exactly_one_dist_info(make_wheel: MakeWheel) -> None:
    path = make_wheel(NAME, {"extra-2.0.dist-info/METADATA": b""})
    assert refused(path).endswith("found demo-1.0.dist-info, extra-2.0.dist-info")
    path = make_wheel(NAME, {"demo/__init__.py": b""})
    with (
        zipfile.ZipFile(path) as archive,
        zipfile.ZipFile(path.with_name("x-1-py3-none-any.whl"), "w") as out,
    ):
        out.writestr("x/__init__.py", archive.read("demo/__init__.py"))
    assert refused(path.with_name("x-1-py3-none-any.whl")).endswith("found none")


def test_wheel_version_2_is_refused_and_1_1_warns(make_wheel: MakeWheel) -> None:
    wheel_file = "demo-1.0.dist-info/WHEEL"
    path = make_wheel(
        NAME, {wheel_file: b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    )
    assert refused(path) == (
        f"{NAME}: member '{wheel_file}': Wheel-Version 2.0 has a major version this reader "
        "does not understand; only 1.x is supported"
    )
    path = make_wheel(
        NAME, {wheel_file: b"Wheel-Version: 1.1\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    )
    with Wheel.open(path) as wheel:
        assert wheel.warnings == (
            f"{NAME}: Wheel-Version 1.1 is newer than 1.0; "
            "features of the newer format are ignored",
        )


def test_wheel_tags_must_match_the_filename(make_wheel: MakeWheel, tmp_path: Path) -> None:
    path = make_wheel(NAME).rename(tmp_path / "demo-1.0-py2.py3-none-any.whl")
    assert refused(path).endswith("missing ['py2-none-any'], not in filename []")


def test_metadata_must_match_the_filename(make_wheel: MakeWheel) -> None:
    metadata = "demo-1.0.dist-info/METADATA"
    path = make_wheel(NAME, {metadata: b"Metadata-Version: 2.4\nName: demo\nVersion: 1.1\n"})
    assert (
        refused(path)
        == f"{NAME}: member '{metadata}': says demo 1.1 but the filename says demo 1.0; "
        "they must match"
    )
    path = make_wheel(NAME, {metadata: b"Metadata-Version: 2.4\nVersion: 1.0\n"})
    assert refused(path).endswith("is invalid: 'name' is a required field")


def test_metadata_problems_are_reported_not_fatal(make_wheel: MakeWheel) -> None:
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense-File: LICENSE\nX-Odd: 1\n"
    with Wheel.open(make_wheel(NAME, {"demo-1.0.dist-info/METADATA": metadata})) as wheel:
        assert wheel.metadata_problems() == (
            "METADATA field 'x-odd' is unknown or invalid",
            "license-file introduced in metadata version 2.4, not 2.1",
        )


def test_missing_required_file(make_wheel: MakeWheel, tmp_path: Path) -> None:
    source = make_wheel(NAME)
    target = tmp_path / "out" / NAME
    target.parent.mkdir()
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            if not info.filename.endswith("METADATA"):
                out.writestr(info, archive.read(info))
    assert refused(target) == (
        f"{NAME}: has no demo-1.0.dist-info/METADATA; "
        ".dist-info must hold METADATA, WHEEL and RECORD"
    )
