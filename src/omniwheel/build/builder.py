"""Building one recipe for one prepared target, step by step, with one log per recipe.

Steps: fetch source → host prefix (the libraries it is built against) →
``build/script`` → ``build/cross-script`` → PEP 517 wheel (or, for a library,
collect what the script installed) → ``build/post`` → repair → check → retag →
publish → cross build environment → test in the target runtime. A failure names
its step and keeps the full log.

``build/post`` runs as Pyodide runs it: with bash, in the unpacked wheel; what it
adds, changes or removes goes back into the wheel with a fresh RECORD.
``build/cross-build-env`` (Pyodide: the package is installed into the host
site-packages other cross builds use, e.g. numpy for scipy): a recipe naming it in
``requirements/host`` is built with the package installed for the host in its
build environment — its own wheel when that is pure, else ``name==version`` from
the index, as Pyodide's ``pip install`` does — and with the ``build/cross-build-files``
(headers, static libraries, configuration built for the target) taken from the
target wheel over the host copy.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from omniwheel.build.pep517 import (
    BuildStepError,
    TargetEnv,
    build_wheel,
    parse_backend_flags,
    run_logged,
    run_step,
)
from omniwheel.build.pythons import BuildPython
from omniwheel.build.recipe import Recipe
from omniwheel.build.runtime import TEST_SCRIPT, PyodideRuntime, wants_test
from omniwheel.build.sources import prepare_source
from omniwheel.build.toolchains import CrossTarget, Toolchain
from omniwheel.files import atomic_output
from omniwheel.wheel import Wheel, WheelFilename
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel

if TYPE_CHECKING:
    from omniwheel.audit import WheelReport

STATE_DIR = ".omniwheel-build"
# In a cross build env entry: the host requirement and the files laid over its install.
_REQUIREMENT, _FILES = "requirement.txt", "files"
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

    def cross_env(self, name: str) -> Path:
        """What a ``cross-build-env`` recipe gives the recipes built against it."""
        return self.state / "cross-build-env" / canonicalize_name(name)


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
        cross_envs = [layout.cross_env(name) for name in recipe.requirements.host]
        wheel = _build_wheel(
            recipe, target, source, dist, backend, work, log,
            [entry for entry in cross_envs if entry.is_dir()],
        )  # fmt: skip
    if recipe.build.post:
        script_env = {**os.environ, **environment.shell, **helpers, **exports}
        wheel = _run_post(recipe.build.post, wheel, script_env, work, log)
    wheel, built.report = finalize_wheel(wheel, target.platform, [prefix / "lib"], dist)
    published = built.wheel = _publish(wheel, layout.output)
    built.outputs = [published]
    if recipe.build.cross_build_env:
        run_step(
            "build/cross-build-files",
            lambda: _save_cross_env(recipe, published, layout.cross_env(recipe.name)),
        )
    else:  # no longer one: recipes built against it must not see an earlier build's
        shutil.rmtree(layout.cross_env(recipe.name), ignore_errors=True)
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
    backend: Mapping[str, str], work: Path, log: IO[str], cross_envs: Sequence[Path],
) -> Path:  # fmt: skip
    constraints = None
    if recipe.requirements.constraint:
        constraints = work / "constraints.txt"
        constraints.write_text("\n".join(recipe.requirements.constraint) + "\n")
    environment = _CrossBuildEnv(
        work / "venv", target.python, backend, log, constraints, cross_envs
    )
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


class _CrossBuildEnv(TargetEnv):
    """The build environment, holding the host requirements that have a cross build env
    from the first install on (a backend may import them as early as its
    ``get_requires_for_build_wheel``), with their cross-build files laid over the host
    install after every install (so a later build requirement cannot bring it back)."""

    def __init__(
        self, path: Path, python: BuildPython, backend_environment: Mapping[str, str],
        log: IO[str], constraints: Path | None, cross_envs: Sequence[Path],
    ) -> None:  # fmt: skip
        super().__init__(path, python, backend_environment, log, constraints)
        self.cross_envs = cross_envs
        self._pending = [(entry / _REQUIREMENT).read_text().strip() for entry in cross_envs]

    def install(self, requirements: Collection[str]) -> None:
        super().install([*requirements, *self._pending])
        self._pending = []
        if not self.cross_envs:
            return
        [site_packages] = self.path.glob("lib/python*/site-packages")
        for entry in self.cross_envs:
            shutil.copytree(entry / _FILES, site_packages, dirs_exist_ok=True)
            self.log.write(f"cross-build files of {entry.name} laid over {site_packages}\n")


def _run_post(
    script: str, wheel: Path, environment: Mapping[str, str], work: Path, log: IO[str]
) -> Path:
    """``wheel`` after ``build/post`` ran in its unpacked tree (Pyodide's way); what the
    script added, changed or removed is written back with a fresh RECORD and WHEEL."""
    tree = work / "post"
    with Wheel.open(wheel) as opened:
        members = {m.name: m for m in opened.members() if not m.is_dir}
        for name in members:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes(opened.read_bytes(name))
        _run_script(script, "build/post", tree, environment, work, log)
        changes = WheelChanges()
        generated = {f"{opened.dist_info}/RECORD", f"{opened.dist_info}/WHEEL"}
        for path in sorted(tree.rglob("*")):
            name = path.relative_to(tree).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                raise BuildStepError(
                    "build/post", f"{name} is not a regular file; a wheel holds only files"
                )
            if path.is_dir() or name in generated:
                continue
            data = path.read_bytes()
            if name not in members:
                changes.files[name] = data
                changes.modes[name] = path.stat().st_mode & 0o777
            elif data != opened.read_bytes(name):
                changes.files[name] = data
        changes.removals = {
            name for name in members if name not in generated and not (tree / name).is_file()
        }
        output = work / "post-dist" / wheel.name
        output.parent.mkdir()
        log.write(
            f"build/post: {len(changes.files)} files added or changed, "
            f"{len(changes.removals)} removed\n"
        )
        return run_step("build/post", lambda: rewrite_wheel(opened, changes, output))


def _save_cross_env(recipe: Recipe, wheel: Path, destination: Path) -> None:
    """Keep what recipes built against ``recipe`` install in their build environment:
    the host requirement and the cross-build files from the target wheel."""
    staging = destination.with_name(f".{destination.name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / _FILES).mkdir(parents=True)
    with Wheel.open(wheel) as opened:
        for name in recipe.build.cross_build_files:
            if opened.record.get(name) is None:
                raise BuildStepError("build/cross-build-files", f"{name} is not in {wheel.name}")
            (staging / _FILES / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / _FILES / name).write_bytes(opened.read_bytes(name))
        pure = opened.filename.platform_tags == ("any",)
    requirement = str(wheel) if pure else f"{recipe.name}=={recipe.version}"
    (staging / _REQUIREMENT).write_text(requirement + "\n")
    if destination.exists():
        shutil.rmtree(destination)
    staging.rename(destination)


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
