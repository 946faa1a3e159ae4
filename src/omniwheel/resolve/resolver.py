"""Resolve requirements for a target platform with resolvelib (the engine inside pip).

Markers are evaluated in the target's environment, wheels are ranked by the
target's tag priority, Requires-Python is checked against the target's Python,
yanked files are skipped unless pinned (PEP 592). Sdists are never built: a
project version with no wheel for the target is not a candidate, and when
nothing is left the error says which platforms that version does have wheels for.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from packaging.markers import Marker
from packaging.metadata import Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib import Resolver as _Resolver
from resolvelib.structs import RequirementInformation

from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.platforms import Platform, compatible_tags, evaluate_marker
from omniwheel.resolve.candidates import ProjectFiles, WheelChoice
from omniwheel.resolve.metadata import MetadataFetcher
from omniwheel.resolve.simple import IndexFile
from omniwheel.resolve.sources import Sources

_MAX_ROUNDS = 20_000


class ResolutionError(OmniwheelError):
    """No set of wheels satisfies the requirements on the target; the message says why."""


def _identifier(name: NormalizedName, extras: frozenset[str]) -> str:
    """What resolvelib resolves: a project, or a project with extras (``name[a,b]``)."""
    return name + (f"[{','.join(sorted(extras))}]" if extras else "")


class Need(NamedTuple):
    """A requirement as the resolver sees it: who asked for it, with which extras."""

    name: NormalizedName
    extras: frozenset[str]
    specifier: SpecifierSet
    text: str
    parent: str | None = None
    marker: Marker | None = None

    @property
    def identifier(self) -> str:
        return _identifier(self.name, self.extras)

    @property
    def pins(self) -> set[Version]:
        """The exact versions this requirement names (a yanked file may serve a pin)."""
        return {
            Version(spec.version)
            for spec in self.specifier
            if spec.operator in ("==", "===") and "*" not in spec.version
        }

    def describe(self) -> str:
        origin = f"required by {self.parent}" if self.parent else "requested"
        return f"{self.text} ({origin})"


class Candidate(NamedTuple):
    """One version of a project (with extras) and the wheel the target would install."""

    name: NormalizedName
    version: Version
    extras: frozenset[str]
    choice: WheelChoice

    @property
    def identifier(self) -> str:
        return _identifier(self.name, self.extras)

    @property
    def file(self) -> IndexFile:
        return self.choice.file

    def __str__(self) -> str:
        return f"{self.identifier} {self.version}"


def parse_need(text: str, parent: str | None = None) -> Need:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"requirement {text!r} is not valid PEP 508: {exc}") from exc
    return need_from(requirement, parent)


def need_from(requirement: Requirement, parent: str | None = None) -> Need:
    """A parsed requirement as the resolver's ``Need`` (METADATA's are parsed already:
    parsing their text again would cost a marker parse each)."""
    text = str(requirement)
    if requirement.url:
        raise UsageError(
            f"requirement {text!r} names a URL; give a wheel file with --find-links instead"
        )
    return Need(
        name=canonicalize_name(requirement.name),
        extras=frozenset(canonicalize_name(extra) for extra in requirement.extras),
        specifier=requirement.specifier,
        text=text,
        parent=parent,
        marker=requirement.marker,
    )


class ResolvedPackage(NamedTuple):
    """One installed project in a resolution: the chosen wheel and its resolved dependencies."""

    name: NormalizedName
    version: Version
    file: IndexFile
    dependencies: tuple[NormalizedName, ...]


@dataclass
class Resolution:
    """Every package one target needs, by name (alphabetical)."""

    platform: Platform
    packages: dict[NormalizedName, ResolvedPackage] = field(default_factory=dict)


class _Provider(AbstractProvider[Need, Candidate, str]):
    def __init__(
        self,
        platform: Platform,
        sources: Sources,
        metadata: MetadataFetcher,
        constraints: Mapping[NormalizedName, SpecifierSet],
        pool: ThreadPoolExecutor,
    ) -> None:
        self.platform = platform
        self.sources = sources
        self.metadata = metadata
        self.constraints = constraints
        self._pool = pool
        self._projects: dict[str, Future[ProjectFiles]] = {}
        self._metadata: dict[str, Future[Metadata]] = {}

    # Prefetching: project pages and metadata are fetched in the background as
    # soon as the resolver can know it will want them.
    def project(self, name: NormalizedName) -> ProjectFiles:
        return self._prefetch_project(name).result()

    def _prefetch_project(self, name: NormalizedName) -> Future[ProjectFiles]:
        future = self._projects.get(name)
        if future is None:
            future = self._pool.submit(
                lambda: ProjectFiles(tuple(self.sources.files(name)), self.platform)
            )
            self._projects[name] = future
        return future

    def _prefetch_metadata(self, file: IndexFile) -> Future[Metadata]:
        future = self._metadata.get(file.url)
        if future is None:
            future = self._pool.submit(self.metadata.metadata, file)
            self._metadata[file.url] = future
        return future

    def identify(self, requirement_or_candidate: Need | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Need, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Need, Candidate]],
    ) -> Any:
        needs = [info.requirement for info in information[identifier]]
        causes = {info.requirement.name for info in backtrack_causes}
        return (
            not any(need.pins for need in needs),
            identifier.split("[")[0] not in causes,
            "[" in identifier,  # a base project before its extras
            identifier,
        )

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Need]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        needs = list(requirements[identifier])
        name, extras = needs[0].name, needs[0].extras
        specifier = functools.reduce(
            operator.and_,
            [need.specifier for need in needs],
            self.constraints.get(name, SpecifierSet()),
        )
        pinned = set().union(*(need.pins for need in needs))
        excluded = {candidate.version for candidate in incompatibilities[identifier]}
        project = self.project(name)
        versions = sorted(specifier.filter(project.choices), reverse=True)
        found = []
        for version in versions:
            if version in excluded:
                continue
            usable = [c for c in project.choices[version] if c.file.yanked is None]
            if not usable and version in pinned:
                usable = project.choices[version]
            if usable:
                found.append(Candidate(name, version, extras, usable[0]))
        if found:
            self._prefetch_metadata(found[0].file)
        return found

    def is_satisfied_by(self, requirement: Need, candidate: Candidate) -> bool:
        # resolvelib asks this for every pin against every criterion on every round; most
        # needs carry no version specifier, and an empty set allows every version.
        specifier = requirement.specifier
        return not specifier or specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Need]:
        metadata = self._prefetch_metadata(candidate.file).result()
        if canonicalize_name(metadata.name) != candidate.name:
            raise ResolutionError(
                f"{candidate.file.filename}: its METADATA names {metadata.name}, not "
                f"{candidate.name}; the index serves a mislabelled file"
            )
        parent = f"{candidate.name} {candidate.version}"
        needs: list[Need] = []
        if candidate.extras:
            needs.append(
                Need(
                    candidate.name,
                    frozenset(),
                    SpecifierSet(f"=={candidate.version}"),
                    f"{candidate.name}=={candidate.version}",
                    parent,
                )
            )
        extras = candidate.extras or frozenset({""})
        for requirement in metadata.requires_dist or []:
            marker = requirement.marker
            if marker is not None and not any(
                evaluate_marker(marker, self.platform, extra) for extra in extras
            ):
                continue
            need = need_from(requirement, parent)
            needs.append(need)
            self._prefetch_project(need.name)
        return needs


def _explain(provider: _Provider, causes: Iterable[RequirementInformation[Need, Candidate]]) -> str:
    """One line on why nothing fits: conflicting requirements, or no wheel for the target."""
    infos = list(causes)
    by_name: dict[NormalizedName, list[Need]] = {}
    for info in infos:
        by_name.setdefault(info.requirement.name, []).append(info.requirement)
    lines = []
    for name, needs in by_name.items():
        lines.append(_explain_project(provider, name, needs))
    return "; ".join(lines)


def _explain_project(provider: _Provider, name: NormalizedName, needs: list[Need]) -> str:
    platform = provider.platform
    project = provider.project(name)
    constraint = provider.constraints.get(name, SpecifierSet())
    described = [need.describe() for need in needs]
    if constraint:
        described.append(f"{name}{constraint} (constraint)")
    wanted = " and ".join(dict.fromkeys(described))
    if not project.files:
        indexes = ", ".join(provider.sources.config.index_urls) or "no index"
        return f"{name}: no such project on {indexes} or in find-links ({wanted})"
    specifier = functools.reduce(operator.and_, [need.specifier for need in needs], constraint)
    matching = sorted(specifier.filter(project.all_versions), reverse=True)
    if not matching:
        newest = ", ".join(str(v) for v in sorted(project.all_versions, reverse=True)[:5])
        return f"no version of {name} satisfies {wanted}; the newest are {newest}"
    version = matching[0]
    target = f"{platform.sysconfig_platform} (CPython {platform.python})"
    choices = project.choices.get(version, [])
    if choices and all(choice.file.yanked is not None for choice in choices):
        reasons = "; ".join(
            dict.fromkeys(choice.file.yanked or "no reason given" for choice in choices)
        )
        return (
            f"{name} {version} for {target}: only yanked files ({reasons}); "
            f"pin {name}=={version} to use one; {wanted}"
        )
    if choices:  # wheels fit, but requirements conflict
        return f"conflicting requirements for {name}: {wanted}"
    excluded = project.python_excluded(version)
    if excluded:
        specifiers = " or ".join(dict.fromkeys(file.requires_python or "" for file in excluded))
        return (
            f"{name} {version}: Requires-Python {specifiers} excludes CPython "
            f"{platform.python}; {wanted}"
        )
    wheels = project.wheels.get(version, [])
    if not wheels:
        return (
            f"{name} {version}: no wheel for {target}, only an sdist, and omniwheel never "
            f"builds sdists; {wanted}"
        )
    available = sorted({tag for wheel in wheels for tag in wheel.platform_tags})
    platform_tags = {tag.platform for tag in compatible_tags(platform)}
    same_platform = sorted(
        {tag.interpreter for wheel in wheels for tag in wheel.tags if tag.platform in platform_tags}
    )
    note = f" (for this platform only {', '.join(same_platform)})" if same_platform else ""
    return (
        f"{name} {version}: no wheel for {target}; available: {', '.join(available)}{note}; "
        f"{wanted}"
    )


def resolve(
    requirements: Sequence[str],
    platform: Platform,
    sources: Sources,
    metadata: MetadataFetcher,
    *,
    constraints: Sequence[str] = (),
    workers: int = 8,
) -> Resolution:
    """Resolve ``requirements`` (PEP 508 strings) for ``platform``; raises ``ResolutionError``."""
    needs = [
        need
        for need in map(parse_need, requirements)
        if need.marker is None or evaluate_marker(need.marker, platform)
    ]
    pins: dict[NormalizedName, SpecifierSet] = {}
    for text in constraints:
        constraint = parse_need(text)
        pins[constraint.name] = pins.get(constraint.name, SpecifierSet()) & constraint.specifier
    with ThreadPoolExecutor(max_workers=workers) as pool:
        provider = _Provider(platform, sources, metadata, pins, pool)
        for need in needs:
            provider._prefetch_project(need.name)
        resolver: _Resolver[Need, Candidate, str] = _Resolver(provider, BaseReporter())
        try:
            result = resolver.resolve(needs, max_rounds=_MAX_ROUNDS)
        except ResolutionImpossible as exc:
            raise ResolutionError(_explain(provider, exc.causes)) from None
        except ResolutionTooDeep as exc:
            raise ResolutionError(
                f"gave up after {_MAX_ROUNDS} resolution rounds for {platform}: the "
                "requirements backtrack too much; pin some versions"
            ) from exc
    return _collect(platform, result.mapping, result.graph)


def _collect(platform: Platform, mapping: Mapping[str, Candidate], graph: Any) -> Resolution:
    """Fold extras identifiers into their projects and record each one's dependencies."""
    resolution = Resolution(platform)
    dependencies: dict[NormalizedName, set[NormalizedName]] = {}
    for identifier, candidate in mapping.items():
        children = {mapping[child].name for child in graph.iter_children(identifier)}
        dependencies.setdefault(candidate.name, set()).update(children - {candidate.name})
    for identifier in sorted(mapping, key=lambda key: mapping[key].name):
        candidate = mapping[identifier]
        if candidate.extras:
            continue
        resolution.packages[candidate.name] = ResolvedPackage(
            name=candidate.name,
            version=candidate.version,
            file=candidate.file,
            dependencies=tuple(sorted(dependencies.get(candidate.name, ()))),
        )
    return resolution
