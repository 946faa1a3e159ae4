"""The simple repository API: PEP 503 HTML and PEP 691 JSON from one model of a page.

Both renderings carry the same facts: a hash on every link (503), PEP 700's
``versions``, ``size`` and ``upload-time`` (JSON only, as the PEP says), PEP 658
metadata hashes under both PEP 714 names, and PEP 592 yanks with their reasons.
A file is the resolver's ``IndexFile``, so what this index renders is exactly
what ``omniwheel.resolve.simple.parse_project_page`` reads back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from packaging.utils import InvalidSdistFilename, parse_sdist_filename
from packaging.version import Version

from omniwheel.resolve.simple import HTML_V1, JSON_V1, IndexFile
from omniwheel.wheel import WheelError, WheelFilename

API_VERSION = "1.1"
TEXT_HTML = "text/html"
_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
}
# ``?format=json`` and ``?format=html``, for people typing URLs.
_SHORT_FORMATS = {"json": JSON_V1, "html": HTML_V1}
# Full ties go to plain HTML: PEP 691 says that is what a client that does not ask gets.
_PREFERENCE = (TEXT_HTML, HTML_V1, JSON_V1)


def file_version(filename: str) -> Version | None:
    """The version a wheel or sdist filename states (PEP 700 lists them); None if unparsable."""
    try:
        if filename.endswith(".whl"):
            return WheelFilename.parse(filename).version
        return parse_sdist_filename(filename)[1]
    except (WheelError, InvalidSdistFilename):
        return None


def negotiate(accept: str | None, override: str | None) -> str | None:
    """The media type to answer with, or None when nothing the client accepts is served.

    ``?format=`` names a type outright; otherwise the Accept header's q-values
    decide, then the most specific range, then the order the client listed.
    """
    if override:
        # An unescaped "+" in a query string arrives as a space.
        wanted = override.strip().replace(" ", "+")
        named = _SHORT_FORMATS.get(wanted) or _ALIASES.get(wanted, wanted)
        return named if named in _PREFERENCE else None
    if not accept or not accept.strip():
        return TEXT_HTML
    best: tuple[float, int, int, int] | None = None
    chosen: str | None = None
    for position, item in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in item.split(";"))
        media = _ALIASES.get(media.lower(), media.lower())
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        for rank, candidate in enumerate(_PREFERENCE):
            specificity = _match(media, candidate)
            if specificity < 0:
                continue
            score = (quality, specificity, -position, -rank)
            if best is None or score > best:
                best, chosen = score, candidate
    return chosen


def _match(media_range: str, candidate: str) -> int:
    """2 exact, 1 ``type/*``, 0 ``*/*``, -1 no match."""
    if media_range == candidate:
        return 2
    if media_range == "*/*":
        return 0
    kind, _, subtype = media_range.partition("/")
    return 1 if subtype == "*" and candidate.startswith(kind + "/") else -1


def format_time(timestamp: float) -> str:
    """ISO 8601 in UTC with a ``Z``, as PEP 700 shows."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render_root(projects: Sequence[tuple[str, str]], media_type: str) -> bytes:
    """The project list from (normalised name, display name) pairs."""
    if media_type == JSON_V1:
        document = {
            "meta": {"api-version": API_VERSION},
            "projects": [{"name": display} for _, display in projects],
        }
        return json.dumps(document, separators=(",", ":")).encode()
    lines = [f'<a href="{escape(name)}/">{escape(display)}</a><br>' for name, display in projects]
    return _html_page("Simple index", lines)


def render_project(name: str, files: Sequence[IndexFile], media_type: str) -> bytes:
    """One project's files; ``name`` is the normalised name."""
    if media_type == JSON_V1:
        versions = {v for file in files if (v := file_version(file.filename)) is not None}
        document = {
            "meta": {"api-version": API_VERSION},
            "name": name,
            "versions": [str(version) for version in sorted(versions)],
            "files": [_file_json(file) for file in files],
        }
        return json.dumps(document, separators=(",", ":")).encode()
    return _html_page(f"Links for {name}", [_anchor(file) for file in files])


def _file_json(file: IndexFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"filename": file.filename, "url": file.url, "hashes": file.hashes}
    if file.requires_python:
        entry["requires-python"] = file.requires_python
    metadata = False if file.metadata is None else (dict(file.metadata) or True)
    entry["core-metadata"] = metadata
    entry["dist-info-metadata"] = metadata
    entry["yanked"] = False if file.yanked is None else (file.yanked or True)
    if file.size is not None:
        entry["size"] = file.size
    if file.upload_time is not None:
        entry["upload-time"] = file.upload_time
    return entry


def _anchor(file: IndexFile) -> str:
    """PEP 503 links carry one hash: sha256 when the file has it."""
    href = file.url
    if file.hashes:
        algorithm = "sha256" if file.sha256 else next(iter(file.hashes))
        href += f"#{algorithm}={file.hashes[algorithm]}"
    attributes = [f'href="{escape(href)}"']
    if file.requires_python:
        attributes.append(f'data-requires-python="{escape(file.requires_python)}"')
    if file.metadata is not None:
        digests = [f"{name}={digest}" for name, digest in file.metadata.items()]
        value = escape(digests[0] if digests else "true")
        attributes += [f'data-core-metadata="{value}"', f'data-dist-info-metadata="{value}"']
    if file.yanked is not None:
        attributes.append(f'data-yanked="{escape(file.yanked)}"')
    return f"<a {' '.join(attributes)}>{escape(file.filename)}</a><br>"


def _html_page(title: str, lines: list[str]) -> bytes:
    head = (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
    )
    return (head + "\n".join(lines) + "\n</body>\n</html>\n").encode()
