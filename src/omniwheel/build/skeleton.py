"""``omniwheel skeleton``: a recipe written from what the package index says about a project.

Unlike Pyodide's mkpkg, the run requirements are filled in: they come from the
release's core metadata (a wheel's PEP 658 ``.metadata`` file, else the sdist's
``PKG-INFO``), with each marker evaluated for the target platform. With
``recursive``, dependencies that publish no wheel the target accepts get
recipes too. Files and metadata come through ``omniwheel.resolve`` (the
indexes and find-links pip is configured with, its HTTP cache, PEP 658).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from omniwheel.build.recipe import RECIPE_FILE
from omniwheel.errors import UsageError
from omniwheel.files import write_atomic
from omniwheel.platforms import Platform, evaluate_marker
from omniwheel.resolve import IndexFile, Session, pip_index_config
from omniwheel.resolve.candidates import ProjectFiles
from omniwheel.wheel import WheelError, WheelFilename


@dataclass(frozen=True)
class SkeletonRecipe:
    """One recipe written: where, for which release, needing what."""

    name: str
    version: str
    path: Path
    run: list[str] = field(default_factory=list)
    reason: str = "requested"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": str(self.path),
            "run": self.run,
            "reason": self.reason,
        }


def project_files(session: Session, name: str, platform: Platform) -> ProjectFiles:
    """What the configured indexes and find-links list for ``name``, seen from ``platform``."""
    files = session.sources.files(name)
    if not files:
        places = ", ".join([*session.config.index_urls, *session.config.find_links]) or "none"
        raise UsageError(f"no configured index or find-links location has {name!r} ({places})")
    return ProjectFiles(tuple(files), platform, canonicalize_name(name))


def _sdist(project: ProjectFiles, version: Version) -> IndexFile | None:
    """The release's sdist the target's Python admits, not yanked; ``.tar.gz`` (PEP 625) first."""
    usable = [
        file
        for file in project.sdists.get(version, [])
        if file.yanked is None and project.python_ok(file)
    ]
    usable.sort(key=lambda file: not file.filename.endswith(".tar.gz"))
    return usable[0] if usable else None


def choose_version(
    project: ProjectFiles, name: str, requested: str | None, allowed: SpecifierSet | None = None
) -> Version:
    """``requested``, else the newest final release (within ``allowed``) that has an sdist."""
    if requested is not None:
        wanted = Version(requested)
        if wanted not in project.all_versions:
            shown = ", ".join(str(v) for v in sorted(project.all_versions)[-5:])
            raise UsageError(f"{name} has no release {requested} on the index (latest: {shown})")
        return wanted
    with_sdist = [
        version
        for version in project.sdists
        if not version.is_prerelease
        and (allowed is None or version in allowed)
        and _sdist(project, version) is not None
    ]
    if not with_sdist:
        raise UsageError(f"{name}: the index has no source distribution to build a recipe from")
    return max(with_sdist)


def release_metadata(
    session: Session, project: ProjectFiles, version: Version, sdist: IndexFile
) -> Metadata:
    """Core metadata of the release: a wheel's PEP 658 file (no download), else the sdist's."""
    for file in project.files:
        if file.filename.endswith(".whl") and file.metadata is not None:
            try:
                if WheelFilename.parse(file.filename).version == version:
                    return session.metadata.metadata(file)
            except WheelError:
                continue
    return session.metadata.metadata(sdist)


def run_requirements(metadata: Metadata, platform: Platform) -> list[Requirement]:
    """Requires-Dist entries that apply on ``platform`` (extras not requested)."""
    return [
        requirement
        for requirement in metadata.requires_dist or []
        if requirement.marker is None or evaluate_marker(requirement.marker, platform)
    ]


def has_target_wheel(project: ProjectFiles, requirement: Requirement) -> bool:
    """Whether the newest release matching ``requirement`` has a wheel the target accepts."""
    matching = list(requirement.specifier.filter(project.all_versions))
    return bool(matching) and max(matching) in project.choices


def recipe_document(
    name: str, version: Version, source: tuple[str, str], metadata: Metadata, run: list[str]
) -> dict[str, Any]:
    """The meta.yaml content, in Pyodide's key order; ``source`` is the sdist's URL and sha256."""
    url, sha256 = source
    document: dict[str, Any] = {
        "package": {"name": name, "version": str(version)},
        "source": {"url": url, "sha256": sha256},
    }
    if run:
        document["requirements"] = {"run": run}
    # A guess, as mkpkg makes it: the import name is usually the project name.
    document["test"] = {"imports": [canonicalize_name(name).replace("-", "_")]}
    about = {
        "home": metadata.home_page or _home(metadata.project_urls or {}),
        "summary": metadata.summary,
        "license": metadata.license_expression or metadata.license,
    }
    document["about"] = {key: value for key, value in about.items() if value}
    return document


def _home(urls: dict[str, str]) -> str | None:
    """The project URL that names its home, by the labels projects commonly use."""
    by_label = {str(canonicalize_name(label)): url for label, url in urls.items()}
    for label in ("homepage", "home", "source", "source-code", "repository", "documentation"):
        if label in by_label:
            return by_label[label]
    return None


def write_skeletons(
    name: str, platform: Platform, directory: Path, *, version: str | None = None,
    recursive: bool = False, force: bool = False, index: str | None = None,
) -> list[SkeletonRecipe]:  # fmt: skip
    """Write ``directory/<name>/meta.yaml`` (and, recursively, recipes for dependencies).

    ``index`` replaces the primary index pip is configured with (``--index-url``).
    """
    written: list[SkeletonRecipe] = []
    queue: list[tuple[str, str | None, SpecifierSet | None, str]] = [
        (name, version, None, "requested")
    ]
    seen: set[str] = set()
    with Session(pip_index_config(index_url=index)) as session:
        while queue:
            wanted_name, wanted, allowed, reason = queue.pop(0)
            key = canonicalize_name(wanted_name)
            if key in seen:
                continue
            seen.add(key)
            project = project_files(session, wanted_name, platform)
            chosen = choose_version(project, wanted_name, wanted, allowed)
            sdist = _sdist(project, chosen)
            if sdist is None:
                raise UsageError(f"{wanted_name} {chosen}: the index lists no sdist to build from")
            metadata = release_metadata(session, project, chosen, sdist)
            requirements = run_requirements(metadata, platform)
            run = [str(canonicalize_name(requirement.name)) for requirement in requirements]
            path = directory / str(key) / RECIPE_FILE
            if path.exists() and not force:
                if reason != "requested":
                    continue  # the user's own recipe for a dependency stays as it is
                raise UsageError(f"{path} exists; pass --force to overwrite it")
            source = (sdist.url, session.downloader.sha256(sdist))
            document = recipe_document(str(key), chosen, source, metadata, run)
            write_atomic(path, yaml.safe_dump(document, sort_keys=False).encode())
            written.append(SkeletonRecipe(str(key), str(chosen), path, run, reason))
            if recursive:
                for requirement in requirements:
                    if canonicalize_name(requirement.name) in seen:
                        continue
                    dependency = project_files(session, requirement.name, platform)
                    if not has_target_wheel(dependency, requirement):
                        why = f"needed by {key}: no wheel for the target"
                        queue.append((requirement.name, None, requirement.specifier, why))
    return written
