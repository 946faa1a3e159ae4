"""What every built wheel goes through before it is published: repair, check, retag.

Each stage is a build step of its own, so a failure names it:

* ``repair``: ``omniwheel.rewrite.repair`` vendors the libraries the binaries
  need and the target lacks (ELF, Mach-O, Windows DLLs, Emscripten side
  modules: a ``shared_library`` recipe's library lands in ``<dist>.libs/``).
  Libraries are looked for where the recipe linked: its host prefix's ``lib/``,
  which holds what its host-requirement recipes installed. A library found
  nowhere fails the build: the wheel could not load.
* ``check``: the same checks as ``omniwheel check`` judge the wheel against the
  target; an error fails the build, because a wheel whose binaries cannot load
  must not reach an index.
* ``retag``: the published wheel carries the target's own tag.

The wheel's members are read once, by the first check: repair judges what it
writes from that reading, and retag judges its new tag from repair's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omniwheel.audit import Severity, WheelReport, check_wheel
from omniwheel.build.pep517 import BuildStepError, run_step
from omniwheel.platforms import Platform
from omniwheel.rewrite.repair import RepairError, RepairReport, repair_wheel
from omniwheel.rewrite.retag import RetagOptions, retag_wheel


def finalize_wheel(
    wheel: Path, platform: Platform, lib_path: Sequence[Path], work: Path
) -> tuple[Path, WheelReport]:
    """Repair, check and retag a freshly built wheel; returns it and its check report.

    New wheels are written under ``work`` (the input may be a prebuilt wheel in
    the download cache, never to be written beside). The wheel is read once: repair
    and retag judge what they write from that reading. Raises ``BuildStepError``
    naming the step (``repair``, ``check``, ``retag``).
    """
    report = check_wheel(wheel, [platform])
    if report.binaries:
        repaired = run_step(
            "repair", lambda: repair_built_wheel(wheel, platform, lib_path, work, report)
        )
        assert repaired.check is not None  # repair judges every wheel it reports on
        wheel, report = Path(repaired.output or wheel), repaired.check
    errors = [item for item in report.findings if item.severity is Severity.ERROR]
    if errors:
        described = "; ".join(f"{item.code}: {item.message}" for item in errors[:3])
        raise BuildStepError(
            "check", f"{wheel.name} cannot load on {platform.wheel_tag}: {described}"
        )
    if report.wheel.filename.platform_tags != ("any",):
        wheel = run_step("retag", lambda: retag_to_target(wheel, platform, work, report))
    return wheel, report


def repair_built_wheel(
    wheel: Path, platform: Platform, lib_path: Sequence[Path], work: Path, reading: WheelReport
) -> RepairReport:
    """The wheel with its external libraries vendored.

    ``reading`` is the wheel's check report. A library the binaries need and no
    directory holds fails the step: nothing else would stop such a wheel before it
    fails to load.
    """
    try:
        report = repair_wheel(
            wheel, work / "repaired", platform=platform, lib_path=lib_path, reading=reading
        )
    except RepairError as error:  # said below in a build's terms, not repair's options
        if error.report is None:
            raise
        report = error.report
    if report.missing:
        family = platform.family.title
        needs = "; ".join(
            f"{', '.join(library.needed_by)} needs {library.name}, which the wheel does not "
            f"ship, {family} does not provide and no recipe in requirements/host installs"
            for library in report.missing
        )
        raise BuildStepError(
            "repair",
            f"{wheel.name}: {needs}: build it with a static_library recipe (linked in) or "
            "a shared_library recipe, named in requirements/host",
        )
    return report


def retag_to_target(wheel: Path, platform: Platform, work: Path, reading: WheelReport) -> Path:
    """Give a binary wheel the target's tag, judged on ``reading`` (the wheel's check report).

    Backends tag from the target's ``sysconfig.get_platform()``
    (``emscripten_4_0_9_wasm32``); the published wheel carries the target's own
    tag (``pyemscripten_2025_0_wasm32``), with extension suffixes renamed where
    the target imports another one.
    """
    options = RetagOptions(platform=platform.wheel_tag, rename_extensions=True)
    return retag_wheel(wheel, options, work / "retagged", reading=reading).output
