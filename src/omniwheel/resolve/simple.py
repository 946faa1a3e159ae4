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


def parse_project_page(
    body: bytes, content_type: str, url: str, index: str | None
) -> list[IndexFile]:
    """Dispatch on the response's content type (PEP 691: JSON, else PEP 503 HTML, as
    find-links pages are too)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_V1 or media_type == "application/json":
        return parse_json_page(body, url, index)
    from omniwheel.resolve.simple_html import parse_html_page

    return parse_html_page(body, url, index)
