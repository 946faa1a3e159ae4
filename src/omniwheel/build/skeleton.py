"""``omniwheel skeleton``: a recipe written from what the package index says about a project.

Unlike Pyodide's mkpkg, the run requirements are filled in: they come from the
release's core metadata (a wheel's PEP 658 ``.metadata`` file, else the sdist's
``PKG-INFO``), with each marker evaluated for the target platform. With
``recursive``, dependencies that publish no wheel the target accepts get
recipes too. The index is the one pip is configured with.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from omniwheel.build.cache import write_atomic
from omniwheel.build.recipe import RECIPE_FILE
from omniwheel.build.sources import default_cache_dir, fetch
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.platforms import Platform, compatible_tags, evaluate_marker
from omniwheel.wheel import WheelError, WheelFilename

_JSON = "application/vnd.pypi.simple.v1+json"


class IndexQueryError(OmniwheelError):
    """The index could not answer about a project."""


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None
    has_metadata: bool
    yanked: bool


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


def configured_index_url() -> str:
    """The index pip uses here: ``PIP_INDEX_URL``, pip's configuration files, else pip's default."""
    if url := os.environ.get("PIP_INDEX_URL"):
        return url
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url"):
            return value.strip().strip("'\"")
    ask_pip = "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"
    default = subprocess.run(
        [sys.executable, "-c", ask_pip],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if default.returncode != 0 or not default.stdout.strip():
        raise UsageError("cannot tell which package index pip uses: set PIP_INDEX_URL")
    return default.stdout.strip()


class _Anchors(HTMLParser):
    """The links of a PEP 503 page with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def project_files(index: str, name: str) -> list[IndexFile]:
    """Every file the index lists for ``name`` (PEP 691 JSON, or the PEP 503 HTML page)."""
    page = urllib.parse.urljoin(index.rstrip("/") + "/", f"{canonicalize_name(name)}/")
    request = urllib.request.Request(page, headers={"Accept": f"{_JSON}, text/html;q=0.1"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            content_type = response.headers.get("Content-Type", "")
            body = response.read()
    except OSError as error:
        raise IndexQueryError(f"the index has no project {name!r} ({page}: {error})") from error
    if _JSON in content_type:
        files = json.loads(body)["files"]
        return [
            IndexFile(
                item["filename"],
                urllib.parse.urljoin(page, item["url"]),
                item.get("hashes", {}).get("sha256"),
                bool(item.get("core-metadata") or item.get("data-dist-info-metadata")),
                bool(item.get("yanked")),
            )
            for item in files
        ]
    anchors = _Anchors()
    anchors.feed(body.decode("utf-8", "replace"))
    found = []
    for link in anchors.links:
        href = urllib.parse.urljoin(page, link.get("href") or "")
        url, _, fragment = href.partition("#")
        digest = fragment.removeprefix("sha256=") if fragment.startswith("sha256=") else None
        metadata = link.get("data-core-metadata") or link.get("data-dist-info-metadata")
        found.append(
            IndexFile(
                urllib.parse.unquote(url.rsplit("/", 1)[-1]), url, digest,
                metadata is not None and metadata != "false", "data-yanked" in link,
            )
        )  # fmt: skip
    return found


def _version_of(file: IndexFile) -> Version | None:
    try:
        if file.filename.endswith(".whl"):
            return WheelFilename.parse(file.filename).version
        return parse_sdist_filename(file.filename)[1]
    except (WheelError, InvalidSdistFilename, InvalidVersion):
        return None


def _sdist(files: list[IndexFile], version: Version) -> IndexFile | None:
    for file in files:
        if file.filename.endswith((".tar.gz", ".zip")) and _version_of(file) == version:
            return file
    return None


def choose_version(
    files: list[IndexFile], name: str, requested: str | None, allowed: SpecifierSet | None = None
) -> Version:
    """``requested``, else the newest final release (within ``allowed``) that has an sdist."""
    versions = {v for f in files if not f.yanked and (v := _version_of(f)) is not None}
    if requested is not None:
        wanted = Version(requested)
        if wanted not in versions:
            shown = ", ".join(str(v) for v in sorted(versions)[-5:])
            raise UsageError(f"{name} has no release {requested} on the index (latest: {shown})")
        return wanted
    with_sdist = [
        v
        for v in versions
        if not v.is_prerelease
        and (allowed is None or v in allowed)
        and _sdist(files, v) is not None
    ]
    if not with_sdist:
        raise UsageError(f"{name}: the index has no source distribution to build a recipe from")
    return max(with_sdist)


def release_metadata(files: list[IndexFile], version: Version, sdist: IndexFile) -> Metadata:
    """Core metadata of the release: a wheel's ``.metadata`` file, else the sdist's PKG-INFO."""
    for file in files:
        if file.filename.endswith(".whl") and file.has_metadata and _version_of(file) == version:
            with urllib.request.urlopen(file.url + ".metadata", timeout=60) as response:
                return Metadata.from_email(response.read(), validate=False)
    assert sdist.sha256 is not None
    archive = fetch(sdist.url, sdist.sha256, default_cache_dir())
    return Metadata.from_email(_pkg_info(archive), validate=False)


def _pkg_info(archive: Path) -> bytes:
    """The top-level ``PKG-INFO`` of an sdist."""
    pattern = re.compile(r"^[^/]+/PKG-INFO$")
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                if pattern.match(member):
                    return zipped.read(member)
    else:
        with tarfile.open(archive) as tar:
            for info in tar:
                if pattern.match(info.name) and info.isfile():
                    stream = tar.extractfile(info)
                    if stream is not None:
                        return stream.read()
    raise IndexQueryError(f"{archive.name}: no PKG-INFO in this sdist")


def run_requirements(metadata: Metadata, platform: Platform) -> list[Requirement]:
    """Requires-Dist entries that apply on ``platform`` (extras not requested)."""
    return [
        requirement
        for requirement in metadata.requires_dist or []
        if requirement.marker is None or evaluate_marker(requirement.marker, platform)
    ]


def has_target_wheel(files: list[IndexFile], requirement: Requirement, platform: Platform) -> bool:
    """Whether the newest release matching ``requirement`` has a wheel ``platform`` accepts."""
    accepted = set(compatible_tags(platform))
    matching = {
        v for f in files if (v := _version_of(f)) is not None and v in requirement.specifier
    }
    if not matching:
        return False
    newest = max(matching)
    return any(
        f.filename.endswith(".whl")
        and _version_of(f) == newest
        and WheelFilename.parse(f.filename).tags & accepted
        for f in files
    )


def recipe_document(
    name: str, version: Version, sdist: IndexFile, metadata: Metadata, run: list[str]
) -> dict[str, Any]:
    """The meta.yaml content, in Pyodide's key order."""
    assert sdist.sha256 is not None
    document: dict[str, Any] = {
        "package": {"name": name, "version": str(version)},
        "source": {"url": sdist.url, "sha256": sdist.sha256},
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
    """Write ``directory/<name>/meta.yaml`` (and, recursively, recipes for dependencies)."""
    index = index or configured_index_url()
    written: list[SkeletonRecipe] = []
    queue: list[tuple[str, str | None, SpecifierSet | None, str]] = [
        (name, version, None, "requested")
    ]
    seen: set[str] = set()
    while queue:
        project, wanted, allowed, reason = queue.pop(0)
        key = canonicalize_name(project)
        if key in seen:
            continue
        seen.add(key)
        files = project_files(index, project)
        chosen = choose_version(files, project, wanted, allowed)
        sdist = _sdist(files, chosen)
        if sdist is None or sdist.sha256 is None:
            raise UsageError(f"{project} {chosen}: the index lists no sdist with a sha256")
        metadata = release_metadata(files, chosen, sdist)
        requirements = run_requirements(metadata, platform)
        run = [str(canonicalize_name(requirement.name)) for requirement in requirements]
        path = directory / str(key) / RECIPE_FILE
        if path.exists() and not force:
            if reason != "requested":
                continue  # the user's own recipe for a dependency stays as it is
            raise UsageError(f"{path} exists; pass --force to overwrite it")
        document = recipe_document(str(key), chosen, sdist, metadata, run)
        write_atomic(path, yaml.safe_dump(document, sort_keys=False).encode())
        written.append(SkeletonRecipe(str(key), str(chosen), path, run, reason))
        if recursive:
            for requirement in requirements:
                if canonicalize_name(requirement.name) in seen:
                    continue
                dependency_files = project_files(index, requirement.name)
                if not has_target_wheel(dependency_files, requirement, platform):
                    queue.append(
                        (
                            requirement.name,
                            None,
                            requirement.specifier,
                            f"needed by {key}: no wheel for the target",
                        )
                    )
    return written
