"""Package sources: indexes (remote or ``file://``) and find-links, combined by strategy."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from omniwheel.errors import UsageError
from omniwheel.resolve.config import IndexConfig, IndexStrategy
from omniwheel.resolve.http import HttpClient
from omniwheel.resolve.simple import ACCEPT, IndexFile, parse_project_page


def project_of(filename: str) -> NormalizedName | None:
    """The normalised project name a distribution filename states, or None if unparsable."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def local_path(url_or_path: str) -> Path | None:
    """The filesystem path of a ``file:`` URL or a plain path; None for a remote URL."""
    parts = urlsplit(url_or_path)
    if parts.scheme == "file":
        if os.name == "nt":  # drive letters and backslashes, as urllib.request reads them
            from nturl2path import url2pathname

            return Path(url2pathname(parts.path))
        return Path(unquote(parts.path))  # decoded once: "%2541" is a file named "%41"
    if parts.scheme in ("http", "https"):
        return None
    return Path(url_or_path).expanduser()


def _listing(directory: Path, index: str | None) -> list[IndexFile]:
    return [
        IndexFile(filename=path.name, url=path.resolve().as_uri(), index=index)
        for path in sorted(directory.iterdir())
        if path.is_file() and project_of(path.name) is not None
    ]


class Sources:
    """Answers "which files does project X have?" from every configured source."""

    def __init__(self, config: IndexConfig, http: HttpClient) -> None:
        self.config = config
        self.http = http
        self._projects: dict[str, list[IndexFile]] = {}
        self._find_links: dict[NormalizedName, list[IndexFile]] | None = None
        self._lock = threading.Lock()

    def files(self, name: str) -> list[IndexFile]:
        """Every file of project ``name`` the strategy allows, find-links first."""
        key = canonicalize_name(name)
        cached = self._projects.get(key)
        if cached is None:
            cached = self._find_links_files(key) + self._index_files(key)
            self._projects[key] = cached
        return cached

    def _index_files(self, name: NormalizedName) -> list[IndexFile]:
        found: list[IndexFile] = []
        for index in self.config.index_urls:
            files = self.project_page(index, name)
            if files is None:
                continue
            found += files
            if self.config.strategy is IndexStrategy.FIRST_INDEX:
                break
        return found

    def project_page(self, index: str, name: NormalizedName) -> list[IndexFile] | None:
        """What one index lists for ``name`` (``None``: it does not have the project),
        through the HTTP cache; ``files`` combines the indexes by strategy."""
        base = index.rstrip("/") + "/"
        directory = local_path(base)
        if directory is not None:
            project = directory / name
            if not project.is_dir():
                return None
            page = project / "index.html"
            if page.is_file():
                return parse_project_page(page.read_bytes(), "text/html", page.as_uri(), base)
            return _listing(project, base)
        url = f"{base}{name}/"
        fetched = self.http.get_page(url, ACCEPT)
        if fetched is None:
            return None
        return parse_project_page(fetched.body, fetched.content_type, fetched.url, base)

    def _find_links_files(self, name: NormalizedName) -> list[IndexFile]:
        with self._lock:
            if self._find_links is None:
                self._find_links = {}
                for file in self._scan_find_links(self.config.find_links):
                    project = project_of(file.filename)
                    if project is not None:
                        self._find_links.setdefault(project, []).append(file)
        return self._find_links.get(name, [])

    def _scan_find_links(self, locations: Iterable[str]) -> Iterable[IndexFile]:
        for location in locations:
            path = local_path(location)
            if path is None:
                page = self.http.get_page(location, "text/html")
                if page is not None:
                    from omniwheel.resolve.simple_html import parse_html_page

                    yield from parse_html_page(page.body, page.content_type, page.url, None)
            elif path.is_dir():
                yield from _listing(path, None)
            elif path.is_file():
                yield IndexFile(filename=path.name, url=path.resolve().as_uri())
            else:
                raise UsageError(
                    f"find-links location {location} does not exist; "
                    "give a directory of wheels, a wheel file or an HTML page URL"
                )
