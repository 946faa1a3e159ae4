"""Sources: cached by sha256 (served on 127.0.0.1), checksum enforced, extracted safely, patched."""

from __future__ import annotations

import io
import shutil
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import localindex
from omniwheel.build.recipe import load_recipe
from omniwheel.build.sources import SourceError, archive_name, extract, fetch, prepare_source
from omniwheel.files import file_sha256
from omniwheel.resolve import FetchError

#: How a member that would land outside the tree is refused (``wheel.archive.path_problem``).
ESCAPES = r"member .* (has a '\.\.' component|is an absolute path); archive paths"


def make_tar(path: Path, members: dict[str, bytes], *, link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return path


def test_fetch_caches_by_checksum_and_refuses_a_mismatch(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    archive = make_tar(served / "pkg-1.0.tar.gz", {"pkg-1.0/setup.py": b"print()\n"})
    other = make_tar(served / "other-1.0.tar.gz", {"other-1.0/x": b"x"})
    digest = file_sha256(archive)
    cache = tmp_path / "cache"
    with localindex.serve(served, json_pages=False) as (index, log):
        base = index.removesuffix("simple/")
        cached = fetch(base + archive.name, digest, cache)
        assert cached.read_bytes() == archive.read_bytes() and cached.is_relative_to(cache)
        # A second fetch is answered by the cache: the server is not asked again.
        assert fetch(base + archive.name, digest.upper(), cache) == cached
        assert log.paths() == ["/pkg-1.0.tar.gz"]
        with pytest.raises(FetchError, match=r"has sha256 .*, expected 0{64}: refusing"):
            fetch(base + other.name, "0" * 64, cache)
    # Nothing was left in the cache under the wrong checksum.
    assert not list(cache.rglob("other-1.0.tar.gz"))


def test_file_url_is_checked_in_place(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "pkg-1.0.tar.gz", {"pkg-1.0/setup.py": b"print()\n"})
    assert fetch(archive.as_uri(), file_sha256(archive), tmp_path / "cache") == archive
    assert not (tmp_path / "cache").exists()
    with pytest.raises(SourceError, match=r"sha256 is .* but the recipe pins 0{64}"):
        fetch(archive.as_uri(), "0" * 64, tmp_path / "cache")


def test_archive_name_is_the_unquoted_file_name() -> None:
    # The name the index lists, so skeleton's and the build's downloads share one cache entry.
    assert archive_name("https://h.invalid/p/pkg-1.0%2Blocal.tar.gz?x=1#sha256=0") == (
        "pkg-1.0+local.tar.gz"
    )
    for bad in ("https://h.invalid/", "https://h.invalid/a%2Fb.tar.gz"):
        with pytest.raises(SourceError, match="does not name a file"):
            archive_name(bad)


def test_fetch_refuses_other_schemes(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="use an http"):
        fetch("ftp://example.invalid/x.tar.gz", "0" * 64, tmp_path)


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs/evil.txt", "pkg/../../evil.txt"])
def test_tar_members_escaping_the_tree_are_refused(tmp_path: Path, bad: str) -> None:
    archive = make_tar(tmp_path / "bad.tar.gz", {"pkg/ok.txt": b"ok", bad: b"evil"})
    with pytest.raises(SourceError, match=ESCAPES):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not Path("/abs/evil.txt").exists()


def test_links_are_refused(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "link.tar.gz", {"pkg/ok.txt": b"ok"}, link="pkg/passwd")
    with pytest.raises(SourceError, match="is a link"):
        extract(archive, tmp_path / "out")


def test_zip_members_escaping_the_tree_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("pkg/ok.txt", "ok")
        zipped.writestr("../evil.txt", "evil")
    with pytest.raises(SourceError, match=ESCAPES):
        extract(archive, tmp_path / "out")


PATCH = """\
--- a/pkg/greeting.py
+++ b/pkg/greeting.py
@@ -1 +1 @@
-GREETING = "hello"
+GREETING = "hello, patched"
"""


def recipe_with(tmp_path: Path, archive: Path, extra: str = "") -> Path:
    directory = tmp_path / "recipes" / "pkg"
    (directory / "patches").mkdir(parents=True)
    (directory / "patches" / "0001-greeting.patch").write_text(PATCH)
    (directory / "files").mkdir()
    (directory / "files" / "extra.cfg").write_text("[extra]\n")
    (directory / "meta.yaml").write_text(
        textwrap.dedent(f"""\
            package: {{name: pkg, version: '1.0'}}
            source:
              url: {archive.as_uri()}
              sha256: {file_sha256(archive)}
              patches: [patches/0001-greeting.patch]
              extras: [[files/extra.cfg, conf/extra.cfg]]
            {extra}""")
    )
    return directory


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_prepare_source_extracts_patches_and_adds_extras(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "pkg-1.0.tar.gz", {"pkg-1.0/pkg/greeting.py": b'GREETING = "hello"\n'}
    )
    recipe = load_recipe(recipe_with(tmp_path, archive))
    with (tmp_path / "build.log").open("w+") as log:
        root = prepare_source(recipe, tmp_path / "cache", tmp_path / "work", log)
    assert root.name == "pkg-1.0"
    assert (root / "pkg" / "greeting.py").read_text() == 'GREETING = "hello, patched"\n'
    assert (root / "conf" / "extra.cfg").read_text() == "[extra]\n"
    assert "0001-greeting.patch" in (tmp_path / "build.log").read_text()


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
def test_a_patch_that_does_not_apply_names_the_patch(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "pkg-1.0.tar.gz", {"pkg-1.0/pkg/greeting.py": b"OTHER = 1\n"})
    recipe = load_recipe(recipe_with(tmp_path, archive))
    with (
        (tmp_path / "build.log").open("w") as log,
        pytest.raises(SourceError, match=r"patch patches/0001-greeting.patch does not apply"),
    ):
        prepare_source(recipe, tmp_path / "cache", tmp_path / "work", log)


def test_wrong_extract_dir_lists_what_the_archive_holds(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "pkg-1.0.tar.gz", {"Pkg-1.0/x.py": b""})
    directory = tmp_path / "r" / "pkg"
    directory.mkdir(parents=True)
    (directory / "meta.yaml").write_text(
        f"package: {{name: pkg, version: '1.0'}}\n"
        f"source: {{url: '{archive.as_uri()}', sha256: {file_sha256(archive)}}}\n"
    )
    with pytest.raises(SourceError, match=r"no top directory 'pkg-1.0' \(it holds: Pkg-1.0\)"):
        prepare_source(load_recipe(directory), tmp_path / "cache", tmp_path / "w", io.StringIO())
