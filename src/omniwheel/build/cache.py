"""The content-hash cache that makes an unchanged rebuild a no-op.

A recipe's key hashes everything its output depends on: the recipe file, its
patches and extra files, a local source tree, the prepared target (toolchain
version, flags, Python) and the keys of the recipes it is built against. A
build is skipped when the key is unchanged and every recorded output is still
there with the recorded sha256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from omniwheel import __version__
from omniwheel.build.recipe import Recipe
from omniwheel.build.runtime import TEST_SCRIPT
from omniwheel.files import file_sha256, write_atomic


def recipe_key(recipe: Recipe, target_identity: str, dependency_keys: Mapping[str, str]) -> str:
    """The sha256 naming one build of ``recipe`` for one prepared target."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    feed("omniwheel", __version__.encode())
    feed("target", target_identity.encode())
    feed("recipe", recipe.path.read_bytes())
    for relative in sorted({*recipe.source.patches, *(pair[0] for pair in recipe.source.extras)}):
        feed(f"file {relative}", (recipe.directory / relative).read_bytes())
    if recipe.source.path is not None:
        tree = (recipe.directory / recipe.source.path).resolve()
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            feed(f"source {path.relative_to(tree).as_posix()}", path.read_bytes())
    test_script = recipe.directory / TEST_SCRIPT
    if test_script.is_file():
        feed("test", test_script.read_bytes())
    for name, key in sorted(dependency_keys.items()):
        feed(f"dependency {name}", key.encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheRecord:
    key: str
    outputs: tuple[tuple[str, str], ...]  # (path relative to the output dir, sha256)
    tested: str


class BuildCache:
    """One JSON record per recipe under ``directory``."""

    def __init__(self, directory: Path, output_root: Path) -> None:
        self.directory = directory
        self.output_root = output_root

    def _record_path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def _read(self, name: str) -> CacheRecord | None:
        """The stored record of ``name``'s last build, whatever its key (None if unreadable)."""
        try:
            data = json.loads(self._record_path(name).read_text())
            return CacheRecord(
                data["key"], tuple((p, s) for p, s in data["outputs"]), data["tested"]
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def lookup(self, name: str, key: str) -> CacheRecord | None:
        """The record for ``name`` when its key is ``key`` and its outputs are intact."""
        record = self._read(name)
        if record is None or record.key != key:
            return None
        for relative, sha256 in record.outputs:
            path = self.output_root / relative
            if not path.is_file() or file_sha256(path) != sha256:
                return None
        return record

    def previous_outputs(self, name: str) -> list[Path]:
        """What the last build of ``name`` produced (to remove when its output changes)."""
        record = self._read(name)
        return [] if record is None else [self.output_root / p for p, _ in record.outputs]

    def store(self, name: str, key: str, outputs: Iterable[Path], tested: str) -> CacheRecord:
        record = CacheRecord(
            key,
            tuple(
                (path.relative_to(self.output_root).as_posix(), file_sha256(path))
                for path in sorted(outputs)
            ),
            tested,
        )
        payload = json.dumps({"key": key, "outputs": record.outputs, "tested": tested}, indent=1)
        write_atomic(self._record_path(name), payload.encode())
        return record
