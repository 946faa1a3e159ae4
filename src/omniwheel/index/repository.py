"""The index as an API: add checked wheels, yank, remove, verify, reconcile after a crash.

A file becomes visible in four steps — staged in ``tmp/`` and flushed, marked
pending in the database, linked into ``files/``, then committed as a row (which
clears the mark in the same transaction). Removal runs the same way backwards.
A crash between steps leaves a pending mark; ``reconcile`` (run when the server
starts) moves any file without a row to ``quarantine/``, so no row ever points
at a missing file and no unannounced file is ever served.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from omniwheel.audit import WheelReport, check_open_wheel
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.files import file_sha256
from omniwheel.index.config import IndexConfig
from omniwheel.index.db import Database, FileRow
from omniwheel.index.storage import Storage, copy_hashed, process_alive, publish
from omniwheel.wheel import Wheel, WheelFilename

METADATA_SUFFIX = ".metadata"


class DuplicateFileError(OmniwheelError):
    """The index already has this wheel; files are never overwritten."""


class WheelRefusedError(OmniwheelError):
    """The wheel's binaries cannot run on a platform its tags claim."""

    def __init__(self, report: WheelReport) -> None:
        self.report = report
        errors = [f for f in report.findings if f.severity == "error"]
        first = errors[0]
        where = f" ({first.member})" if first.member else ""
        super().__init__(
            f"{report.wheel.name}: refused, {len(errors)} error finding(s); first: "
            f"[{first.platform_tag}] {first.code}{where}: {first.message}"
        )


class NotFoundError(UsageError):
    """No file matches what was asked for."""


def report_json(report: WheelReport) -> dict[str, Any]:
    """The check result as stored with each file and returned to refused uploaders."""
    return {
        "verdicts": [verdict.to_json() for verdict in report.verdicts],
        "findings": [found.to_json() for found in report.findings],
    }


@dataclass(frozen=True)
class Problem:
    """One disagreement between the database, the files on disk and their hashes."""

    kind: str
    filename: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "filename": self.filename, "message": self.message}


@dataclass(frozen=True)
class Verified:
    """What ``verify`` compared: how many files, and every disagreement found."""

    files: int
    problems: list[Problem]


@dataclass
class Reconciled:
    """What a startup check put right."""

    quarantined: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    staging_removed: list[str] = field(default_factory=list)


