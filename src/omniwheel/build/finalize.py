"""What every built wheel goes through before it is published: check, (repair,) retag.

The same checks as ``omniwheel check`` judge the wheel against the target it
was built for; an error there fails the build (step ``check``), because a
wheel whose binaries cannot load must not reach an index.
"""

from __future__ import annotations

from pathlib import Path

from omniwheel.audit import Severity, WheelReport, check_wheel
from omniwheel.build.pep517 import BuildStepError
from omniwheel.platforms import Platform
from omniwheel.rewrite.retag import RetagOptions, retag_wheel
from omniwheel.wheel import WheelFilename


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
    """Give a binary wheel the target's tag; pure wheels are returned unchanged.

    Backends tag from the target's ``sysconfig.get_platform()``
    (``emscripten_4_0_9_wasm32``); the published wheel carries the target's own
    tag (``pyemscripten_2025_0_wasm32``), with extension suffixes renamed where
    the target imports another one. ``retag_wheel`` re-checks what it writes.

    INTEGRATION POINT for ``omniwheel.rewrite.repair`` (vendoring external
    libraries), written on another branch: it belongs here, before the retag.
    """
    if WheelFilename.parse(wheel.name).platform_tags == ("any",):
        return wheel
    options = RetagOptions(platform=platform.wheel_tag, rename_extensions=True)
    return retag_wheel(wheel, options, wheel.parent).output
