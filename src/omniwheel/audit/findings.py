"""Findings: what a check found, with a stable code, a severity and a fix hint."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from omniwheel.datafiles import load_table


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Finding(NamedTuple):
    code: str
    severity: Severity
    message: str
    hint: str
    member: str | None = None
    platform_tag: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "member": self.member,
            "platform_tag": self.platform_tag,
            "message": self.message,
            "hint": self.hint,
        }


def _catalog() -> dict[str, dict[str, str]]:
    return load_table("omniwheel.audit", "findings.toml")


def finding(
    code: str,
    message: str,
    *,
    member: str | None = None,
    platform_tag: str | None = None,
    **fields: str,
) -> Finding:
    """A finding of a catalogued ``code``; ``fields`` fill the hint's placeholders."""
    entry = _catalog()[code]
    return Finding(
        code=code,
        severity=Severity(entry["severity"]),
        message=message,
        hint=entry["hint"].format_map(fields),
        member=member,
        platform_tag=platform_tag,
    )
