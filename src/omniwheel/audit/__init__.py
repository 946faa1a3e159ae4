"""Checking where a wheel can really run: per-family binary rules over parsed binaries."""

from omniwheel.audit.check import (
    BinaryMember,
    Verdict,
    WheelReport,
    check_open_wheel,
    check_wheel,
)
from omniwheel.audit.findings import Finding, Severity

__all__ = [
    "BinaryMember",
    "Finding",
    "Severity",
    "Verdict",
    "WheelReport",
    "check_open_wheel",
    "check_wheel",
]
