"""The PEP 508 marker environment of a target, as its own interpreter reports it.

pip evaluates markers against the host even when cross-installing (pip issue
11664); everything omniwheel resolves for a target uses this environment instead.
Values that cannot be known without running the target are documented in the
README: ``platform_version`` is the empty string (a kernel build string), and
``python_full_version`` is ``X.Y.0``.
"""

from __future__ import annotations

from packaging.markers import Marker

from omniwheel.platforms.model import Platform


def marker_environment(platform: Platform) -> dict[str, str]:
    family = platform.family
    python = platform.python
    full_version = f"{python.dotted}.0"
    return {
        "implementation_name": "cpython",
        "implementation_version": full_version,
        "os_name": family.os_name,
        "platform_machine": family.platform_machine(platform),
        "platform_python_implementation": "CPython",
        "platform_release": family.platform_release(platform),
        "platform_system": family.platform_system,
        "platform_version": family.platform_version(platform),
        "python_full_version": full_version,
        "python_version": python.dotted,
        "sys_platform": family.sys_platform,
    }


def evaluate_marker(marker: str | Marker, platform: Platform, extra: str = "") -> bool:
    """Whether a requirement's marker holds on the target (``extra`` as in METADATA)."""
    parsed = marker if isinstance(marker, Marker) else Marker(marker)
    environment: dict[str, str] = {**marker_environment(platform), "extra": extra}
    return parsed.evaluate(environment)
