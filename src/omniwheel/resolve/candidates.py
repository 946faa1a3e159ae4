"""Which of a project's files a target can install, best first, by the target's tag priority."""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
)
from packaging.version import Version

from omniwheel.platforms import Platform, marker_environment, tag_priorities
from omniwheel.resolve.simple import IndexFile
from omniwheel.resolve.sources import project_of
from omniwheel.wheel import WheelError, WheelFilename


def _of_project(filename: str, name: NormalizedName) -> bool:
    """Whether ``filename`` is a file of project ``name``. A wheel's name is all before its
    first ``-`` (the wheel spec escapes any in the name): a cheap test, as a page of a
    big project lists thousands of wheels."""
    if filename.endswith(".whl"):
        return canonicalize_name(filename.partition("-")[0]) == name
    return project_of(filename) == name


class WheelChoice(NamedTuple):
    """One wheel the target accepts: its rank (0 best) under the target's tag priority."""

    file: IndexFile
    filename: WheelFilename
    rank: int

    @property
    def sort_key(self) -> tuple[int, tuple[int, str] | tuple[()]]:
        # Better tag first; among equal tags the higher build number (negated for sorting).
        build = self.filename.build_key
        return (self.rank, (-build[0], build[1]) if build else ())


class ProjectFiles:
    """A project's files as seen from one target: wheels it accepts, grouped by version.

    Files whose filename names another project than ``name`` are left out, as pip
    leaves them: a page for ``wn`` listing ``wn_extra-2.0-py3-none-any.whl`` does not
    make that wheel ``wn`` 2.0.
    """

    def __init__(
        self,
        files: tuple[IndexFile, ...],
        platform: Platform,
        name: NormalizedName,
    ) -> None:
        self.files = tuple(file for file in files if _of_project(file.filename, name))
        self.platform = platform

    @cached_property
    def python_full_version(self) -> str:
        return marker_environment(self.platform)["python_full_version"]

    def python_ok(self, file: IndexFile) -> bool:
        """Whether the file's Requires-Python admits the target's Python."""
        if not file.requires_python:
            return True
        try:
            return SpecifierSet(file.requires_python).contains(
                self.python_full_version, prereleases=True
            )
        except InvalidSpecifier:
            return False  # pip, too, skips files whose Requires-Python it cannot parse

    @cached_property
    def _parsed(self) -> list[tuple[IndexFile, WheelFilename]]:
        """Every file with a parsable wheel name, each name parsed once."""
        parsed = []
        for file in self.files:
            if file.filename.endswith(".whl"):
                try:
                    parsed.append((file, WheelFilename.parse(file.filename)))
                except WheelError:
                    continue
        return parsed

    @cached_property
    def wheels(self) -> dict[Version, list[WheelFilename]]:
        """Every parsable wheel by version, compatible or not (for error messages)."""
        found: dict[Version, list[WheelFilename]] = {}
        for _, parsed in self._parsed:
            found.setdefault(parsed.version, []).append(parsed)
        return found

    @cached_property
    def _tag_matches(self) -> list[WheelChoice]:
        """The wheels whose tags the target accepts, whatever their Requires-Python."""
        ranks: dict[Tag, int] = tag_priorities(self.platform)
        matches = []
        for file, parsed in self._parsed:
            rank = min((ranks[tag] for tag in parsed.tags if tag in ranks), default=None)
            if rank is not None:
                matches.append(WheelChoice(file, parsed, rank))
        return matches

    @cached_property
    def choices(self) -> dict[Version, list[WheelChoice]]:
        """Version -> the wheels the target accepts (tags and Requires-Python), best first."""
        found: dict[Version, list[WheelChoice]] = {}
        for choice in self._tag_matches:
            if self.python_ok(choice.file):
                found.setdefault(choice.filename.version, []).append(choice)
        for choices in found.values():
            choices.sort(key=lambda choice: choice.sort_key)
        return found

    def python_excluded(self, version: Version) -> list[IndexFile]:
        """Wheels of ``version`` the target's tags accept but their Requires-Python refuses."""
        return [
            choice.file
            for choice in self._tag_matches
            if choice.filename.version == version and not self.python_ok(choice.file)
        ]

    @cached_property
    def sdists(self) -> dict[Version, list[IndexFile]]:
        """Every parsable sdist by version (the resolver never builds them; recipes do)."""
        found: dict[Version, list[IndexFile]] = {}
        for file in self.files:
            if not file.filename.endswith(".whl"):
                version = _sdist_version(file.filename)
                if version is not None:
                    found.setdefault(version, []).append(file)
        return found

    @cached_property
    def all_versions(self) -> set[Version]:
        """Versions with any file at all (sdists included), for "what exists" messages."""
        return set(self.wheels) | set(self.sdists)


def _sdist_version(filename: str) -> Version | None:
    try:
        return parse_sdist_filename(filename)[1]
    except (InvalidSdistFilename, ValueError):
        return None
