"""Building one recipe for one prepared target, step by step, with one log per recipe.

Steps: fetch source → host prefix (the libraries it is built against) →
``build/script`` → ``build/cross-script`` → PEP 517 wheel (or, for a library,
collect what the script installed) → repair → check → retag → publish →
test in the target runtime. A failure names its step and keeps the full log.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from packaging.version import Version

from omniwheel.build.pep517 import (
    BuildStepError,
    TargetEnv,
    build_wheel,
    parse_backend_flags,
    run_logged,
    run_step,
)
from omniwheel.build.recipe import Recipe
from omniwheel.build.runtime import TEST_SCRIPT, PyodideRuntime, wants_test
from omniwheel.build.sources import prepare_source
from omniwheel.build.toolchains import CrossTarget, Toolchain
from omniwheel.files import atomic_output
from omniwheel.wheel import WheelFilename

if TYPE_CHECKING:
    from omniwheel.audit import WheelReport

STATE_DIR = ".omniwheel-build"
# Variables bash sets by itself: never taken as a script's exports.
_SHELL_OWN = {"_", "SHLVL", "PWD", "OLDPWD", "BASH_EXECUTION_STRING"}


@dataclass(frozen=True)
class Layout:
    """Where a build run keeps things, all under the output directory.

    Everything but the wheels is kept per platform (``platform_tag``), so builds for
    several platforms into one output directory keep each other's wheels, caches
    and libraries.
    """

    output: Path
    source_cache: Path
    platform_tag: str

    @property
    def state(self) -> Path:
        return self.output / STATE_DIR / self.platform_tag

    @property
    def target(self) -> Path:
        """The prepared target: its headers, sysconfig and compiler wrappers."""
        return self.state / "target"

    @property
    def cache(self) -> Path:
        return self.state / "cache"

    def work(self, name: str) -> Path:
        return self.state / "work" / name

    def library(self, name: str) -> Path:
        return self.state / "libs" / name

    def log(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"


@dataclass
class Built:
    """What building one recipe produced."""

    outputs: list[Path] = field(default_factory=list)
    wheel: Path | None = None
    library: Path | None = None
    report: WheelReport | None = None
    tested: str = "not-run"


def build_recipe(
    recipe: Recipe,
    target: CrossTarget,
    toolchain: Toolchain,
    layout: Layout,
    *,
    host_libraries: Sequence[Path],
    runtime: PyodideRuntime | None,
    runtime_wheels: Sequence[Path],
    log: IO[str],
) -> Built:
    """Build ``recipe``; raise ``BuildStepError`` naming the failing step."""
    # Imported here: the checker is only needed when something is built, and a no-op
    # rebuild should not pay for loading it.
    from omniwheel.build.finalize import finalize_wheel

    work = layout.work(recipe.name)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    source = run_step(
        "fetch source", lambda: prepare_source(recipe, layout.source_cache, work, log)
    )
    prefix = work / "prefix"
    prefix.mkdir()
    for library in host_libraries:
        shutil.copytree(library, prefix, dirs_exist_ok=True)
    before = _snapshot(prefix)
    dist = work / "dist"
    dist.mkdir()
    helpers = {
        "PKGDIR": str(recipe.directory), "PKG_VERSION": recipe.version,
        "PKG_BUILD_DIR": str(source), "DISTDIR": str(dist),
    }  # fmt: skip
    environment = toolchain.recipe_environment(
        target, recipe, work=work, prefix=prefix, variables=helpers
    )
    exports: dict[str, str] = {}
    if recipe.build.script:
        exports = _run_script(
            recipe.build.script, "build/script", source, {**os.environ, **environment.shell,
                                                           **helpers}, work, log,
        )  # fmt: skip
    built = Built()
    if recipe.is_library:
        built.library = _collect_library(layout.library(recipe.name), prefix, before)
        built.outputs = sorted(p for p in built.library.rglob("*") if p.is_file())
        return built
    if source.name.endswith(".whl"):
        wheel = source
    else:
        variables = {**helpers, **exports}
        environment = toolchain.recipe_environment(
            target, recipe, work=work, prefix=prefix, variables=variables
        )
        backend = {**environment.backend, **helpers, **exports}
        if recipe.build.cross_script:
            backend |= _run_script(
                recipe.build.cross_script, "build/cross-script", source,
                {**os.environ, **backend}, work, log,
            )  # fmt: skip
        wheel = _build_wheel(recipe, target, source, dist, backend, work, log)
    wheel, built.report = finalize_wheel(wheel, target.platform, [prefix / "lib"], dist)
    built.wheel = _publish(wheel, layout.output)
    built.outputs = [built.wheel]
    script = recipe.directory / TEST_SCRIPT
    if runtime is not None and wants_test(recipe):
        runtime.test(
            [*runtime_wheels, built.wheel], recipe.test.imports,
            script if script.is_file() else None, work=work, log=log,
        )  # fmt: skip
        built.tested = "passed"
    return built


def _build_wheel(
    recipe: Recipe, target: CrossTarget, source: Path, dist: Path,
    backend: Mapping[str, str], work: Path, log: IO[str],
) -> Path:  # fmt: skip
    constraints = None
    if recipe.requirements.constraint:
        constraints = work / "constraints.txt"
        constraints.write_text("\n".join(recipe.requirements.constraint) + "\n")
    environment = TargetEnv(work / "venv", target.python, backend, log, constraints)
    wheel = build_wheel(
        source, dist, environment,
        config_settings=parse_backend_flags(recipe.build.backend_flags),
        extra_requirements=recipe.requirements.build_extras,
    )  # fmt: skip
    built_version = WheelFilename.parse(wheel.name).version
    if built_version != Version(recipe.version):
        raise BuildStepError(
            "build wheel (PEP 517 backend)",
            f"{wheel.name} has version {built_version}, but the recipe says {recipe.version}",
        )
    return wheel


def _run_script(
    script: str, step: str, cwd: Path, environment: Mapping[str, str], work: Path, log: IO[str]
) -> dict[str, str]:
    """Run a recipe script with bash; return the variables it exported or changed.

    Pyodide's scripts export variables for the later steps (and for ``$(VAR)``
    in flags), so the environment after the script is read back.
    """
    name = step.replace("/", "-")
    dump = work / f"{name}.env"
    program = work / f"{name}.sh"
    program.write_text(f"set -e\n{script}\nenv -0 > {shlex.quote(str(dump))}\n")
    run_logged(
        ["bash", "--noprofile", "--norc", str(program)], step=step, log=log, cwd=cwd,
        environment=environment,
    )  # fmt: skip
    after = dict(entry.split("=", 1) for entry in dump.read_text().split("\0") if "=" in entry)
    return {
        key: value
        for key, value in after.items()
        if key not in _SHELL_OWN and environment.get(key) != value
    }


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        path.relative_to(directory).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in directory.rglob("*")
        if path.is_file()
    }


def _collect_library(destination: Path, prefix: Path, before: Mapping[str, Any]) -> Path:
    """Copy what a library's script installed into ``prefix`` (new or changed files)."""
    installed = [
        relative for relative, stamp in _snapshot(prefix).items() if before.get(relative) != stamp
    ]
    if not installed:
        raise BuildStepError(
            "build/script",
            "the library installed nothing into $WASM_LIBRARY_DIR (install headers into "
            "$WASM_LIBRARY_DIR/include and archives into $WASM_LIBRARY_DIR/lib)",
        )
    staging = destination.with_name(f".{destination.name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    for relative in installed:
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(prefix / relative, staging / relative)
    if destination.exists():
        shutil.rmtree(destination)
    staging.rename(destination)
    return destination


def _publish(wheel: Path, output: Path) -> Path:
    """Copy ``wheel`` into ``output`` atomically: a reader never sees half a wheel."""
    final = output / wheel.name
    with wheel.open("rb") as source, atomic_output(final) as target:
        shutil.copyfileobj(source, target)
    return final
