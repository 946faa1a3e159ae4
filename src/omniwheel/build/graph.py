"""The recipe graph: what to build, in which order, with N parallel jobs, skipping what is cached.

Edges are the ``requirements/host`` and ``requirements/run`` entries that name
another recipe in the tree: host libraries must exist before a recipe links
them, and run requirements must be built before a recipe is tested with them.
Everything missing for the target is reported before anything is built.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from omniwheel.build.builder import STATE_DIR, Built, Layout, build_recipe
from omniwheel.build.cache import BuildCache, recipe_key
from omniwheel.build.pep517 import BuildStepError
from omniwheel.build.pythons import BuildPython, find_build_python
from omniwheel.build.recipe import Recipe, RecipeError, load_recipes
from omniwheel.build.runtime import PyodideRuntime, wants_test
from omniwheel.build.toolchains import CrossTarget, Missing, Toolchain, toolchain_for
from omniwheel.build.toolchains.base import missing_executables
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.files import default_cache_dir
from omniwheel.platforms import Platform


class MissingToolchainError(OmniwheelError):
    """The target cannot be built on this machine; the message lists what to install."""


@dataclass
class Outcome:
    """What happened to one recipe in a build run."""

    recipe: Recipe
    status: str = "pending"  # built, cached, failed, skipped
    wheel: Path | None = None
    library: Path | None = None
    log: Path | None = None
    failed_step: str | None = None
    error: str | None = None
    tested: str = "not-run"  # passed, not-run
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.recipe.name,
            "version": self.recipe.version,
            "type": self.recipe.build.type,
            "status": self.status,
            "wheel": None if self.wheel is None else str(self.wheel),
            "library": None if self.library is None else str(self.library),
            "log": None if self.log is None else str(self.log),
            "failed_step": self.failed_step,
            "error": self.error,
            "test": self.tested,
            "findings": self.findings,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class BuildReport:
    platform: Platform
    output: Path
    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and self.count("skipped") == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform.to_json(),
            "output_dir": str(self.output),
            "packages": [outcome.to_json() for outcome in self.outcomes],
            **{status: self.count(status) for status in ("built", "cached", "failed", "skipped")},
        }


class RecipeGraph:
    """The recipes of one tree and the edges between them, resolved once by canonical name.

    A host or run requirement naming another recipe is an edge; the rest come
    from elsewhere (run requirements from the runtime or the index).
    """

    def __init__(self, recipes: Mapping[str, Recipe]) -> None:
        self.recipes = recipes
        self._by_key = {canonicalize_name(name): name for name in recipes}
        self.host = {n: self._in_tree(n, r.requirements.host) for n, r in recipes.items()}
        self.run = {n: self._in_tree(n, r.requirements.run) for n, r in recipes.items()}
        self.needs = {name: [*self.host[name], *self.run[name]] for name in recipes}

    def find(self, requirement: str) -> str | None:
        """The recipe named by ``requirement`` (any spelling of its name), if the tree has one."""
        return self._by_key.get(canonicalize_name(requirement))

    def _in_tree(self, name: str, requirements: Sequence[str]) -> list[str]:
        found = (self.find(requirement) for requirement in requirements)
        return [needed for needed in found if needed is not None and needed != name]

    def order(self, selected: Sequence[str] = ()) -> list[str]:
        """``selected`` (default: every enabled recipe) and what they need, dependencies first."""
        roots: list[str] = []
        for name in selected:
            found = self.find(name)
            if found is None:
                known = ", ".join(sorted(self.recipes))
                raise UsageError(f"no recipe named {name!r} (recipes: {known})")
            roots.append(found)
        if not selected:
            roots = sorted(n for n, recipe in self.recipes.items() if not recipe.package.disabled)
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                cycle = " -> ".join([*trail[trail.index(name) :], name])
                raise RecipeError(f"recipe dependency cycle: {cycle}")
            state[name] = "visiting"
            for needed in self.needs[name]:
                visit(needed, [*trail, name])
            state[name] = "done"
            order.append(name)

        for name in roots:
            visit(name, [])
        # Every recipe built links its host requirements, so each must be a recipe here,
        # including those of recipes pulled in by the selected ones.
        for name in order:
            recipe = self.recipes[name]
            for host in recipe.requirements.host:
                if self.find(host) is None:
                    raise RecipeError(
                        f"{recipe.path}: host requirement {host!r} has no recipe in the tree"
                    )
        return order


def build_order(recipes: Mapping[str, Recipe], selected: Sequence[str] = ()) -> list[str]:
    """``selected`` (default: every enabled recipe) and what they need, dependencies first."""
    return RecipeGraph(recipes).order(selected)


def _closure(name: str, edges: Mapping[str, Sequence[str]]) -> list[str]:
    """The recipes reached from ``name`` through ``edges`` (a graph's ``host`` or ``run``)."""
    seen: list[str] = []
    stack = [name]
    while stack:
        for found in edges[stack.pop()]:
            if found not in seen and found != name:
                seen.append(found)
                stack.append(found)
    return seen


def preflight(
    toolchain: Toolchain, platform: Platform, recipes: Sequence[Recipe], python: BuildPython | None
) -> list[Missing]:
    """Everything that would stop this build, found before any of it starts."""
    missing = toolchain.missing(platform, python)
    for recipe in recipes:
        missing += missing_executables(recipe.requirements.executable)
    unique: dict[str, Missing] = {str(item): item for item in missing}
    return list(unique.values())


Event = Callable[[str, str], None]


def build_recipes(
    recipes_dir: Path,
    platform: Platform,
    *,
    packages: Sequence[str] = (),
    output: Path = Path("dist"),
    jobs: int = 1,
    build_python: Path | None = None,
    source_cache: Path | None = None,
    runtime: PyodideRuntime | None = None,
    sdk: Path | None = None,
    on_event: Event | None = None,
) -> BuildReport:
    """Build the recipes in ``recipes_dir`` (or ``packages`` and what they need) for ``platform``.

    ``sdk`` is the platform's SDK (an iOS SDK, an Android NDK) where it is not found by
    itself. ``on_event(name, status)`` is called as each recipe starts (``building``) and
    ends (``built``, ``cached``, ``failed``, ``skipped``).
    """
    if jobs < 1:
        raise UsageError(f"-j {jobs}: the number of parallel jobs must be at least 1")
    toolchain = toolchain_for(platform, sdk)
    if runtime is not None and platform.family.name != "emscripten":
        raise UsageError(
            f"--pyodide: tests run in Pyodide, which cannot load {platform.wheel_tag} wheels; "
            "drop --pyodide"
        )
    loaded = load_recipes(recipes_dir)
    family = platform.family.name
    recipes = {name: recipe.for_family(family) for name, recipe in loaded.items()}
    graph = RecipeGraph(recipes)
    order = graph.order(packages)
    python = find_build_python(platform.python, build_python)
    if build_python is not None and python is None:
        raise UsageError(
            f"--build-python {build_python}: not a runnable CPython {platform.python.dotted}"
        )
    missing = preflight(toolchain, platform, [recipes[n] for n in order], python)
    if missing:
        raise MissingToolchainError(
            f"cannot build for {platform.wheel_tag}: missing "
            + "; ".join(str(item) for item in missing)
        )
    assert python is not None  # preflight reported it otherwise
    output = output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    layout = Layout(output, source_cache or default_cache_dir(), platform.wheel_tag)
    target = toolchain.prepare(platform, python, layout.target)
    scheduler = _Scheduler(graph, order, target, toolchain, layout, runtime, jobs, on_event)
    return BuildReport(platform, output, scheduler.run())


class _Scheduler:
    """Runs ready recipes on up to ``jobs`` threads; each build is mostly subprocesses."""

    def __init__(
        self, graph: RecipeGraph, order: Sequence[str], target: CrossTarget,
        toolchain: Toolchain, layout: Layout, runtime: PyodideRuntime | None, jobs: int,
        on_event: Event | None,
    ) -> None:  # fmt: skip
        self.graph = graph
        self.recipes = graph.recipes
        self.order = order
        self.target = target
        self.toolchain = toolchain
        self.layout = layout
        self.runtime = runtime
        self.jobs = jobs
        self.on_event = on_event or (lambda name, status: None)
        self.cache = BuildCache(layout.cache, layout.output)
        self.outcomes = {name: Outcome(graph.recipes[name]) for name in order}
        self.keys: dict[str, str] = {}
        self.lock = threading.Lock()

    def run(self) -> list[Outcome]:
        pending = list(self.order)
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            while pending or running:
                for name in list(pending):
                    needs = self.graph.needs[name]
                    blocked = [n for n in needs if self.outcomes[n].status in {"failed", "skipped"}]
                    if blocked:
                        pending.remove(name)
                        self._skip(name, blocked)
                    elif all(self.outcomes[n].status in {"built", "cached"} for n in needs):
                        if len(running) >= self.jobs:
                            break
                        pending.remove(name)
                        running[pool.submit(self._one, name)] = name
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    future.result()
        return [self.outcomes[name] for name in self.order]

    def _skip(self, name: str, because: list[str]) -> None:
        outcome = self.outcomes[name]
        outcome.status = "skipped"
        outcome.error = f"not built: {', '.join(because)} failed"
        self.on_event(name, "skipped")

    def _one(self, name: str) -> None:
        recipe = self.recipes[name]
        outcome = self.outcomes[name]
        host = _closure(name, self.graph.host)
        key = recipe_key(recipe, self.target.identity, {n: self.keys[n] for n in host})
        with self.lock:
            self.keys[name] = key
        outcome.log = self.layout.log(name)
        record = self.cache.lookup(name, key)
        test_due = self.runtime is not None and wants_test(recipe)
        if record is not None and (record.tested == "passed" or not test_due):
            outcome.status = "cached"
            outcome.tested = record.tested
            first = self.layout.output / record.outputs[0][0] if record.outputs else None
            if recipe.is_library:
                outcome.library = self.layout.library(name)
            else:
                outcome.wheel = first
            self.on_event(name, "cached")
            return
        self.on_event(name, "building")
        started = time.monotonic()
        outcome.log.parent.mkdir(parents=True, exist_ok=True)
        with outcome.log.open("w") as log:
            try:
                built = self._build(recipe, host, log)
            except BuildStepError as error:
                log.write(f"\nomniwheel: FAILED at step '{error.step}': {error}\n")
                outcome.status, outcome.failed_step = "failed", error.step
                outcome.error = str(error)
            except OmniwheelError as error:
                log.write(f"\nomniwheel: FAILED: {error}\n")
                outcome.status, outcome.failed_step, outcome.error = "failed", "build", str(error)
            else:
                self._finish(name, key, built, outcome)
        outcome.seconds = time.monotonic() - started
        self.on_event(name, outcome.status)

    def _build(self, recipe: Recipe, host: Sequence[str], log: Any) -> Built:
        """Build ``recipe`` against ``host`` (its host closure) and test it with its run closure."""
        libraries = [self.layout.library(n) for n in host if self.recipes[n].is_library]
        run_wheels = [self.outcomes[n].wheel for n in _closure(recipe.name, self.graph.run)]
        return build_recipe(
            recipe, self.target, self.toolchain, self.layout,
            host_libraries=libraries, runtime=self.runtime,
            runtime_wheels=[wheel for wheel in run_wheels if wheel is not None], log=log,
        )  # fmt: skip

    def _finish(self, name: str, key: str, built: Built, outcome: Outcome) -> None:
        for previous in self.cache.previous_outputs(name):
            stale = previous not in built.outputs and previous.suffix == ".whl"
            if stale and not self._published_for_another_platform(name, previous):
                previous.unlink(missing_ok=True)
        self.cache.store(name, key, built.outputs, built.tested)
        outcome.status = "built"
        outcome.wheel, outcome.library, outcome.tested = built.wheel, built.library, built.tested
        if built.report is not None:
            outcome.findings = [finding.to_json() for finding in built.report.findings]
        shutil.rmtree(self.layout.work(name), ignore_errors=True)

    def _published_for_another_platform(self, name: str, wheel: Path) -> bool:
        """Whether another platform's last build of ``name`` into this output made ``wheel``.

        A pure wheel is one file for every platform: replacing it for one must not
        delete it under the others.
        """
        for directory in (self.layout.output / STATE_DIR).glob("*/cache"):
            other = BuildCache(directory, self.layout.output)
            if directory != self.layout.cache and wheel in other.previous_outputs(name):
                return True
        return False
