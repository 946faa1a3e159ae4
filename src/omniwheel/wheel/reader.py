"""A wheel opened for reading: filename, WHEEL, METADATA and RECORD, checked against each other.

Opening reads only the three metadata files; ``verify()`` streams every
member, so even a multi-gigabyte wheel is checked in bounded memory.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from packaging.metadata import InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from omniwheel.wheel.archive import Limits, MemberInfo, MemberStream, WheelArchive
from omniwheel.wheel.errors import WheelError, one_line
from omniwheel.wheel.filename import WheelFilename
from omniwheel.wheel.record import Record, RecordEntry
from omniwheel.wheel.wheelinfo import SUPPORTED_WHEEL_VERSION, WheelInfo

if TYPE_CHECKING:  # the binaries package loads every format's parser
    from omniwheel.binaries.base import ReadableBuffer

_CHUNK = 1 << 20
_CORE_FIELDS = ("metadata_version", "name", "version")


class Wheel:
    """An open wheel whose metadata files agree with each other and with its filename.

    Members may be read from several threads at once (reads are positioned, ``pread``).
    """

    def __init__(self, archive: WheelArchive, filename: WheelFilename) -> None:
        """Use ``Wheel.open``; this reads and cross-checks the metadata of an open archive."""
        self.archive = archive
        self.path: Path = archive.path
        self.name = archive.name
        self.filename = filename
        self.dist_info = self._find_dist_info()
        self.data_dir = self.dist_info.removesuffix(".dist-info") + ".data"
        self._record_path = f"{self.dist_info}/RECORD"

        wheel_path = self._required(f"{self.dist_info}/WHEEL")
        self.wheel_info = WheelInfo.parse(
            archive.read_bytes(wheel_path), wheel=self.name, member=wheel_path
        )
        self.wheel_info.check_against(filename, wheel=self.name, member=wheel_path)
        self.record = Record.parse(
            archive.read_bytes(self._required(self._record_path)),
            wheel=self.name,
            member=self._record_path,
        )
        metadata_path = self._required(f"{self.dist_info}/METADATA")
        self._raw_metadata, self._unparsed_metadata = self._parse_metadata(metadata_path)
        self.metadata = Metadata.from_raw(self._raw_metadata, validate=False)
        self._check_core_metadata(metadata_path)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, limits: Limits | None = None) -> Wheel:
        """Open and check a wheel; use as a context manager so the file gets closed."""
        filename = WheelFilename.parse(path)
        archive = WheelArchive(path, limits)
        try:
            return cls(archive, filename)
        except BaseException:
            archive.close()
            raise

    @property
    def warnings(self) -> tuple[str, ...]:
        """One-line notes about a usable wheel that a tool should still show the user."""
        version = self.wheel_info.wheel_version
        if not self.wheel_info.newer_minor:
            return ()
        supported = ".".join(map(str, SUPPORTED_WHEEL_VERSION))
        return (
            f"{self.name}: Wheel-Version {version[0]}.{version[1]} is newer than {supported}; "
            "features of the newer format are ignored",
        )

    def _fail(self, problem: str, member: str | None = None) -> WheelError:
        return WheelError(self.name, problem, member)

    def _find_dist_info(self) -> str:
        """The one top-level ``.dist-info`` directory; its name must match the filename."""
        found = sorted(
            {
                name.split("/", 1)[0]
                for name in (member.name for member in self.archive.members())
                if "/" in name and name.split("/", 1)[0].endswith(".dist-info")
            }
        )
        stem = f"{self.filename.name.replace('-', '_')}-{self.filename.version}"
        if len(found) != 1:
            listed = ", ".join(found) if found else "none"
            raise self._fail(
                f"must hold exactly one .dist-info directory ({stem}.dist-info); found {listed}"
            )
        dist_info = found[0]
        name, _, version = dist_info.removesuffix(".dist-info").rpartition("-")
        try:
            matches = canonicalize_name(name) == self.filename.name and (
                Version(version) == self.filename.version
            )
        except InvalidVersion:
            matches = False
        if not matches:
            raise self._fail(
                f"directory {dist_info} does not match the filename's name and version; "
                f"expected {stem}.dist-info"
            )
        return dist_info

    def _required(self, path: str) -> str:
        if path not in self.archive:
            raise self._fail(f"has no {path}; .dist-info must hold METADATA, WHEEL and RECORD")
        return path

    def _parse_metadata(self, path: str) -> tuple[RawMetadata, dict[str, list[str]]]:
        data = self.archive.read_bytes(path, self._expected(path))
        try:
            raw, unparsed = parse_email(data)
        except ValueError as exc:
            raise self._fail(f"cannot be parsed as core metadata: {exc}", path) from exc
        for field in _CORE_FIELDS:
            if field in unparsed:
                raise self._fail(f"has a duplicated or undecodable {field} field", path)
        return raw, unparsed

    def _check_core_metadata(self, path: str) -> None:
        """Name and version must parse and agree with the filename (normalised)."""
        try:
            self.metadata.metadata_version  # noqa: B018 (validated on access)
            name, version = self.metadata.name, self.metadata.version
        except InvalidMetadata as exc:
            raise self._fail(f"is invalid: {exc}", path) from exc
        if canonicalize_name(name) != self.filename.name or version != self.filename.version:
            raise self._fail(
                f"says {name} {version} but the filename says "
                f"{self.filename.name} {self.filename.version}; they must match",
                path,
            )

    def metadata_problems(self) -> tuple[str, ...]:
        """What strict validation of METADATA finds, one line each.

        Not fatal: real wheels often carry small violations (setuptools wrote
        License-File under Metadata-Version 2.1, for instance), and installers
        accept them.
        """
        unparsed = self._unparsed_metadata
        problems = [f"METADATA field {key!r} is unknown or invalid" for key in unparsed]
        try:
            Metadata.from_raw(self._raw_metadata, validate=True)
        except ExceptionGroup as group:
            problems += [one_line(str(exc)) for exc in group.exceptions]
        return tuple(problems)

    def members(self) -> tuple[MemberInfo, ...]:
        """Every member in archive order, directories included."""
        return self.archive.members()

    def _expected(self, name: str) -> RecordEntry | None:
        """The RECORD row a member must match; failing if the member may not be read unlisted."""
        entry = self.record.get(name)
        if name.endswith("/") or name in (f"{self._record_path}.jws", f"{self._record_path}.p7s"):
            return entry
        if entry is None:
            raise self._fail("is not listed in RECORD; every file must be", name)
        if name != self._record_path and (entry.hash is None or entry.size is None):
            raise self._fail("has no hash or size in RECORD; give both (sha256=…,SIZE)", name)
        return entry

    def open_member(self, name: str) -> MemberStream:
        """A stream of the member that raises at EOF unless it matches its RECORD row."""
        return self.archive.open_member(name, self._expected(name))

    def read_bytes(self, name: str) -> bytes:
        """A small member's bytes, checked against RECORD (see ``Limits.in_memory_max``)."""
        return self.archive.read_bytes(name, self._expected(name))

    def member_buffer(self, name: str) -> AbstractContextManager[ReadableBuffer]:
        """The member's bytes (or a read-only mmap when large), checked against RECORD."""
        return self.archive.member_buffer(name, self._expected(name))

    def check_listing(self) -> None:
        """RECORD and the archive must list the same files; reads no member data.

        Callers that read every member themselves (the audit, through
        ``open_member``/``member_buffer``, which verify each hash as they go) call
        this first instead of ``verify``.
        """
        members = self.members()
        present = {member.name for member in members}
        for row in self.record:
            if row.path not in present:
                raise self._fail("is listed in RECORD but missing from the archive", row.path)
        for member in members:
            if not member.is_dir:
                self._expected(member.name)

    def verify(self) -> None:
        """Check the listing, then stream every file checking its RECORD hash and size."""
        self.check_listing()
        for member in self.members():
            if not member.is_dir:
                self.verify_member(member.name)

    def verify_member(self, name: str) -> None:
        """Stream one member through its RECORD check without keeping its bytes."""
        with self.open_member(name) as stream:
            while stream.read(_CHUNK):
                pass

    def close(self) -> None:
        self.archive.close()

    def __enter__(self) -> Wheel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
