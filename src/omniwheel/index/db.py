"""The index database: SQLite in WAL mode, shared by every worker process.

Readers never block writers in WAL mode, and every write is one short
``BEGIN IMMEDIATE`` transaction, so several processes can share one root. A
global serial number bumps on every change; a project's serial is the global
serial of its last change, which makes ETags cheap and identical across workers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO state VALUES ('serial', 0), ('changed', 0);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    serial INTEGER NOT NULL,
    changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    filename TEXT PRIMARY KEY,
    canonical TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL REFERENCES projects(name),
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    metadata_sha256 TEXT,
    requires_python TEXT,
    upload_time REAL NOT NULL,
    yanked INTEGER NOT NULL DEFAULT 0,
    yank_reason TEXT,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_project ON files(project);
CREATE TABLE IF NOT EXISTS pending (
    filename TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    projects TEXT,
    created REAL NOT NULL,
    revoked REAL
);
"""
_FILE_COLUMNS = (
    "filename, canonical, project, version, size, sha256, metadata_sha256, requires_python, "
    "upload_time, yanked, yank_reason, report"
)


@dataclass(frozen=True)
class FileRow:
    """One wheel the index serves; ``report`` is the check's verdicts and findings."""

    filename: str
    canonical: str
    project: str
    version: str
    size: int
    sha256: str
    metadata_sha256: str | None
    requires_python: str | None
    upload_time: float
    yanked: bool
    yank_reason: str | None
    report: dict[str, Any]

    @classmethod
    def from_sql(cls, row: tuple[Any, ...]) -> FileRow:
        (filename, canonical, project, version, size, sha256, metadata_sha256, requires_python,
         upload_time, yanked, yank_reason, report) = row  # fmt: skip
        return cls(
            filename, canonical, project, version, size, sha256, metadata_sha256,
            requires_python, upload_time, bool(yanked), yank_reason, json.loads(report),
        )  # fmt: skip

    def to_sql(self) -> tuple[Any, ...]:
        """The values for ``_FILE_COLUMNS``, in that order (the inverse of ``from_sql``)."""
        return (
            self.filename, self.canonical, self.project, self.version, self.size, self.sha256,
            self.metadata_sha256, self.requires_python, self.upload_time, int(self.yanked),
            self.yank_reason, json.dumps(self.report),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "project": self.project,
            "version": self.version,
            "size": self.size,
            "sha256": self.sha256,
            "metadata_sha256": self.metadata_sha256,
            "requires_python": self.requires_python,
            "upload_time": self.upload_time,
            "yanked": self.yanked,
            "yank_reason": self.yank_reason,
            "check": self.report,
        }


@dataclass(frozen=True)
class ProjectState:
    name: str
    display_name: str
    serial: int
    changed: float


@dataclass(frozen=True)
class PendingRow:
    filename: str
    project: str
    pid: int
    started: float


@dataclass(frozen=True)
class TokenRow:
    id: str
    name: str
    digest: str
    projects: tuple[str, ...] | None
    created: float
    revoked: float | None


