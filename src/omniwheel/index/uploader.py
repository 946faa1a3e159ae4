"""Uploading wheels with the legacy upload API (``:action=file_upload``).

It is what ``omniwheel serve``, twine and most private indexes speak, so
``omniwheel build --upload URL`` publishes to any of them. The wheel's own
METADATA fills the form (servers compare it with the file) and the file is
streamed, never held in memory. The token travels as HTTP Basic credentials with
the user name ``__token__``, as twine sends it. Re-uploading the identical file
is not an error (``omniwheel serve`` answers 200, like the public index does for
an identical file); every refusal becomes one line naming the wheel, the URL and
what to do.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx

from omniwheel import __version__
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.files import file_sha256
from omniwheel.wheel import Wheel

TOKEN_ENV = "OMNIWHEEL_UPLOAD_TOKEN"
_USER = "__token__"
_KNOWN = {status.value for status in HTTPStatus}
_PRE = re.compile(r"<pre>(.*?)</pre>", re.DOTALL | re.IGNORECASE)
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


class UploadFailedError(OmniwheelError):
    """The index did not take a wheel; the message says which, where and why, on one line."""


@dataclass(frozen=True)
class Uploaded:
    """One wheel the index now holds; ``existed`` when it already held this very file."""

    wheel: Path
    url: str
    sha256: str
    existed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "wheel": str(self.wheel),
            "url": self.url,
            "sha256": self.sha256,
            "status": "exists" if self.existed else "uploaded",
        }


def upload_token(token: str | None) -> str | None:
    """The token given, else ``$OMNIWHEEL_UPLOAD_TOKEN``; ``None`` uploads anonymously."""
    return token or os.environ.get(TOKEN_ENV) or None


def check_upload_url(url: str) -> None:
    """Refuse a URL no upload could go to (before anything is built for it)."""
    if httpx.URL(url).scheme not in ("http", "https") or not httpx.URL(url).host:
        raise UsageError(f"--upload {url}: not an http(s) URL (e.g. http://127.0.0.1:8080/legacy/)")


class Uploader:
    """One connection to an index's upload URL; use as a context manager."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 300.0) -> None:
        check_upload_url(url)
        self.url = url
        self._client = httpx.Client(
            timeout=timeout,
            auth=None if token is None else httpx.BasicAuth(_USER, token),
            headers={"User-Agent": f"omniwheel/{__version__}", "Accept": "application/json"},
        )

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def upload(self, wheel: Path) -> Uploaded:
        """Send ``wheel``; raise ``UploadFailedError`` unless the index holds it afterwards."""
        with Wheel.open(wheel) as opened:
            metadata = opened.metadata
            python = opened.filename.python_tags
        sha256 = file_sha256(wheel)
        form = {
            ":action": "file_upload",
            "protocol_version": "1",
            "name": metadata.name,
            "version": str(metadata.version),
            "metadata_version": str(metadata.metadata_version),
            "filetype": "bdist_wheel",
            "pyversion": ".".join(python),
            "sha256_digest": sha256,
            **({"summary": metadata.summary} if metadata.summary else {}),
            **(
                {"requires_python": str(metadata.requires_python)}
                if metadata.requires_python
                else {}
            ),
        }
        try:
            with wheel.open("rb") as content:
                files = {"content": (wheel.name, content, "application/octet-stream")}
                response = self._client.post(self.url, data=form, files=files)
        except httpx.TransportError as error:
            raise UploadFailedError(
                f"cannot upload {wheel.name}: {self.url} is unreachable ({_reason(error)})"
            ) from error
        if response.status_code == 200:
            existed = bool(_document(response).get("existed"))
            return Uploaded(wheel, self.url, sha256, existed)
        raise UploadFailedError(self._refusal(wheel, response))

    def _refusal(self, wheel: Path, response: httpx.Response) -> str:
        status = response.status_code
        said = _message(response)
        prefix = f"{self.url} refused {wheel.name}"
        if status == 401:
            return (
                f"{prefix} (401: {said}): give an API token with --token or ${TOKEN_ENV}"
                if self._client.auth is None
                else f"{prefix} (401: {said}): the index does not accept this token"
            )
        if status == 403:
            return f"{prefix} (403: {said}): use a token allowed to upload this project"
        if status == 409:
            return f"{prefix} (409: {said}): bump the version or the build number to publish it"
        if status in (301, 302, 303, 307, 308):
            target = response.headers.get("location", "?")
            return f"{prefix}: it redirects to {target}; pass that URL to --upload"
        return f"{prefix} ({status}: {said})"


def _document(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _message(response: httpx.Response) -> str:
    """The server's own reason, on one line: its JSON ``message``; a reason phrase of its
    own (the public index puts its message there); an HTML page's ``<pre>`` or title
    (pypiserver); else the first line of the body."""
    said = _document(response).get("message")
    if not isinstance(said, str):
        said = ""
        standard = HTTPStatus(response.status_code).phrase if response.status_code in _KNOWN else ""
        if response.reason_phrase and response.reason_phrase != standard:
            said = response.reason_phrase
        elif "html" in response.headers.get("content-type", ""):
            found = _PRE.search(response.text) or _TITLE.search(response.text)
            said = html.unescape(_TAG.sub(" ", found.group(1))) if found else ""
        else:
            said = next((line for line in response.text.splitlines() if line.strip()), "")
    return " ".join(said.split())[:300] or response.reason_phrase


def _reason(error: httpx.TransportError) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
