"""The simple repository API: PEP 691 JSON and PEP 503 HTML project pages, one file model.

Covers PEP 592 (yanked), PEP 658/714 (core metadata files) and PEP 700
(size, upload time), whichever form the index answers in. HTML pages are read by
``simple_html``, loaded with the first one (html.parser costs a JSON index's
every run ~6 ms otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

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


#: PEP 629: the major version of the simple API this client reads; a page declaring a
#: higher one has changed incompatibly and MUST be refused (a higher minor is fine).
API_MAJOR = 1


def check_api_version(version: str, url: str) -> None:
    """Refuse a page whose PEP 629/691 API version has a major we do not read."""
    major, _, _ = version.partition(".")
    if not major.strip().isdigit():
        raise IndexFormatError(f"{url}: API version {version!r} is not <major>.<minor>")
    if int(major) > API_MAJOR:
        raise IndexFormatError(
            f"{url}: the page declares simple API version {version}; omniwheel reads "
            f"version {API_MAJOR}.x only (PEP 629), so it cannot use this index"
        )


#: JSON types by the name a message gives them.
_JSON_TYPES = {str: "a string", int: "an integer", bool: "a boolean", dict: "an object"}


class _FileEntry:
    """One ``files`` entry of a PEP 691 page; each field is type-checked as it is read,
    so a wrong type is a message naming the entry and field, not a later traceback."""

    def __init__(self, entry: Any, position: int) -> None:
        if not isinstance(entry, dict):
            raise ValueError(f"files[{position}] is {entry!r}, not an object")
        self.entry = entry
        self.position = position

    def get(self, key: str, *kinds: type, required: bool = False) -> Any:
        """``entry[key]`` if one of ``kinds`` (exactly: JSON ``true`` is no integer);
        ``None`` when absent or null, unless ``required``."""
        value = self.entry.get(key)
        if value is None and not required:
            return None
        if type(value) not in kinds:
            wanted = " or ".join(_JSON_TYPES[kind] for kind in kinds)
            found = "missing" if value is None else repr(value)
            raise ValueError(f'files[{self.position}] "{key}" is {found}, not {wanted}')
        return value

    def digests(self, key: str, *kinds: type) -> Any:
        """A field that may be a hash mapping (``{"sha256": "<hex>"}``): every digest a string."""
        value = self.get(key, dict, *kinds)
        if isinstance(value, dict):
            for algorithm, digest in value.items():
                if not isinstance(digest, str):
                    raise ValueError(
                        f'files[{self.position}] "{key}" gives {algorithm} as {digest!r}, '
                        "not a hex string"
                    )
        return value

    def index_file(self, url: str, index: str | None) -> IndexFile:
        # PEP 691/714: the core metadata hashes, ``true`` (unhashed) or absent.
        metadata = self.digests("core-metadata", bool)
        if metadata is None:
            metadata = self.digests("dist-info-metadata", bool)
        yanked = self.get("yanked", bool, str)
        return IndexFile(
            filename=self.get("filename", str, required=True),
            url=urljoin(url, self.get("url", str, required=True)),
            hashes=self.digests("hashes") or {},
            requires_python=self.get("requires-python", str) or None,
            yanked=yanked if isinstance(yanked, str) else ("" if yanked else None),
            metadata=metadata if isinstance(metadata, dict) else ({} if metadata else None),
            size=self.get("size", int),
            upload_time=self.get("upload-time", str),
            index=index,
        )


def parse_json_page(body: bytes, url: str, index: str | None) -> list[IndexFile]:
    """A PEP 691 project page (``files`` with relative or absolute ``url``)."""
    try:
        document = json.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("files"), list):
            raise ValueError('no "files" list')
        meta = document.get("meta")
        version = meta.get("api-version") if isinstance(meta, dict) else None
        if version is not None:
            check_api_version(str(version), url)
        return [
            _FileEntry(entry, position).index_file(url, index)
            for position, entry in enumerate(document["files"])
        ]
    except ValueError as exc:
        raise IndexFormatError(f"{url}: not a valid PEP 691 project page ({exc})") from exc


def parse_project_page(
    body: bytes, content_type: str, url: str, index: str | None
) -> list[IndexFile]:
    """Dispatch on the response's content type (PEP 691: JSON, else PEP 503 HTML, as
    find-links pages are too)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_V1 or media_type == "application/json":
        return parse_json_page(body, url, index)
    from omniwheel.resolve.simple_html import parse_html_page

    return parse_html_page(body, content_type, url, index)