class Database:
    """One connection per thread to ``path``; writes are short immediate transactions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self.write() as connection:
            for statement in _SCHEMA.split(";"):
                connection.execute(statement)

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    def close(self) -> None:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A transaction that takes the write lock at once (no deadlocking upgrades)."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------
    def serial(self) -> tuple[int, float]:
        """The global serial and the time of the last change (ETag and Last-Modified)."""
        rows = dict(self.connection().execute("SELECT key, value FROM state").fetchall())
        return int(rows["serial"]), float(rows["changed"])

    def project(self, name: str) -> ProjectState | None:
        row = (
            self.connection()
            .execute("SELECT name, display_name, serial, changed FROM projects WHERE name = ?",
                     (name,))
            .fetchone()
        )  # fmt: skip
        return ProjectState(*row) if row else None

    def projects(self) -> list[ProjectState]:
        """Every project, by name (a project exists while it has files)."""
        rows = self.connection().execute(
            "SELECT name, display_name, serial, changed FROM projects ORDER BY name"
        )
        return [ProjectState(*row) for row in rows]

    def search(self, query: str, limit: int) -> tuple[list[ProjectState], int]:
        """Projects whose name contains ``query``: the first ``limit`` and the count."""
        where = "WHERE name LIKE ? ESCAPE '\\'"
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        connection = self.connection()
        (total,) = connection.execute(
            f"SELECT count(*) FROM projects {where}", (pattern,)
        ).fetchone()
        rows = connection.execute(
            f"SELECT name, display_name, serial, changed FROM projects {where} "
            "ORDER BY name LIMIT ?",
            (pattern, limit),
        )
        return [ProjectState(*row) for row in rows], int(total)

    def filenames(self, projects: Iterable[str]) -> dict[str, list[str]]:
        """The filenames of each of ``projects``, in one query."""
        names = list(projects)
        rows = self.connection().execute(
            "SELECT project, filename FROM files "
            "WHERE project IN (SELECT value FROM json_each(?)) ORDER BY filename",
            (json.dumps(names),),
        )
        result: dict[str, list[str]] = {name: [] for name in names}
        for project, filename in rows:
            result[project].append(filename)
        return result

    def files(self, project: str | None = None) -> list[FileRow]:
        """The files of ``project`` (every file when None), by filename."""
        query = f"SELECT {_FILE_COLUMNS} FROM files"
        if project is None:
            rows = self.connection().execute(query + " ORDER BY filename")
        else:
            rows = self.connection().execute(
                query + " WHERE project = ? ORDER BY filename", (project,)
            )
        return [FileRow.from_sql(row) for row in rows]

    def file(self, filename: str) -> FileRow | None:
        row = (
            self.connection()
            .execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE filename = ?", (filename,))
            .fetchone()
        )
        return FileRow.from_sql(row) if row else None

    def has_canonical(self, canonical: str) -> str | None:
        """The stored filename of the same wheel under any spelling, if there is one."""
        row = (
            self.connection()
            .execute("SELECT filename FROM files WHERE canonical = ?", (canonical,))
            .fetchone()
        )
        return str(row[0]) if row else None

    def pending(self) -> list[PendingRow]:
        rows = self.connection().execute("SELECT filename, project, pid, started FROM pending")
        return [PendingRow(*row) for row in rows]

    # -- writing ---------------------------------------------------------------------------
    def _bump(self, connection: sqlite3.Connection, projects: Iterable[str]) -> None:
        """Advance the serial and stamp it on the changed projects."""
        now = time.time()
        (serial,) = connection.execute(
            "UPDATE state SET value = value + 1 WHERE key = 'serial' RETURNING value"
        ).fetchone()
        connection.execute("UPDATE state SET value = ? WHERE key = 'changed'", (now,))
        connection.executemany(
            "UPDATE projects SET serial = ?, changed = ? WHERE name = ?",
            [(serial, now, project) for project in set(projects)],
        )

    def add_pending(self, filename: str, project: str, pid: int) -> None:
        """Announce a file about to appear or disappear on disk (see ``reconcile``)."""
        with self.write() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?)",
                (filename, project, pid, time.time()),
            )

    def drop_pending(self, filename: str) -> None:
        with self.write() as connection:
            connection.execute("DELETE FROM pending WHERE filename = ?", (filename,))

    def commit_files(self, rows: Sequence[FileRow], display_names: Mapping[str, str]) -> None:
        """Make published files visible in one transaction, clearing their pending marks.

        ``display_names`` maps each project to its name as METADATA spells it.
        Raises ``sqlite3.IntegrityError`` when the same wheel (any spelling) is there.
        """
        with self.write() as connection:
            connection.executemany(
                "INSERT INTO projects VALUES (?, ?, 0, 0) ON CONFLICT(name) "
                "DO UPDATE SET display_name = excluded.display_name",
                display_names.items(),
            )
            placeholders = ", ".join("?" * len(_FILE_COLUMNS.split(",")))
            connection.executemany(
                f"INSERT INTO files ({_FILE_COLUMNS}) VALUES ({placeholders})",
                [row.to_sql() for row in rows],
            )
            connection.executemany(
                "DELETE FROM pending WHERE filename = ?", [(row.filename,) for row in rows]
            )
            self._bump(connection, [row.project for row in rows])

    def set_yanked(self, files: list[FileRow], reason: str | None, yanked: bool) -> list[FileRow]:
        """Yank or un-yank ``files``; the rows as they now are."""
        updated = [
            replace(row, yanked=yanked, yank_reason=reason if yanked else None) for row in files
        ]
        with self.write() as connection:
            connection.executemany(
                "UPDATE files SET yanked = ?, yank_reason = ? WHERE filename = ?",
                [(int(row.yanked), row.yank_reason, row.filename) for row in updated],
            )
            self._bump(connection, [row.project for row in files])
        return updated

    def delete_files(self, files: list[FileRow], pid: int) -> None:
        """Hide files, marking them pending until their bytes are gone from disk.

        A project whose last file goes is deleted too, so it is gone from every page.
        """
        projects = {row.project for row in files}
        with self.write() as connection:
            now = time.time()
            connection.executemany(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?)",
                [(row.filename, row.project, pid, now) for row in files],
            )
            connection.executemany(
                "DELETE FROM files WHERE filename = ?", [(row.filename,) for row in files]
            )
            self._bump(connection, projects)
            connection.executemany(
                "DELETE FROM projects WHERE name = ? "
                "AND NOT EXISTS (SELECT 1 FROM files WHERE files.project = projects.name)",
                [(project,) for project in projects],
            )

    # -- tokens ----------------------------------------------------------------------------
    def add_token(self, row: TokenRow) -> None:
        projects = None if row.projects is None else json.dumps(list(row.projects))
        with self.write() as connection:
            connection.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.name, row.digest, projects, row.created, row.revoked),
            )

    def tokens(self) -> list[TokenRow]:
        rows = self.connection().execute(
            "SELECT id, name, digest, projects, created, revoked FROM tokens ORDER BY created"
        )
        return [_token(row) for row in rows]

    def token(self, token_id: str) -> TokenRow | None:
        row = (
            self.connection()
            .execute(
                "SELECT id, name, digest, projects, created, revoked FROM tokens WHERE id = ?",
                (token_id,),
            )
            .fetchone()
        )
        return _token(row) if row else None

    def revoke_token(self, name: str) -> bool:
        """Revoke the live token called ``name``; False when there is none."""
        with self.write() as connection:
            cursor = connection.execute(
                "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL",
                (time.time(), name),
            )
            return cursor.rowcount > 0


def _token(row: tuple[Any, ...]) -> TokenRow:
    token_id, name, digest, projects, created, revoked = row
    scope = None if projects is None else tuple(json.loads(projects))
    return TokenRow(token_id, name, digest, scope, created, revoked)
