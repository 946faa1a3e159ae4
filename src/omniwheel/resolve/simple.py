"""The simple repository API: PEP 691 JSON and PEP 503 HTML project pages, one file model.

Covers PEP 592 (yanked), PEP 658/714 (core metadata files) and PEP 700
(size, upload time), whichever form the index answers in.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from omniwheel.errors import OmniwheelError

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
#: PEP 691 content negotiation: JSON preferred, either HTML form accepted.
ACCEPT = f"{JSON_V1}, {HTML_V1};q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class IndexFile:
    """One distribution file as an index (or a find-links location) lists it."""

    filename: str
    url: str
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    #: ``None`` when not yanked, else the reason (possibly empty), PEP 592.
    yanked: str | None = None
    #: Hashes of the PEP 658 metadata file, ``{}`` when it exists unhashed, ``None`` if absent.
    metadata: Mapping[str, str] | None = None
    size: int | None = None
    upload_time: str | None = None
    #: The index base URL the file came from; ``None`` for find-links.
    index: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def is_local(self) -> bool:
        return self.url.startswith("file:")


class IndexFormatError(OmniwheelError):
    """An index page that is neither valid PEP 691 JSON nor PEP 503 HTML."""


def _metadata_field(value: Any) -> Mapping[str, str] | None:
    """PEP 691/714: ``true`` or a hash mapping means present; ``false`` or absent means not."""
    if isinstance(value, Mapping):
        return {str(key): str(digest) for key, digest in value.items()}
    return {} if value is True else None


def _yanked_field(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    return "" if value else None


def parse_json_page(body: bytes, url: str, index: str | None) -> list[IndexFile]:
    """A PEP 691 project page (``files`` with relative or absolute ``url``)."""
    try:
        document = json.loads(body)
        files = document["files"]
        return [
            IndexFile(
                filename=entry["filename"],
                url=urljoin(url, entry["url"]),
                hashes=dict(entry.get("hashes") or {}),
                requires_python=entry.get("requires-python") or None,
                yanked=_yanked_field(entry.get("yanked")),
                metadata=_metadata_field(
                    entry.get("core-metadata", entry.get("dist-info-metadata"))
                ),
                size=entry.get("size"),
                upload_time=entry.get("upload-time"),
                index=index,
            )
            for entry in files
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexFormatError(f"{url}: not a valid PEP 691 project page ({exc})") from exc


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))


def _present(anchor: dict[str, str | None], *names: str) -> str | None:
    """An attribute's value, ``""`` for a bare attribute, ``None`` when absent."""
    for name in names:
        if name in anchor:
            return anchor[name] or ""
    return None


def _metadata_attribute(value: str | None) -> Mapping[str, str] | None:
    """``data-core-metadata="sha256=…"``, ``"true"`` or bare; ``"false"`` means absent."""
    if value is None or value.lower() == "false":
        return None
    name, _, digest = value.partition("=")
    return {name: digest} if digest else {}


def parse_html_page(body: bytes, url: str, index: str | None) -> list[IndexFile]:
    """A PEP 503 page (also a find-links HTML page): every anchor is one file."""
    parser = _AnchorParser()
    try:
        parser.feed(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise IndexFormatError(f"{url}: the HTML page is not UTF-8 ({exc})") from exc
    base = urljoin(url, parser.base) if parser.base else url
    files = []
    for anchor in parser.anchors:
        href = anchor.get("href")
        if not href:
            continue
        absolute, fragment = urldefrag(urljoin(base, href))
        algorithm, _, digest = fragment.partition("=")
        metadata = _present(anchor, "data-core-metadata", "data-dist-info-metadata")
        files.append(
            IndexFile(
                filename=unquote(posixpath.basename(urlsplit(absolute).path)),
                url=absolute,
                hashes={algorithm: digest} if digest else {},
                requires_python=anchor.get("data-requires-python") or None,
                yanked=_present(anchor, "data-yanked"),
                metadata=_metadata_attribute(metadata),
                index=index,
            )
        )
    return files


def parse_project_page(
    body: bytes, content_type: str, url: str, index: str | None
) -> list[IndexFile]:
    """Dispatch on the response's content type (PEP 691: JSON, else HTML)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_V1 or media_type == "application/json":
        return parse_json_page(body, url, index)
    return parse_html_page(body, url, index)
