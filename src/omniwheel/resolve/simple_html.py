"""PEP 503 HTML project pages (and find-links HTML pages): every anchor is one file.

The attributes carry PEP 592 (``data-yanked``), PEP 658/714
(``data-core-metadata``) and ``data-requires-python``; a PEP 629
``<meta name="pypi:repository-version">`` is checked. ``simple`` turns either
page form into the same ``IndexFile`` list.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from omniwheel.resolve.simple import IndexFile, IndexFormatError, check_api_version


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.api_version: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "meta":
            attributes = dict(attrs)
            if attributes.get("name") == "pypi:repository-version":
                self.api_version = attributes.get("content") or ""


def _charset(content_type: str) -> str:
    """The ``charset`` parameter of a Content-Type, else UTF-8 (pip decodes pages so)."""
    for parameter in content_type.split(";")[1:]:
        key, _, value = parameter.partition("=")
        charset = value.strip(" \t\"'")
        if key.strip().lower() == "charset" and charset:
            return charset
    return "utf-8"


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


def parse_html_page(body: bytes, content_type: str, url: str, index: str | None) -> list[IndexFile]:
    """A PEP 503 page (also a find-links HTML page), in the charset its Content-Type
    names: every anchor is one file."""
    charset = _charset(content_type)
    try:
        text = body.decode(charset)
    except LookupError as exc:
        raise IndexFormatError(f"{url}: the page's charset {charset!r} is unknown") from exc
    except UnicodeDecodeError as exc:
        raise IndexFormatError(f"{url}: the HTML page is not valid {charset} ({exc})") from exc
    parser = _AnchorParser()
    parser.feed(text)
    if parser.api_version is not None:
        check_api_version(parser.api_version, url)
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
