"""The ASGI application: simple API, files, uploads, mirror and web pages over one root.

``create_app(root)`` builds it; ``app_from_environment`` is the factory uvicorn
imports in each worker process (the root comes in ``OMNIWHEEL_INDEX_ROOT``).
Everything a worker keeps in memory is a cache keyed by the database serial,
so any number of workers can serve and write the same root.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import httpx
from packaging.utils import InvalidName, canonicalize_name
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from omniwheel.files import file_sha256
from omniwheel.index.db import FileRow, ProjectState
from omniwheel.index.http import RenderCache, Rendered, http_date, not_modified, page_response
from omniwheel.index.matrix import project_matrix
from omniwheel.index.mirror import Mirror, UpstreamUnavailableError
from omniwheel.index.repository import (
    METADATA_SUFFIX,
    DuplicateFileError,
    PackageIndex,
    WheelRefusedError,
    report_json,
)
from omniwheel.index.simple import format_time, negotiate, render_project, render_root
from omniwheel.index.tokens import authenticate, may_upload, token_from_header
from omniwheel.index.upload import UploadError, check_claims, receive
from omniwheel.index.web import LIST_LIMIT, render_list_page, render_project_page
from omniwheel.resolve.simple import IndexFile
from omniwheel.wheel import WheelError, WheelFilename

ROOT_ENV = "OMNIWHEEL_INDEX_ROOT"
_IMMUTABLE = "public, max-age=31536000, immutable"

Handler = Callable[[Request], Awaitable[Response]]


def file_link(row: FileRow, base: str) -> IndexFile:
    """A stored file as the simple API lists it; ``base`` is this index's absolute URL
    (micropip < 0.9 needs absolute URLs)."""
    return IndexFile(
        filename=row.filename,
        url=f"{base}/files/{row.project}/{row.filename}",
        hashes={"sha256": row.sha256},
        requires_python=row.requires_python,
        yanked=(row.yank_reason or "") if row.yanked else None,
        metadata=None if row.metadata_sha256 is None else {"sha256": row.metadata_sha256},
        size=row.size,
        upload_time=format_time(row.upload_time),
    )


class IndexApp:
    """Request handlers bound to one index root."""

    def __init__(self, index: PackageIndex) -> None:
        self.index = index
        self.config = index.config
        self.cache = RenderCache()
        self.mirror: Mirror | None = None
        visibility = "private" if self.config.private else "public"
        self.cache_control = f"{visibility}, max-age={self.config.cache_max_age}"

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        if not self.config.upstream:
            yield
            return
        timeout = httpx.Timeout(self.config.upstream_timeout)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            self.mirror = Mirror(self.config, self.index.storage, client)
            yield

    # -- access ----------------------------------------------------------------------------
    def readable(self, handler: Handler) -> Handler:
        """``handler`` behind the read check: a private index answers 401 without a token."""
        if not self.config.private:
            return handler

        async def checked(request: Request) -> Response:
            token = token_from_header(request.headers.get("authorization"))
            if token is not None and authenticate(self.index.db, token) is not None:
                return await handler(request)
            return PlainTextResponse(
                "this index is private: send an API token (user __token__)\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="omniwheel"'},
            )

        return checked

    # -- simple API ------------------------------------------------------------------------
    async def simple_root(self, request: Request) -> Response:
        media = negotiate(request.headers.get("accept"), request.query_params.get("format"))
        if media is None:
            return _not_acceptable()
        serial, changed = self.index.db.serial()

        def render() -> Rendered:
            projects = [(p.name, p.display_name) for p in self.index.db.projects()]
            return Rendered(render_root(projects, media), media, _etag(serial, media), changed)

        rendered = self.cache.get(("root", media), serial, render)
        return page_response(request.headers, rendered, self.cache_control)

    async def simple_project(self, request: Request) -> Response:
        name = _canonical(request, "/simple/")
        if isinstance(name, Response):
            return name
        media = negotiate(request.headers.get("accept"), request.query_params.get("format"))
        if media is None:
            return _not_acceptable()
        state = self.index.db.project(name)
        local_wins = self.config.upstream_precedence == "local"
        if self.mirror is not None and (state is None or not local_wins):
            return await self._mirrored_project(request, self.mirror, name, state, media)
        if state is None:
            return _project_not_found(name)
        base = _absolute_base(request)

        def render() -> Rendered:
            files = [file_link(row, base) for row in self.index.db.files(name)]
            body = render_project(name, files, media)
            return Rendered(body, media, _etag(state.serial, media), state.changed)

        rendered = self.cache.get(("project", name, media, base), state.serial, render)
        return page_response(request.headers, rendered, self.cache_control)

    async def _mirrored_project(
        self,
        request: Request,
        mirror: Mirror,
        name: str,
        state: ProjectState | None,
        media: str,
    ) -> Response:
        base = _absolute_base(request)
        local = [file_link(row, base) for row in self.index.db.files(name)] if state else []
        try:
            page = await mirror.page(name)
        except UpstreamUnavailableError as exc:
            if not local:
                return PlainTextResponse(f"{exc}\n", status_code=502)
            page = None
        ours = {file.filename for file in local}
        files = local + (page.served(base, name, ours) if page else [])
        if not files:
            return _project_not_found(name)
        serial = state.serial if state else 0
        fetched = page.fetched if page else 0.0
        version = f"m{serial}-{fetched:.3f}"
        changed = max(state.changed if state else 0.0, fetched)

        def render() -> Rendered:
            body = render_project(name, files, media)
            return Rendered(body, media, _etag(version, media), changed)

        rendered = self.cache.get(("mirror", name, media, base), version, render)
        return page_response(request.headers, rendered, self.cache_control)

    # -- files -----------------------------------------------------------------------------
    async def file(self, request: Request) -> Response:
        project, filename = request.path_params["project"], request.path_params["filename"]
        is_metadata = filename.endswith(METADATA_SUFFIX)
        row = self.index.db.file(filename.removesuffix(METADATA_SUFFIX))
        if row is None or row.project != project or (is_metadata and not row.metadata_sha256):
            return PlainTextResponse(f"no file {filename} in {project}\n", status_code=404)
        path = self.index.storage.file_path(project, row.filename)
        if is_metadata:
            path = path.with_name(path.name + METADATA_SUFFIX)
            digest = row.metadata_sha256
        else:
            digest = row.sha256
        media = "text/plain; charset=utf-8" if is_metadata else "application/octet-stream"
        return _file_response(request, path, f'"{digest}"', media, row.upload_time)

    async def mirror_file(self, request: Request) -> Response:
        filename = request.path_params["filename"]
        if self.mirror is None:
            return PlainTextResponse("this index mirrors no upstream\n", status_code=404)
        project = _canonical(request, "/mirror/", f"/{filename}")
        if isinstance(project, Response):
            return project
        if "/" in filename or filename.startswith("."):
            return PlainTextResponse(f"{filename!r} is not a file name\n", status_code=404)
        try:
            path = await self.mirror.file(project, filename)
        except UpstreamUnavailableError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=502)
        if path is None:
            return PlainTextResponse(f"upstream has no {filename}\n", status_code=404)
        stat = path.stat()
        etag = f'"m{stat.st_size}-{int(stat.st_mtime)}"'
        return _file_response(request, path, etag, "application/octet-stream", stat.st_mtime)

    # -- upload ----------------------------------------------------------------------------
    async def upload(self, request: Request) -> Response:
        token = token_from_header(request.headers.get("authorization"))
        if token is None:
            return _upload_error(request, 401, "uploading needs an API token (user __token__)")
        row = authenticate(self.index.db, token)
        if row is None:
            return _upload_error(request, 403, "the API token is unknown or revoked")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.config.max_upload_size + (1 << 20):
            return _upload_error(
                request,
                413,
                f"the upload is larger than this index's limit of "
                f"{self.config.max_upload_size} bytes",
            )

        def in_scope(wheel: WheelFilename) -> None:
            if not may_upload(row, wheel.name):
                raise UploadError(
                    403, f"token {row.name!r} may not upload to project {wheel.name!r}"
                )

        with self.index.storage.staging() as staging:
            try:
                upload = await receive(
                    request.headers.get("content-type"),
                    request.stream(),
                    staging,
                    self.config.max_upload_size,
                    in_scope,
                )
                staged, sha256 = check_claims(upload)
            except UploadError as exc:
                return _upload_error(request, exc.status, str(exc))
            try:
                added = await anyio.to_thread.run_sync(
                    self.index.ingest, staged, sha256, upload.size
                )
            except WheelRefusedError as exc:
                return _upload_error(request, 400, str(exc), report_json(exc.report))
            except DuplicateFileError as exc:
                return self._duplicate(request, staged, sha256, exc)
            except WheelError as exc:
                return _upload_error(request, 400, str(exc))
        return _upload_result(request, 200, f"added {added.filename}", {"file": added.to_json()})

    def _duplicate(
        self, request: Request, staged: Path, sha256: str, error: DuplicateFileError
    ) -> Response:
        """The same file again is a success (an upload retried after a lost answer must be
        safe); a different file under that name is a 409 naming the stored file's sha256."""
        filename = WheelFilename.parse(staged)
        stored_name = self.index.db.has_canonical(filename.filename) or staged.name
        row = self.index.db.file(stored_name)
        # A concurrent upload of the same name may have published its file but not yet
        # its row: the published file is complete (it is linked into place), so hash it.
        stored = self.index.storage.file_path(filename.name, stored_name)
        stored_sha256 = row.sha256 if row else file_sha256(stored) if stored.is_file() else None
        if stored_sha256 is None:
            return _upload_error(request, 409, str(error))
        if stored_sha256 == sha256:
            document = {"existed": True, **({"file": row.to_json()} if row else {})}
            message = f"{stored_name} is already in the index with this sha256"
            return _upload_result(request, 200, message, document)
        return _upload_error(
            request, 409,
            f"{stored_name} is already in the index with sha256 {stored_sha256}, and this "
            f"upload's content differs (sha256 {sha256}); files are never overwritten",
        )  # fmt: skip

    # -- web -------------------------------------------------------------------------------
    async def web_list(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        serial, changed = self.index.db.serial()
        base = request.scope.get("root_path", "")

        def render() -> Rendered:
            projects, total = self.index.db.search(canonicalize_name(query), LIST_LIMIT)
            filenames = self.index.db.filenames(project.name for project in projects)
            body = render_list_page(projects, total, filenames, query, base)
            return Rendered(body, "text/html", _etag(f"w{serial}", "text/html"), changed)

        rendered = self.cache.get(("web", query, base), serial, render)
        return page_response(request.headers, rendered, self.cache_control)

    async def web_project(self, request: Request) -> Response:
        name = _canonical(request, "/project/")
        if isinstance(name, Response):
            return name
        base = request.scope.get("root_path", "")
        matrix = self._matrix(name, base)
        if matrix is None:
            return _project_not_found(name)
        body = render_project_page(matrix, base)
        return Response(body, media_type="text/html", headers={"Cache-Control": "no-cache"})

    async def api_project(self, request: Request) -> Response:
        name = _normalised(request.path_params["project"])
        matrix = self._matrix(name, _absolute_base(request)) if name else None
        if matrix is None:
            return _project_not_found(request.path_params["project"])
        return Response(json.dumps(matrix), media_type="application/json")

    def _matrix(self, name: str, base: str) -> dict[str, Any] | None:
        state = self.index.db.project(name)
        if state is None:
            return None
        return project_matrix(state, self.index.db.files(name), f"{base}/files/")


def _absolute_base(request: Request) -> str:
    """This index's URL as the client reached it (scheme, host, ASGI root path)."""
    return str(request.base_url).rstrip("/")


def _etag(version: object, media: str) -> str:
    """A weak ETag per page version and rendering (JSON and HTML of one page differ)."""
    return f'W/"{version}-{media.rpartition("/")[2]}"'


def _normalised(raw: str) -> str | None:
    try:
        return canonicalize_name(raw, validate=True)
    except InvalidName:
        return None


def _canonical(request: Request, prefix: str, suffix: str = "/") -> str | Response:
    """The normalised ``project`` path parameter, or the answer for any other spelling:
    404 for an invalid name, 301 to ``prefix + name + suffix`` for a valid one."""
    raw = request.path_params["project"]
    name = _normalised(raw)
    if name is None:
        return PlainTextResponse(f"{raw!r} is not a valid project name\n", status_code=404)
    if raw != name or not request.url.path.endswith(suffix):
        target = request.scope.get("root_path", "") + prefix + name + quote(suffix)
        if request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(target, status_code=301)
    return name


def _not_acceptable() -> Response:
    return PlainTextResponse(
        "none of the accepted types is served; ask for application/vnd.pypi.simple.v1+json, "
        "application/vnd.pypi.simple.v1+html or text/html\n",
        status_code=406,
    )


def _project_not_found(name: str) -> Response:
    return PlainTextResponse(f"no project {name} in this index\n", status_code=404)


def _file_response(
    request: Request, path: Path, etag: str, media: str, modified: float
) -> Response:
    headers = {"ETag": etag, "Cache-Control": _IMMUTABLE, "Last-Modified": http_date(modified)}
    if not_modified(request.headers, etag, modified):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, headers=headers, media_type=media)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _upload_result(
    request: Request, status: int, message: str, document: dict[str, Any]
) -> Response:
    """Plain text lines for twine's log, or JSON when the client asks for it."""
    if _wants_json(request):
        return Response(
            json.dumps({"message": message, **document}),
            status_code=status,
            media_type="application/json",
        )
    lines = [message]
    check = document.get("check") or document.get("file", {}).get("check") or {}
    for found in check.get("findings", []):
        where = f" {found['member']}" if found["member"] else ""
        lines.append(
            f"{found['severity']}: [{found['platform_tag']}] {found['code']}{where}: "
            f"{found['message']} (fix: {found['hint']})"
        )
    return PlainTextResponse("\n".join(lines) + "\n", status_code=status)


