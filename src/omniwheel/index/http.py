"""HTTP caching for rendered pages: ETag, Last-Modified, conditional requests, gzip.

Pages are rendered once per change (keyed by the database serial) and kept,
gzipped on first demand, in a small per-process LRU; a request for an unchanged
page costs one SQLite lookup and a dictionary hit.
"""

from __future__ import annotations

import gzip
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime

from starlette.datastructures import Headers
from starlette.responses import Response

_GZIP_MIN = 1024


@dataclass
class Rendered:
    body: bytes
    media_type: str
    etag: str
    last_modified: float
    _gzipped: bytes | None = field(default=None, repr=False)

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped


class RenderCache:
    """The latest rendering of each page, replaced when its serial moves on."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Hashable, Rendered]] = OrderedDict()

    def get(self, key: Hashable, serial: Hashable, render: Callable[[], Rendered]) -> Rendered:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == serial:
            self._entries.move_to_end(key)
            return entry[1]
        rendered = render()
        self._entries[key] = (serial, rendered)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return rendered


def not_modified(request: Headers, etag: str, last_modified: float | None) -> bool:
    """RFC 9110: If-None-Match (weak comparison) wins; else If-Modified-Since."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        wanted = etag.removeprefix("W/")
        return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
    since = request.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        return int(last_modified) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False


def accepts_gzip(request: Headers) -> bool:
    for item in request.get("accept-encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def page_response(request: Headers, rendered: Rendered, cache_control: str) -> Response:
    """The page, or 304 when the client's copy is current; gzipped when worth it."""
    headers = {
        "ETag": rendered.etag,
        "Last-Modified": http_date(rendered.last_modified),
        "Cache-Control": cache_control,
        "Vary": "Accept, Accept-Encoding",
    }
    if not_modified(request, rendered.etag, rendered.last_modified):
        return Response(status_code=304, headers=headers)
    body = rendered.body
    if len(body) >= _GZIP_MIN and accepts_gzip(request):
        body = rendered.gzipped()
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type=rendered.media_type)
