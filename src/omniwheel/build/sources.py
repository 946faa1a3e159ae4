"""Getting a recipe's source tree: download once (cached by sha256), extract safely, patch.

Downloads go through ``omniwheel.resolve``'s HTTP client into the shared
content-addressed cache (the one ``omniwheel skeleton``, ``lock`` and
``install`` fill), keyed by the checksum the recipe pins: a second build never
touches the network and a file that does not match is never used. Archives
are extracted member by member with every path checked to stay inside the
destination: no absolute paths, ``..``, links or devices.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import urllib.parse
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from omniwheel.build.recipe import Recipe
from omniwheel.errors import OmniwheelError
from omniwheel.files import file_sha256
from omniwheel.wheel.archive import path_problem

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")
_CHUNK = 1 << 20


class SourceError(OmniwheelError):
    """A source that cannot be fetched, does not match its checksum, or is unsafe to extract."""


def archive_name(url: str) -> str:
    """The file name a URL points at, unquoted as index pages list it (``%2B`` -> ``+``)."""
    name = urllib.parse.unquote(PurePosixPath(urllib.parse.urlsplit(url).path).name)
    if not name or name in {".", ".."} or "/" in name:
        raise SourceError(f"source URL {url!r} does not name a file")
    return name


def fetch(url: str, sha256: str, cache_dir: Path) -> Path:
    """The file at ``url`` with the pinned ``sha256``.

    A ``file:`` URL is checked in place; any other comes from the cache under
    ``cache_dir``, downloaded (streamed, hash-checked) only when missing there.
    """
    if urllib.parse.urlsplit(url).scheme not in {"http", "https", "file"}:
        raise SourceError(f"source URL {url!r}: use an http(s):// or file:// URL")
    sha256 = sha256.lower()
    # Imported here: a no-op rebuild fetches nothing and should not load the HTTP stack.
    from omniwheel.resolve.http import HttpClient
    from omniwheel.resolve.sources import local_path

    local = local_path(url)
    if local is None:
        with HttpClient(cache_dir) as http:
            return http.download(url, archive_name(url), {"sha256": sha256})
    if not local.is_file():
        raise SourceError(f"source URL {url}: {local} is not a file")
    digest = file_sha256(local)
    if digest != sha256:
        raise SourceError(
            f"{url}: sha256 is {digest} but the recipe pins {sha256}; "
            "the file changed or the recipe is wrong"
        )
    return local


def trim_archive_suffix(name: str) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def extract(archive: Path, destination: Path) -> None:
    """Unpack a tar or zip archive into ``destination``, refusing any member that escapes it."""
    destination.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        _extract_zip(archive, destination)
    elif archive.name.endswith(ARCHIVE_SUFFIXES):
        _extract_tar(archive, destination)
    else:
        raise SourceError(f"{archive.name}: not a source archive ({', '.join(ARCHIVE_SUFFIXES)})")


def _safe_target(destination: Path, member: str, archive: Path) -> Path:
    """Where ``member`` goes under ``destination``, refused if it could land outside it."""
    problem = path_problem(member)
    if problem is not None:
        raise SourceError(f"{archive.name}: member {member!r} {problem}")
    return destination.joinpath(*PurePosixPath(member).parts)


def _extract_tar(archive: Path, destination: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                target = _safe_target(destination, member.name, archive)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    assert source is not None  # a regular file always has content
                    with source, target.open("wb") as output:
                        shutil.copyfileobj(source, output, _CHUNK)
                    target.chmod(0o755 if member.mode & 0o111 else 0o644)
                elif member.issym() or member.islnk():
                    raise SourceError(f"{archive.name}: member {member.name!r} is a link; refused")
                # Devices, FIFOs and PAX headers carry nothing a build needs: skipped.
    except (tarfile.TarError, EOFError, OSError) as error:
        raise SourceError(f"{archive.name}: not a readable tar archive: {error}") from error


def _extract_zip(archive: Path, destination: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                target = _safe_target(destination, info.filename, archive)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise SourceError(
                        f"{archive.name}: member {info.filename!r} is a link; refused"
                    )
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, target.open("wb") as output:
                    shutil.copyfileobj(source, output, _CHUNK)
                if (info.external_attr >> 16) & 0o111:
                    target.chmod(0o755)
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(f"{archive.name}: not a readable zip archive: {error}") from error


def prepare_source(recipe: Recipe, cache_dir: Path, work: Path, log: IO[str]) -> Path:
    """The recipe's source tree under ``work``, patched and with its extras; returns its root.

    A ``.whl`` URL is a prebuilt wheel: it is fetched and returned as is.
    """
    source = recipe.source
    if source.path is not None:
        tree = (recipe.directory / source.path).resolve()
        if not tree.is_dir():
            raise SourceError(f"{recipe.path}: 'source/path' {source.path!r} is not a directory")
        root = work / "src"
        shutil.copytree(tree, root, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info"))
        return root
    assert source.url is not None and source.sha256 is not None  # checked by the loader
    archive = fetch(source.url, source.sha256, cache_dir)
    log.write(f"source: {source.url} (sha256 {source.sha256}) cached at {archive}\n")
    if archive.name.endswith(".whl"):
        return archive
    unpacked = work / "unpacked"
    extract(archive, unpacked)
    extract_dir = source.extract_dir or trim_archive_suffix(archive.name)
    root = _safe_target(unpacked, extract_dir, archive)
    if not root.is_dir():
        found = ", ".join(sorted(path.name for path in unpacked.iterdir()))
        raise SourceError(
            f"{recipe.path}: {archive.name} has no top directory {extract_dir!r} "
            f"(it holds: {found}); set 'source/extract_dir'"
        )
    _apply_patches(recipe, root, log)
    for origin, target in source.extras:
        origin_path = _inside(recipe.directory, origin, recipe, "source/extras", must_exist=True)
        target_path = _inside(root, target, recipe, "source/extras")
        target_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin_path, target_path)
    return root


def _apply_patches(recipe: Recipe, root: Path, log: IO[str]) -> None:
    for patch in recipe.source.patches:
        patch_path = _inside(recipe.directory, patch, recipe, "source/patches", must_exist=True)
        if shutil.which("patch") is None:
            raise SourceError("applying recipe patches needs 'patch': apt-get install patch")
        log.write(f"$ patch -p1 -i {patch_path}\n")
        log.flush()
        result = subprocess.run(
            ["patch", "-p1", "--batch", "--forward", "-i", str(patch_path)],
            cwd=root, stdout=log, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise SourceError(
                f"{recipe.path}: patch {patch} does not apply (exit {result.returncode})"
            )


def _inside(
    base: Path, relative: str, recipe: Recipe, key: str, *, must_exist: bool = False
) -> Path:
    """``base/relative``, refused when it leaves ``base`` (``..``, absolute paths)."""
    resolved = (base / relative).resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise SourceError(f"{recipe.path}: '{key}' entry {relative!r} points outside {base}")
    if must_exist and not resolved.is_file():
        raise SourceError(f"{recipe.path}: '{key}' entry {relative!r} is not a file in {base}")
    return resolved
