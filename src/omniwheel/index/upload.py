"""The legacy upload API (``:action=file_upload``) that twine and ``uv publish`` speak.

The multipart body is parsed as it arrives: form fields are kept (small,
bounded), the file part goes straight to a staging file while it is hashed, so
memory stays bounded whatever the upload's size. The file's name is judged (a
wheel? may this token upload that project?) as soon as its part begins, before
any of its bytes are staged. What the client claims (name, version, digests) is
then compared with what arrived.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from omniwheel.wheel import WheelError, WheelFilename

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

_MAX_FIELD = 1 << 16
_MAX_FIELDS_TOTAL = 1 << 20
_FILE_FIELD = "content"
_SHA256 = "sha256_digest"
#: The digest fields of the form and how to compute each (``<algorithm>_digest``).
_DIGESTS: dict[str, Callable[[], Any]] = {
    _SHA256: hashlib.sha256,
    "md5_digest": partial(hashlib.md5, usedforsecurity=False),
    "blake2_256_digest": partial(hashlib.blake2b, digest_size=32),
}


class UploadError(Exception):
    """A request the upload API refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """A received upload: its form fields and the staged file with its digests.

    ``digests`` is keyed by form field: sha256 always, the others when claimed.
    """

    fields: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None
    wheel: WheelFilename | None = None
    size: int = 0
    digests: dict[str, str] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


class _Reader:
    """python-multipart callbacks that fill an ``Upload``."""

    def __init__(
        self, staging: Path, max_size: int, accept: Callable[[WheelFilename], None]
    ) -> None:
        self.upload = Upload()
        self.staging = staging
        self.max_size = max_size
        self.accept = accept
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        self._name: str | None = None
        self._value = bytearray()
        self._fields_total = 0
        self._file: IO[bytes] | None = None
        self._hashers: dict[str, Any] = {}

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._value = bytearray()

    def header_end(self) -> None:
        key = self._header_field.decode("latin-1").strip().lower()
        self._headers[key] = self._header_value.decode("utf-8", "replace").strip()
        self._header_field = bytearray()
        self._header_value = bytearray()

    def headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name != _FILE_FIELD:
            return
        if self.upload.path is not None:
            raise UploadError(400, "the upload has more than one 'content' file; send one")
        filename = options.get(b"filename", b"").decode("utf-8", "replace")
        basename = filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not basename.endswith(".whl") or basename != filename or basename.startswith("."):
            raise UploadError(
                400, f"{filename!r}: this index accepts wheels only (name-version-tags.whl)"
            )
        try:
            self.upload.wheel = WheelFilename.parse(basename)
        except WheelError as exc:
            raise UploadError(400, str(exc)) from exc
        self.accept(self.upload.wheel)
        self.upload.path = self.staging / basename
        self._file = self.upload.path.open("wb")
        # Forms put their fields before the file: hash what they claim, and sha256 to store.
        claimed = [name for name in _DIGESTS if name == _SHA256 or self.upload.field(name)]
        self._hashers = {name: _DIGESTS[name]() for name in claimed}

    def part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._file is not None:
            self.upload.size += len(chunk)
            if self.upload.size > self.max_size:
                raise UploadError(
                    413, f"the upload is larger than this index's limit of {self.max_size} bytes"
                )
            self._file.write(chunk)
            for hasher in self._hashers.values():
                hasher.update(chunk)
            return
        self._fields_total += len(chunk)
        if len(self._value) + len(chunk) > _MAX_FIELD or self._fields_total > _MAX_FIELDS_TOTAL:
            raise UploadError(413, f"form field {self._name!r} is too large")
        self._value.extend(chunk)

    def part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self.upload.digests = {k: h.hexdigest() for k, h in self._hashers.items()}
        elif self._name:
            value = self._value.decode("utf-8", "replace")
            self.upload.fields.setdefault(self._name, []).append(value)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def receive(
    content_type: str | None,
    body: AsyncIterator[bytes],
    staging: Path,
    max_size: int,
    accept: Callable[[WheelFilename], None],
) -> Upload:
    """Stream a multipart upload into ``staging``; raises ``UploadError``.

    ``accept`` judges the file's name before its bytes arrive (raising ``UploadError``).
    """
    media, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise UploadError(400, "an upload must be multipart/form-data with a boundary")
    reader = _Reader(staging, max_size, accept)
    parser = MultipartParser(boundary, reader.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(400, f"the multipart body is malformed: {exc}") from exc
    finally:
        reader.close()
    return reader.upload


def check_claims(upload: Upload) -> tuple[Path, str]:
    """The staged wheel and its sha256, once the form's claims agree with the file."""
    action = upload.field(":action")
    if action != "file_upload":
        raise UploadError(400, f"':action' is {action!r}; this API handles 'file_upload' only")
    if upload.path is None or upload.wheel is None:
        raise UploadError(400, "the upload has no 'content' file part")
    name = upload.field("name")
    if name is not None and canonicalize_name(name) != upload.wheel.name:
        raise UploadError(400, f"the form says name {name!r} but the file is {upload.path.name}")
    version = upload.field("version")
    if version is not None and _version(version) != upload.wheel.version:
        raise UploadError(
            400, f"the form says version {version!r} but the file is {upload.path.name}"
        )
    filetype = upload.field("filetype")
    if filetype not in (None, "bdist_wheel"):
        raise UploadError(400, f"filetype {filetype!r}: this index accepts bdist_wheel only")
    for form_field, hasher in _DIGESTS.items():
        claimed = upload.field(form_field)
        if not claimed:
            continue
        actual = upload.digests.get(form_field) or _file_digest(upload.path, hasher)
        if claimed.strip().lower() != actual:
            raise UploadError(
                400,
                f"{form_field} {claimed} does not match the {form_field.removesuffix('_digest')} "
                f"of the received file ({actual}): the upload was corrupted",
            )
    return upload.path, upload.digests[_SHA256]


def _file_digest(path: Path, hasher: Callable[[], Any]) -> str:
    """A digest the form claimed only after the file part (rare): read the staged file again."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, hasher).hexdigest()


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
