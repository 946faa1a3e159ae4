"""``omniwheel serve``, ``omniwheel token …`` and ``omniwheel index …``: the package index."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniwheel.cli.options import add_json
from omniwheel.cli.output import console, emit_json, errors, table
from omniwheel.errors import UsageError
from omniwheel.index import DuplicateFileError, PackageIndex, WheelRefusedError, create_token
from omniwheel.index.app import ROOT_ENV
from omniwheel.index.repository import report_json
from omniwheel.wheel import WheelError

SERVE_EPILOG = """\
examples:
  omniwheel serve --root ./index                   serve on 127.0.0.1:8080
  omniwheel serve --root ./index --host 0.0.0.0 --workers 4
  pip install --index-url http://127.0.0.1:8080/simple/ PACKAGE
  twine upload --repository-url http://127.0.0.1:8080/legacy/ -u __token__ -p TOKEN dist/*

Settings live in ROOT/config.toml (private, max_upload_size, upstream, ...);
environment variables OMNIWHEEL_INDEX_<SETTING> override them.
"""
INDEX_EPILOG = """\
selectors name files by wheel filename, project (markupsafe) or requirement
(markupsafe==3.0.4, 'markupsafe<3').

examples:
  omniwheel index add dist/ wheelhouse/*.whl       import wheels (each one checked)
  omniwheel index yank 'demo==1.0' --reason "crashes on start"
  omniwheel index remove demo-1.0-py3-none-any.whl
  omniwheel index verify                           files vs database vs hashes
"""
TOKEN_EPILOG = """\
examples:
  omniwheel token create ci --project markupsafe   may upload to markupsafe only
  omniwheel token create admin                     may upload anything
  omniwheel token list
  omniwheel token revoke ci
"""


def _default_root() -> str:
    return os.environ.get(ROOT_ENV) or "./index"


def _add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        default=_default_root(),
        metavar="DIR",
        help=f"the index directory (default: ${ROOT_ENV} or ./index; created if missing)",
    )


def _open(args: argparse.Namespace) -> PackageIndex:
    root = Path(args.root).resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"--root {args.root}: not a directory")
    return PackageIndex(root)


Run = Callable[[argparse.Namespace], int]


def _group(commands: Any, name: str, summary: str, description: str, epilog: str) -> Any:
    """A command with sub-commands (``token …``, ``index …``); returns their subparsers."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(title=f"{name} commands", metavar="ACTION")
    actions.required = True
    return actions


def _leaf(actions: Any, name: str, summary: str, run: Run) -> argparse.ArgumentParser:
    """A sub-command working on an index root, with ``--root`` and ``--json``."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=summary)
    _add_root(parser)
    add_json(parser)
    parser.set_defaults(run=run)
    return parser


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the package index (pip, uv, twine and micropip use it unchanged)",
        description="Serve a private package index: simple API (PEP 503/691/700/658/592), "
        "checked uploads, optional upstream mirror, and a platform matrix per project.",
        epilog=SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_root(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes")
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request")
    serve.set_defaults(run=run_serve)

    token = _group(
        commands,
        "token",
        "create, list and revoke upload tokens",
        "API tokens for uploads (and reads of a private index).",
        TOKEN_EPILOG,
    )
    create = _leaf(token, "create", "create a token and print it once", run_token_create)
    create.add_argument("name", help="a name to list and revoke it by")
    create.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="PROJECT",
        help="allow uploads to this project only (repeatable; default: every project)",
    )
    _leaf(token, "list", "list tokens (never their secrets)", run_token_list)
    revoke = _leaf(token, "revoke", "revoke a token at once", run_token_revoke)
    revoke.add_argument("name")

    index = _group(
        commands,
        "index",
        "add, yank, remove and verify the index's wheels",
        "Manage the files of an index root (the server may be running).",
        INDEX_EPILOG,
    )
    add = _leaf(index, "add", "import wheels, refusing any that fail the check", run_index_add)
    add.add_argument("paths", nargs="+", metavar="DIR|WHEEL")
    yank = _leaf(index, "yank", "yank files (PEP 592) or undo it", run_index_yank)
    yank.add_argument("selector", metavar="SELECTOR")
    yank.add_argument("--reason", help="shown to users by pip and uv")
    yank.add_argument("--undo", action="store_true", help="un-yank instead")
    remove = _leaf(index, "remove", "delete files from the index", run_index_remove)
    remove.add_argument("selectors", nargs="+", metavar="SELECTOR")
    _leaf(index, "verify", "check files against database and hashes", run_index_verify)


# -- serve -----------------------------------------------------------------------------------
def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: give at least 1")
    index = _open(args)
    reconciled = index.reconcile()
    for name in reconciled.quarantined:
        errors.print(f"omniwheel: moved {name} (left by a crashed upload) to quarantine/")
    for name in reconciled.staging_removed:
        errors.print(f"omniwheel: removed unfinished upload {name}")
    upstream = f", mirroring {index.config.upstream}" if index.config.upstream else ""
    index.close()
    os.environ[ROOT_ENV] = str(index.root)
    errors.print(
        f"omniwheel: serving {index.root} at http://{args.host}:{args.port}/ "
        f"(simple API at /simple/, uploads at /legacy/){upstream}",
        markup=False,
    )
    uvicorn.run(
        "omniwheel.index.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=not args.no_access_log,
        log_level="info",
    )
    return 0


# -- tokens ----------------------------------------------------------------------------------
def run_token_create(args: argparse.Namespace) -> int:
    index = _open(args)
    row, token = create_token(index.db, args.name, args.project)
    projects = list(row.projects) if row.projects is not None else None
    if args.json:
        emit_json({"name": row.name, "id": row.id, "projects": projects, "token": token})
        return 0
    scope = ", ".join(projects) if projects else "every project"
    console.print(f"token [bold]{row.name}[/bold] (uploads to {scope}); shown only now:")
    console.print(token, markup=False, soft_wrap=True)
    console.print(
        "use it as: twine upload --repository-url URL/legacy/ -u __token__ -p TOKEN dist/*",
        markup=False,
    )
    return 0


def run_token_list(args: argparse.Namespace) -> int:
    rows = _open(args).db.tokens()
    documents: list[dict[str, Any]] = [
        {
            "name": row.name,
            "id": row.id,
            "projects": list(row.projects) if row.projects is not None else None,
            "created": row.created,
            "revoked": row.revoked,
        }
        for row in rows
    ]
    if args.json:
        emit_json({"tokens": documents})
        return 0
    view = table("Tokens", "name", "id", "may upload to", "created", "revoked")
    for document in documents:
        view.add_row(
            document["name"],
            document["id"],
            ", ".join(document["projects"] or ["every project"]),
            _when(document["created"]),
            _when(document["revoked"]) if document["revoked"] else "-",
        )
    console.print(view)
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    if not _open(args).db.revoke_token(args.name):
        raise UsageError(f"no live token called {args.name!r}; see omniwheel token list")
    if args.json:
        emit_json({"revoked": args.name})
    else:
        console.print(f"revoked token {args.name}", markup=False)
    return 0


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


# -- index -----------------------------------------------------------------------------------
def _wheels(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found += sorted(path.rglob("*.whl"))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{text}: no such file or directory; give wheels or folders of them")
    return found


def run_index_add(args: argparse.Namespace) -> int:
    index = _open(args)
    added: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    paths = _wheels(args.paths)
    from rich.progress import track  # a slow import, used by this command only

    progress = track(
        paths, description="checking", console=errors.rich, disable=args.json or len(paths) < 2
    )
    for path in progress:
        try:
            added.append(index.add_path(path).to_json())
        except DuplicateFileError as exc:
            skipped.append({"path": str(path), "reason": str(exc)})
        except WheelRefusedError as exc:
            refused.append({"path": str(path), "error": str(exc), "check": report_json(exc.report)})
        except WheelError as exc:
            refused.append({"path": str(path), "error": str(exc), "check": None})
    status = 1 if refused else 0
    if args.json:
        emit_json({"added": added, "skipped": skipped, "refused": refused, "exit_status": status})
        return status
    for document in added:
        console.print(f"added {document['filename']}", markup=False)
    for document in skipped:
        console.print(f"skipped: {document['reason']}", markup=False)
    for document in refused:
        errors.print(f"omniwheel: refused: {document['error']}", markup=False)
    console.print(f"{len(added)} added, {len(skipped)} already there, {len(refused)} refused")
    return status


def run_index_yank(args: argparse.Namespace) -> int:
    files = _open(args).yank(args.selector, args.reason, undo=args.undo)
    if args.json:
        emit_json({"files": [row.to_json() for row in files]})
        return 0
    verb = "un-yanked" if args.undo else "yanked"
    for row in files:
        console.print(f"{verb} {row.filename}", markup=False)
    return 0


def run_index_remove(args: argparse.Namespace) -> int:
    index = _open(args)
    removed = [row.filename for selector in args.selectors for row in index.remove(selector)]
    if args.json:
        emit_json({"removed": removed})
        return 0
    for filename in removed:
        console.print(f"removed {filename}", markup=False)
    return 0


def run_index_verify(args: argparse.Namespace) -> int:
    verified = _open(args).verify()
    status = 1 if verified.problems else 0
    if args.json:
        problems = [problem.to_json() for problem in verified.problems]
        emit_json({"files": verified.files, "problems": problems, "exit_status": status})
        return status
    if not verified.problems:
        console.print(f"{verified.files} files: database, files and hashes agree")
        return 0
    view = table("Problems", "kind", "file", "detail")
    for problem in verified.problems:
        view.add_row(problem.kind, problem.filename, problem.message)
    console.print(view)
    return status
