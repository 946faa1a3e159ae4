"""RECORD parsing, hash rules and serialisation."""

from __future__ import annotations

import hashlib
import io

import pytest

from omniwheel.wheel import FileHash, Record, RecordEntry, WheelError, hash_stream

# Hash of b"x = 1\n", checked independently with:
#   printf 'x = 1\n' | openssl dgst -sha256 -binary | basenc --base64url | tr -d =
X_HASH = "sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q"


def parse(text: str) -> Record:
    return Record.parse(text.encode(), wheel="demo.whl", member="demo-1.0.dist-info/RECORD")


def test_parses_rows_and_the_self_row() -> None:
    record = parse(
        f'demo/__init__.py,{X_HASH},6\n"demo/a,b.py",{X_HASH},6\n\ndemo-1.0.dist-info/RECORD,,\n'
    )
    assert len(record) == 3
    entry = record.get("demo/__init__.py")
    assert entry is not None
    assert entry.size == 6
    assert entry.hash == FileHash.of_digest("sha256", hashlib.sha256(b"x = 1\n").digest())
    assert str(entry.hash) == X_HASH
    assert "demo/a,b.py" in record
    assert record.get("demo-1.0.dist-info/RECORD") == RecordEntry(
        "demo-1.0.dist-info/RECORD", None, None
    )


def test_serialize_round_trips_with_csv_quoting() -> None:
    text = f'demo/__init__.py,{X_HASH},6\n"demo/a,b.py",{X_HASH},6\ndemo-1.0.dist-info/RECORD,,\n'
    assert parse(text).serialize() == text.encode()


def test_padded_hashes_are_accepted_and_written_unpadded() -> None:
    record = parse(f"a.py,{X_HASH}=,6\n")
    assert record.serialize() == f"a.py,{X_HASH},6\n".encode()


def test_stronger_algorithms_are_accepted() -> None:
    digest = hashlib.sha512(b"x = 1\n").digest()
    entry = RecordEntry("a.py", FileHash.of_digest("sha512", digest), 6)
    assert parse(Record([entry]).serialize().decode()).get("a.py") == entry


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("a.py,md5=1B2M2Y8AsgTpgAmY7PhCfg,0", "hash algorithm 'md5' is not allowed"),
        ("a.py,sha1=2jmj7l5rSw0yVb_vlWAYkK_YBwk,0", "hash algorithm 'sha1' is not allowed"),
        ("a.py,sha256,6", "is not of the form sha256=<urlsafe base64>"),
        ("a.py,sha256=nia_NpkRxFwkPGhBR7I_yeHc/PJX0pmhxjIBam_NM_Q,6", "is not urlsafe base64"),
        ("a.py,sha256=LmE5Ujp1,6", "decodes to 6 bytes; sha256 has 32"),
        (f"a.py,{X_HASH},six", "size 'six' is not a decimal byte count"),
        (f"a.py,{X_HASH}", "line 1 has 2 fields"),
        (f",{X_HASH},6", "line 1 has an empty path"),
        (f"a.py,{X_HASH},6\na.py,{X_HASH},6", "line 2 lists 'a.py' a second time"),
        ('"a.py,sha256=,6\n', "is not valid CSV"),
    ],
)
def test_malformed_rows_are_refused(row: str, message: str) -> None:
    with pytest.raises(WheelError, match=message) as caught:
        parse(row + "\n")
    assert str(caught.value).startswith("demo.whl: member 'demo-1.0.dist-info/RECORD': ")
    assert "\n" not in str(caught.value)


def test_non_utf8_record_is_refused() -> None:
    with pytest.raises(WheelError, match="is not UTF-8"):
        Record.parse(b"\xff,,\n", wheel="demo.whl", member="RECORD")


def test_hash_stream_and_for_bytes_agree() -> None:
    data = bytes(range(256)) * 5000  # larger than one read chunk
    file_hash, size = hash_stream(io.BytesIO(data))
    assert (file_hash, size) == (
        FileHash.of_digest("sha256", hashlib.sha256(data).digest()),
        len(data),
    )
    assert RecordEntry.for_bytes("blob", data) == RecordEntry("blob", file_hash, size)


def test_updated_replaces_rows_in_place_and_appends_new_ones() -> None:
    record = parse(f"a.py,{X_HASH},6\nd/RECORD,,\n")
    new_a = RecordEntry.for_bytes("a.py", b"changed")
    new_b = RecordEntry.for_bytes("b.py", b"")
    assert [entry.path for entry in record.updated([new_b, new_a])] == ["a.py", "d/RECORD", "b.py"]
    assert record.updated([new_a]).get("a.py") == new_a
