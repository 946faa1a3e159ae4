"""Which version of a project runs where: versions x platforms, from each wheel's tags.

A column is a platform without its minimum OS (``ios``, ``ios-simulator``,
``android-x86_64``, ``pyodide-2025.0``, ``manylinux``, ``windows``…), named by
the platform engine's short name, so a column means one kind of device; pure
wheels (``any``) get the ``pure`` column. Each cell lists the wheels for that
version and platform with the check verdict stored when they were added.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from packaging.version import Version

from omniwheel.errors import UsageError
from omniwheel.index.db import FileRow, ProjectState
from omniwheel.platforms import FAMILIES, parse_platform
from omniwheel.wheel import WheelFilename

PURE = "pure"
_FAMILY_ORDER = {family.name: index for index, family in enumerate(FAMILIES)}


@dataclass(frozen=True)
class Column:
    key: str
    family: str
    title: str
    arch: str | None

    @property
    def order(self) -> tuple[int, str]:
        return (_FAMILY_ORDER.get(self.family, len(_FAMILY_ORDER)), self.key)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "family": self.family, "title": self.title, "arch": self.arch}


@cache
def column_of(platform_tag: str) -> Column:
    """The matrix column of a wheel platform tag."""
    if platform_tag == "any":
        return Column(PURE, PURE, "Pure Python", None)
    try:
        platform = parse_platform(platform_tag)
    except UsageError:
        return Column(platform_tag, "other", "Other", None)
    key = platform.short_name.partition("@")[0]
    return Column(key, platform.family.name, platform.family.title, platform.arch)


def families_of(filenames: list[str]) -> list[str]:
    """The families a project's wheels cover, in the engine's order (for the list page)."""
    found = {
        column_of(tag).family
        for filename in filenames
        for tag in WheelFilename.parse(filename).platform_tags
    }
    return sorted(found, key=lambda family: _FAMILY_ORDER.get(family, len(_FAMILY_ORDER)))


def project_matrix(state: ProjectState, files: list[FileRow], files_url: str) -> dict[str, Any]:
    """The matrix document behind the project page (and its JSON API); cells link
    ``files_url + project/filename``."""
    columns: dict[str, Column] = {}
    rows: dict[str, dict[str, Any]] = {}
    for row in files:
        parsed = WheelFilename.parse(row.filename)
        statuses = {v["platform_tag"]: v["status"] for v in row.report.get("verdicts", [])}
        version = rows.setdefault(row.version, {"version": row.version, "cells": {}})
        for platform_tag in parsed.platform_tags:
            column = column_of(platform_tag)
            columns[column.key] = column
            version["cells"].setdefault(column.key, []).append(
                {
                    "filename": row.filename,
                    "url": f"{files_url}{row.project}/{row.filename}",
                    "platform_tag": platform_tag,
                    "python": ".".join(parsed.python_tags),
                    "abi": ".".join(parsed.abi_tags),
                    "status": statuses.get(platform_tag, "unchecked"),
                    "findings": [
                        found
                        for found in row.report.get("findings", [])
                        if found.get("platform_tag") in (platform_tag, None)
                    ],
                    "yanked": row.yanked,
                    "yank_reason": row.yank_reason,
                }
            )
    for version in rows.values():
        version["yanked"] = all(
            cell["yanked"] for cells in version["cells"].values() for cell in cells
        )
    ordered = sorted(columns.values(), key=lambda column: column.order)
    return {
        "name": state.name,
        "display_name": state.display_name,
        "columns": [column.to_json() for column in ordered],
        "versions": sorted(rows.values(), key=lambda row: Version(row["version"]), reverse=True),
    }
