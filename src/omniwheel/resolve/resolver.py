"""Resolve requirements for a target platform with resolvelib (the engine inside pip).

Markers are evaluated in the target's environment, wheels are ranked by the
target's tag priority, Requires-Python (the index's, then the wheel's METADATA's)
is checked against the target's Python, yanked files are skipped unless pinned
(PEP 592). Sdists are never built: a project version with no wheel for the target
is not a candidate, and when nothing is left the error says which platforms that
version does have wheels for.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.metadata import InvalidMetadata, Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep
from resolvelib import Resolver as _Resolver
from resolvelib.structs import RequirementInformation

from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.platforms import Platform, compatible_tags, evaluate_marker, marker_environment
from omniwheel.resolve.candidates import ProjectFiles, WheelChoice
from omniwheel.resolve.config import IndexStrategy
from omniwheel.resolve.metadata import MetadataFetcher
from omniwheel.resolve.simple import IndexFile
from omniwheel.resolve.sources import Sources

_MAX_ROUNDS = 20_000
#: A requirements file's ``--hash`` pins: project -> algorithm -> hex digests (lower case).
HashPins = Mapping[str, Mapping[str, Collection[str]]]
#: The identifier a candidate depends on when its METADATA's Requires-Python excludes
#: the target (pip's virtual Python requirement): nothing provides it, so resolvelib
#: rejects that candidate and tries the next version. No project can have this name.
_PYTHON = NormalizedName("<python>")
#: What a METADATA field must be, for the message when a wheel's is not.
_FIELD_FORMATS = {
    "name": "a PEP 508 project name",
    "version": "a PEP 440 version",
    "requires-dist": "a PEP 508 requirement",
}


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
        return _pinned(self.specifier)

    def describe(self) -> str:
        origin = f"required by {self.parent}" if self.parent else "requested"
        return f"{self.text} ({origin})"


def _pinned(specifier: SpecifierSet) -> set[Version]:
    """The versions ``==`` or ``===`` pins name; ``===1.0-custom`` (arbitrary equality with
    no PEP 440 version) pins none, as no index version can equal it."""
    pins = set()
    for spec in specifier:
        if spec.operator in ("==", "===") and "*" not in spec.version:
            try:
                pins.add(Version(spec.version))
            except InvalidVersion:
                continue
    return pins


def _marker_holds(marker: Marker, platform: Platform, extras: Iterable[str], source: str) -> bool:
    """Whether ``marker`` holds on the target for any of ``extras``; one that cannot be
    evaluated (``os_name === "x"``: PEP 508 defines no such comparison) is an error
    naming ``source``."""
    try:
        return any(evaluate_marker(marker, platform, extra) for extra in extras)
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise ResolutionError(
            f"{source}: its marker cannot be evaluated ({exc}); ~= and === compare versions only"
        ) from None


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
        hash_pins: HashPins,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.platform = platform
        self.sources = sources
        self.metadata = metadata
        self.constraints = constraints
        self.hash_pins = hash_pins
        self._pool = pool
        self._python_full_version = marker_environment(platform)["python_full_version"]
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
                lambda: ProjectFiles(tuple(self.sources.files(name)), self.platform, name)
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
        if identifier == _PYTHON:
            return []  # asked for only when Requires-Python excludes the target
        needs = list(requirements[identifier])
        name, extras = needs[0].name, needs[0].extras
        specifier = functools.reduce(
            operator.and_,
            [need.specifier for need in needs],
            self.constraints.get(name, SpecifierSet()),
        )
        pinned = _pinned(specifier)  # a constraint's pin counts too, as in pip
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
            # As pip: a file whose listed hash a --hash pins beats better tags.
            hashed = [c for c in usable if _hash_pinned(c.file.hashes, self.hash_pins.get(name))]
            if hashed or usable:
                found.append(Candidate(name, version, extras, (hashed or usable)[0]))
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
        filename = candidate.file.filename
        try:
            named = (canonicalize_name(metadata.name), metadata.version)
            requirements = metadata.requires_dist or []
        except InvalidMetadata as exc:
            raise ResolutionError(
                f"{filename}: its METADATA is invalid: {exc} (must be {_FIELD_FORMATS[exc.field]})"
            ) from None
        if named != (candidate.name, candidate.version):
            raise ResolutionError(
                f"{filename}: its METADATA says {metadata.name} {metadata.version}, not "
                f"{candidate.name} {candidate.version} as its filename does; the file is "
                "mislabelled"
            )
        parent = f"{candidate.name} {candidate.version}"
        requires_python = _requires_python(metadata)
        if not requires_python.contains(self._python_full_version, prereleases=True):
            return [
                Need(
                    _PYTHON,
                    frozenset(),
                    requires_python,
                    f"Requires-Python {requires_python}",
                    parent,
                )
            ]
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
        for requirement in requirements:
            marker = requirement.marker
            if marker is not None and not _marker_holds(
                marker, self.platform, extras, f"{filename}: Requires-Dist {str(requirement)!r}"
            ):
                continue
            need = need_from(requirement, parent)
            needs.append(need)
            self._prefetch_project(need.name)
        return needs


def _hash_pinned(listed: Mapping[str, str], pins: Mapping[str, Collection[str]] | None) -> bool:
    """Whether a hash the index lists for a file is among a requirement's ``--hash`` pins."""
    return pins is not None and any(
        digest.lower() in pins.get(algorithm, ()) for algorithm, digest in listed.items()
    )


