"""What every built wheel goes through before it is published: check, repair, retag.

The same checks as ``omniwheel check`` judge the wheel against the target it
was built for; an error there fails the build (step ``check``), because a
wheel whose binaries cannot load must not reach an index.
"""

from __future__ import annotations

from pathlib import Path

from omniwheel.audit import Severity, WheelReport, check_wheel
from omniwheel.build.pep517 import BuildStepError
from omniwheel.platforms import Platform


def check_built_wheel(wheel: Path, platform: Platform) -> WheelReport:
    """``check_wheel`` against ``platform``; errors raise ``BuildStepError('check')``."""
    report = check_wheel(wheel, [platform])
    if report.has_errors:
        errors = [item for item in report.findings if item.severity is Severity.ERROR]
        described = "; ".join(f"{item.code}: {item.message}" for item in errors[:3])
        raise BuildStepError(
            "check", f"{wheel.name} cannot load on {platform.wheel_tag}: {described}"
        )
    return report


def repair_and_retag(wheel: Path, platform: Platform) -> Path:
    """INTEGRATION POINT for ``omniwheel.rewrite.repair`` and ``omniwheel.rewrite.retag``.

    Those are written on other branches. Once they land, this is where the built
    wheel gets its external libraries vendored (repair) and the target's wheel
    tag (retag: ``emscripten_4_0_9_wasm32`` → ``pyemscripten_2025_0_wasm32``,
    with extension suffixes renamed where a family needs it). Until then the
    wheel keeps the tag its backend derived from the target's
    ``sysconfig.get_platform()``, which Pyodide's installers accept.
    """
    del platform
    return wheel
