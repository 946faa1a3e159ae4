"""The ``.dist-info/RECORD`` file: one ``path,hash,size`` CSV row per member.

Installers trust RECORD to detect tampering, so hashes must be sha256 or
stronger (md5 and sha1 are refused) and written as urlsafe base64 without
padding. RECORD lists itself as ``path,,``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from omniwheel.wheel.errors import WheelError, decode_utf8

if TYPE_CHECKING:
    from hashlib import _Hash

ALLOWED_ALGORITHMS = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
"""Algorithms at least as strong as sha256, the spec's floor."""

_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]+=*")
_SIZE = re.compile(r"[0-9]+")
_CHUNK = 1 << 20


class FileHash(NamedTuple):
    """A RECORD hash: the algorithm and the digest as RECORD writes it (urlsafe base64, unpadded).

    Kept as text, not bytes: a 12,000-row RECORD is parsed on every retag, and
    installers compare hashes in this form too.
    """

    algorithm: str
    value: str

    @classmethod
    def of_digest(cls, algorithm: str, digest: bytes) -> FileHash:
        return cls(algorithm, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))

    @classmethod
    def parse(cls, text: str) -> FileHash:
        """Parse ``algo=urlsafe-b64``; raises ``ValueError`` saying what would be right."""
        algorithm, sep, encoded = text.partition("=")
        if not sep:
            raise ValueError(f"hash {text!r} is not of the form sha256=<urlsafe base64>")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise ValueError(
                f"hash algorithm {algorithm!r} is not allowed; RECORD needs sha256 or stronger"
            )
        if _URLSAFE_B64.fullmatch(encoded) is None:
            raise ValueError(f"hash {text!r} is not urlsafe base64 (A-Z a-z 0-9 - _)")
        stripped = encoded.rstrip("=")
        expected = _digest_size(algorithm)
        # Unpadded base64 of n bytes has exactly ceil(4n/3) characters.
        if len(stripped) != (4 * expected + 2) // 3:
            raise ValueError(
                f"hash {text!r} decodes to {len(stripped) * 3 // 4} bytes; "
                f"{algorithm} has {expected}"
            )
        return cls(algorithm, stripped)

    def __str__(self) -> str:
        return f"{self.algorithm}={self.value}"


@cache
def _digest_size(algorithm: str) -> int:
    return new_hasher(algorithm).digest_size


def new_hasher(algorithm: str) -> _Hash:
    """A fresh hash object for an allowed RECORD algorithm."""
    return hashlib.new(algorithm)


def hash_stream(stream: BinaryIO, algorithm: str = "sha256") -> tuple[FileHash, int]:
    """Hash a stream in chunks, so any size hashes in constant memory; returns (hash, size)."""
    hasher = new_hasher(algorithm)
    size = 0
    while chunk := stream.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return FileHash.of_digest(algorithm, hasher.digest()), size


class RecordEntry(NamedTuple):
    """One RECORD row; hash and size are ``None`` only for RECORD (and its signatures).

    Named tuples, like ``FileHash``: a RECORD can have 12,000 rows, each built on every read.
    """

    path: str
    hash: FileHash | None
    size: int | None

    @classmethod
    def for_bytes(cls, path: str, data: bytes, algorithm: str = "sha256") -> RecordEntry:
        """The row describing ``data`` stored at ``path`` (for rewritten members)."""
        hasher = new_hasher(algorithm)
        hasher.update(data)
        return cls(path, FileHash.of_digest(algorithm, hasher.digest()), len(data))


class Record:
    """The rows of a RECORD file, in file order, looked up by member path."""

    def __init__(self, entries: Iterable[RecordEntry]) -> None:
        self.entries = tuple(entries)
        self._by_path = {entry.path: entry for entry in self.entries}

    @classmethod
    def parse(cls, data: bytes, *, wheel: str, member: str) -> Record:
        """Parse RECORD bytes, failing on any malformed or duplicated row."""

        def fail(problem: str) -> WheelError:
            return WheelError(wheel, problem, member)

        text = decode_utf8(data, wheel=wheel, member=member)
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        entries: dict[str, RecordEntry] = {}
        try:
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != 3:
                    raise fail(f"line {line} has {len(row)} fields; rows are path,hash,size")
                path, hash_text, size_text = row
                if not path:
                    raise fail(f"line {line} has an empty path")
                if path in entries:
                    raise fail(f"line {line} lists {path!r} a second time; list it once")
                if size_text and _SIZE.fullmatch(size_text) is None:
                    raise fail(f"line {line}: size {size_text!r} is not a decimal byte count")
                try:
                    file_hash = FileHash.parse(hash_text) if hash_text else None
                except ValueError as exc:
                    raise fail(f"line {line}: {exc}") from exc
                entries[path] = RecordEntry(path, file_hash, int(size_text) if size_text else None)
        except csv.Error as exc:
            raise fail(f"is not valid CSV at line {reader.line_num}: {exc}") from exc
        return cls(entries.values())

    def get(self, path: str) -> RecordEntry | None:
        return self._by_path.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._by_path

    def __iter__(self) -> Iterator[RecordEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def updated(self, entries: Iterable[RecordEntry]) -> Record:
        """A copy with rows replaced in place by path, new paths appended."""
        changes = {entry.path: entry for entry in entries}
        kept = [changes.pop(entry.path, entry) for entry in self.entries]
        return Record([*kept, *changes.values()])

    def serialize(self) -> bytes:
        """RECORD bytes as pypa/wheel writes them (``csv`` quoting, ``\\n`` line ends)."""
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        for entry in self.entries:
            size = "" if entry.size is None else str(entry.size)
            writer.writerow((entry.path, "" if entry.hash is None else str(entry.hash), size))
        return out.getvalue().encode("utf-8")
