"""Checking where a wheel can really run: per-family binary rules over parsed binaries.

The names below load on first use (PEP 562): ``check`` pulls in every family's rules
and data tables, which a command that only needs ``Finding`` should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omniwheel.audit.check import (
        BinaryMember,
        Verdict,
        WheelReport,
        check_open_wheel,
        check_wheel,
    )
    from omniwheel.audit.findings import Finding, Severity

_HOMES = {
    "BinaryMember": "check",
    "Verdict": "check",
    "WheelReport": "check",
    "check_open_wheel": "check",
    "check_wheel": "check",
    "Finding": "findings",
    "Severity": "findings",
}

__all__ = [
    "BinaryMember",
    "Finding",
    "Severity",
    "Verdict",
    "WheelReport",
    "check_open_wheel",
    "check_wheel",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'omniwheel.audit' has no attribute {name!r}")
    return getattr(importlib.import_module(f"omniwheel.audit.{home}"), name)