def _requires_python(metadata: Metadata) -> SpecifierSet:
    """METADATA's Requires-Python; pip ignores (with a warning) one it cannot parse."""
    try:
        return metadata.requires_python or SpecifierSet()
    except InvalidMetadata:
        return SpecifierSet()


def _explain(provider: _Provider, causes: Iterable[RequirementInformation[Need, Candidate]]) -> str:
    """One line on why nothing fits: conflicting requirements, no wheel for the target,
    or versions whose METADATA's Requires-Python excludes the target's Python."""
    by_name: dict[NormalizedName, list[Need]] = {}
    lines = []
    for info in causes:
        need = info.requirement
        if need.name == _PYTHON:
            lines.append(
                f"{need.parent}: Requires-Python {need.specifier} (from its metadata) excludes "
                f"CPython {provider.platform.python}"
            )
        else:
            by_name.setdefault(need.name, []).append(need)
    for name, needs in by_name.items():
        listing = _listing_indexes(provider, name)
        lines.append(
            _explain_project(provider, name, needs, listing)
            + _first_index_note(provider.sources, name, listing)
        )
    return "; ".join(dict.fromkeys(lines))


def _listing_indexes(provider: _Provider, name: NormalizedName) -> list[str]:
    """The indexes with a page for ``name`` (files or none) when a message needs them: the
    project has no files, or first-index read one of several indexes. ``Sources`` keeps
    only the files, so the pages are asked for again (revalidated through the HTTP cache)."""
    sources = provider.sources
    several = (
        sources.config.strategy is IndexStrategy.FIRST_INDEX and len(sources.config.index_urls) > 1
    )
    if provider.project(name).files and not several:
        return []
    return [
        index
        for index in sources.config.index_urls
        if sources.project_page(index, name) is not None
    ]


def _first_index_note(sources: Sources, name: NormalizedName, listing: list[str]) -> str:
    """Under first-index, that later indexes listing ``name`` went unread: their files
    might have fitted."""
    if sources.config.strategy is not IndexStrategy.FIRST_INDEX or len(listing) < 2:
        return ""
    return (
        f"; the first-index strategy stops at {listing[0]} and ignores {name} on "
        f"{', '.join(listing[1:])} (--index-strategy unsafe-best-match pools every index)"
    )


def _explain_project(
    provider: _Provider, name: NormalizedName, needs: list[Need], listing: list[str]
) -> str:
    platform = provider.platform
    project = provider.project(name)
    constraint = provider.constraints.get(name, SpecifierSet())
    described = [need.describe() for need in needs]
    if constraint:
        described.append(f"{name}{constraint} (constraint)")
    wanted = " and ".join(dict.fromkeys(described))
    if not project.files:
        if listing:
            first_index = provider.sources.config.strategy is IndexStrategy.FIRST_INDEX
            pages = ", ".join(listing[:1] if first_index else listing)
            return f"{name}: its project page on {pages} lists no files of it ({wanted})"
        indexes = ", ".join(provider.sources.config.index_urls)
        where = f"on {indexes} or in find-links" if indexes else "in find-links (no index)"
        return f"{name}: no such project {where} ({wanted})"
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
    hash_pins: HashPins | None = None,
    workers: int = 8,
) -> Resolution:
    """Resolve ``requirements`` (PEP 508 strings) for ``platform``; raises ``ResolutionError``.

    ``hash_pins`` (a requirements file's ``--hash`` values, by project) steer the choice
    among one version's files, as pip's do: one whose listed hash is pinned is taken.

    A requirement or constraint whose marker is false on the target is dropped, as pip
    drops it: ``foo<2; sys_platform == "win32"`` does not constrain an iOS resolution."""
    needs = [need for need in map(parse_need, requirements) if _applies(need, platform)]
    pins: dict[NormalizedName, SpecifierSet] = {}
    for constraint in map(parse_need, constraints):
        if _applies(constraint, platform):
            pins[constraint.name] = pins.get(constraint.name, SpecifierSet()) & constraint.specifier
    with ThreadPoolExecutor(max_workers=workers) as pool:
        provider = _Provider(platform, sources, metadata, pins, hash_pins or {}, pool)
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


def _applies(need: Need, platform: Platform) -> bool:
    """Whether a requested requirement (or constraint) holds on the target."""
    return need.marker is None or _marker_holds(need.marker, platform, [""], repr(need.text))


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