def _upload_error(
    request: Request, status: int, message: str, check: dict[str, Any] | None = None
) -> Response:
    document: dict[str, Any] = {"error": message}
    if check is not None:
        document["check"] = check
    response = _upload_result(request, status, message, document)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="omniwheel"'
    return response


def create_app(root: Path, index: PackageIndex | None = None) -> Starlette:
    """The ASGI app serving the index at ``root``."""
    handlers = IndexApp(index or PackageIndex(root))
    read = handlers.readable
    routes = [
        Route("/simple/", read(handlers.simple_root)),
        Route("/simple/{project}/", read(handlers.simple_project)),
        Route("/simple/{project}", read(handlers.simple_project)),
        Route("/files/{project}/{filename}", read(handlers.file)),
        Route("/mirror/{project}/{filename}", read(handlers.mirror_file)),
        Route("/", handlers.upload, methods=["POST"]),
        Route("/legacy/", handlers.upload, methods=["POST"]),
        Route("/", read(handlers.web_list)),
        Route("/project/{project}/", read(handlers.web_project)),
        Route("/api/projects/{project}", read(handlers.api_project)),
    ]
    return Starlette(routes=routes, lifespan=handlers.lifespan)


def app_from_environment() -> Starlette:
    """The uvicorn factory for worker processes."""
    root = os.environ.get(ROOT_ENV)
    if not root:
        raise RuntimeError(f"{ROOT_ENV} must name the index root")
    return create_app(Path(root))