class PackageIndex:
    """An index root: its configuration, database and files."""

    def __init__(self, root: Path, config: IndexConfig | None = None) -> None:
        self.root = root
        self.storage = Storage(root)
        self.storage.create()
        self.config = config or IndexConfig.load(root)
        self.db = Database(self.storage.database)

    def close(self) -> None:
        self.db.close()

    # -- adding ----------------------------------------------------------------------------
    def add_path(self, path: Path) -> FileRow:
        """Check and add a wheel from anywhere on disk (``omniwheel index add``)."""
        filename = WheelFilename.parse(path)
        self._refuse_duplicate(filename)
        with self.storage.staging() as staging, path.open("rb") as source:
            staged = staging / path.name
            sha256, size = copy_hashed(source, staged)
            return self.ingest(staged, sha256, size)

    def _refuse_duplicate(self, filename: WheelFilename) -> None:
        existing = self.db.has_canonical(filename.filename)
        if existing is not None:
            raise DuplicateFileError(
                f"{filename.filename} is already in the index (as {existing}); "
                "files are never overwritten: upload a new version or build number"
            )

    def ingest(self, staged: Path, sha256: str, size: int) -> FileRow:
        """Check a staged wheel and make it visible; the caller owns ``staged``'s directory.

        Raises ``WheelError`` (no usable wheel, filename and metadata disagree),
        ``WheelRefusedError`` (error findings) or ``DuplicateFileError``.
        """
        filename = WheelFilename.parse(staged)
        self._refuse_duplicate(filename)
        with Wheel.open(staged) as wheel:
            report = check_open_wheel(wheel)
            if report.has_errors:
                raise WheelRefusedError(report)
            metadata = wheel.read_bytes(f"{wheel.dist_info}/METADATA")
            display_name = wheel.metadata.name
            requires_python = wheel.metadata.requires_python
        project = filename.name
        final = self.storage.file_path(project, staged.name)
        row = FileRow(
            filename=staged.name,
            canonical=filename.filename,
            project=project,
            version=str(filename.version),
            size=size,
            sha256=sha256,
            metadata_sha256=hashlib.sha256(metadata).hexdigest(),
            requires_python=None if requires_python is None else str(requires_python),
            upload_time=time.time(),
            yanked=False,
            yank_reason=None,
            report=report_json(report),
        )
        # Staged beside the wheel, so a crash leaves nothing half-written under files/.
        staged_metadata = staged.with_name(staged.name + METADATA_SUFFIX)
        staged_metadata.write_bytes(metadata)
        self.db.add_pending(row.filename, project, os.getpid())
        try:
            publish(staged, final)
        except FileExistsError:
            self.db.drop_pending(row.filename)
            raise DuplicateFileError(f"{row.filename} is already in the index") from None
        publish(staged_metadata, final.with_name(final.name + METADATA_SUFFIX))
        try:
            self.db.commit_files([row], {project: display_name})
        except sqlite3.IntegrityError:
            self._unlink(row)
            self.db.drop_pending(row.filename)
            raise DuplicateFileError(f"{row.filename} is already in the index") from None
        return row

    def _unlink(self, row: FileRow) -> None:
        final = self.storage.file_path(row.project, row.filename)
        final.with_name(final.name + METADATA_SUFFIX).unlink(missing_ok=True)
        final.unlink(missing_ok=True)

    # -- changing ----------------------------------------------------------------------------
    def select(self, selector: str) -> list[FileRow]:
        """Files named by a filename, a project, or a requirement (``name==1.0``, ``name<2``)."""
        if selector.endswith(".whl"):
            canonical = WheelFilename.parse(selector).filename
            stored = self.db.has_canonical(canonical)
            found = self.db.file(stored) if stored else None
            if found is None:
                raise NotFoundError(f"{selector} is not in the index")
            return [found]
        try:
            requirement = Requirement(selector)
        except InvalidRequirement as exc:
            raise UsageError(
                f"{selector!r} is neither a wheel filename nor a requirement like name==1.0: {exc}"
            ) from exc
        files = [
            row
            for row in self.db.files(canonicalize_name(requirement.name))
            if requirement.specifier.contains(Version(row.version), prereleases=True)
        ]
        if not files:
            raise NotFoundError(f"no file in the index matches {selector}")
        return files

    def yank(self, selector: str, reason: str | None, *, undo: bool = False) -> list[FileRow]:
        """Mark files yanked (PEP 592) or not; the files as they now are.

        Installers skip yanked files unless a requirement pins them exactly.
        """
        return self.db.set_yanked(self.select(selector), reason, not undo)

    def remove(self, selector: str) -> list[FileRow]:
        """Hide the files at once, then delete their bytes."""
        files = self.select(selector)
        self.db.delete_files(files, os.getpid())
        for row in files:
            self._unlink(row)
            self.db.drop_pending(row.filename)
        return files

    # -- consistency -------------------------------------------------------------------------
    def reconcile(self) -> Reconciled:
        """Finish what crashed writers left: unannounced files out of sight, staging gone."""
        result = Reconciled()
        for pending in self.db.pending():
            if process_alive(pending.pid):
                continue
            if self.db.file(pending.filename) is not None:
                result.completed.append(pending.filename)
            else:
                final = self.storage.file_path(pending.project, pending.filename)
                for path in (final, final.with_name(final.name + METADATA_SUFFIX)):
                    if path.exists():
                        self.storage.to_quarantine(path)
                        result.quarantined.append(path.name)
            self.db.drop_pending(pending.filename)
        for directory in self.storage.stale_staging():
            shutil.rmtree(directory, ignore_errors=True)
            result.staging_removed.append(directory.name)
        return result

    def verify(self) -> Verified:
        """Every file against its row and hashes, and every row and pending mark against disk."""
        problems: list[Problem] = []
        expected: set[Path] = set()
        rows = self.db.files()
        for row in rows:
            path = self.storage.file_path(row.project, row.filename)
            metadata = path.with_name(path.name + METADATA_SUFFIX)
            expected |= {path, metadata}
            problems += _compare(path, row.filename, row.size, row.sha256, "")
            if row.metadata_sha256 is not None:
                problems += _compare(metadata, row.filename, None, row.metadata_sha256, "metadata-")
        for path in sorted(self.storage.files.glob("*/*")):
            if path not in expected:
                problems.append(
                    Problem(
                        "unlisted-file", path.name, f"{path} is on disk but not in the database"
                    )
                )
        problems += [
            Problem("pending", p.filename, f"an unfinished write by process {p.pid}")
            for p in self.db.pending()
        ]
        problems += [
            Problem("stale-staging", p.name, f"{p} was left by a crashed writer")
            for p in self.storage.stale_staging()
        ]
        return Verified(len(rows), problems)


def _compare(path: Path, filename: str, size: int | None, sha256: str, kind: str) -> list[Problem]:
    if not path.is_file():
        return [Problem(f"{kind}missing", filename, f"{path} is in the database but not on disk")]
    if size is not None and path.stat().st_size != size:
        return [
            Problem(
                f"{kind}size-mismatch",
                filename,
                f"{path} has {path.stat().st_size} bytes; the database says {size}",
            )
        ]
    actual = file_sha256(path)
    if actual != sha256:
        return [
            Problem(
                f"{kind}hash-mismatch",
                filename,
                f"{path} has sha256 {actual}; the database says {sha256}",
            )
        ]
    return []
