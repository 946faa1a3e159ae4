"""The index as an API: checked adds, duplicates, yanks, removal, verify, crash recovery."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from indexserver import retag
from omniwheel.errors import UsageError
from omniwheel.index import (
    DuplicateFileError,
    IndexConfig,
    NotFoundError,
    PackageIndex,
    Verified,
    WheelRefusedError,
)
from omniwheel.index.app import file_link
from omniwheel.index.simple import TEXT_HTML, render_project
from omniwheel.index.storage import publish
from omniwheel.index.tokens import authenticate, create_token, may_upload, token_from_header
from omniwheel.resolve.simple import HTML_V1, JSON_V1, IndexFile, parse_project_page
from omniwheel.wheel import Wheel, WheelError

RealWheel = Callable[[str], Path]


@pytest.fixture
def index(tmp_path: Path) -> PackageIndex:
    return PackageIndex(tmp_path / "index")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _visible(index: PackageIndex) -> list[str]:
    """Every file under files/ (what a reader could ever be served)."""
    return sorted(p.name for p in index.storage.files.rglob("*") if p.is_file())


def test_add_stores_wheel_metadata_and_verdicts(index: PackageIndex, real_wheel: RealWheel) -> None:
    source = real_wheel("ios-device")
    row = index.add_path(source)
    stored = index.storage.file_path("markupsafe", source.name)
    assert stored.read_bytes() == source.read_bytes()
    assert (row.sha256, row.size) == (_sha256(source), source.stat().st_size)
    with Wheel.open(source) as wheel:
        metadata = wheel.read_bytes(f"{wheel.dist_info}/METADATA")
        assert row.requires_python == str(wheel.metadata.requires_python)
    metadata_file = stored.with_name(stored.name + ".metadata")
    assert metadata_file.read_bytes() == metadata
    assert row.metadata_sha256 == hashlib.sha256(metadata).hexdigest()
    assert row.report["verdicts"] == [
        {"platform_tag": "ios_13_0_arm64_iphoneos", "platform": "ios", "status": "ok"}
    ]
    assert index.db.project("markupsafe").display_name == "MarkupSafe"  # type: ignore[union-attr]
    assert index.verify() == Verified(files=1, problems=[])


def test_duplicate_is_refused_under_any_spelling(
    index: PackageIndex, real_wheel: RealWheel, tmp_path: Path
) -> None:
    source = real_wheel("macos-universal2")  # MarkupSafe-3.0.2-...: a non-canonical spelling
    index.add_path(source)
    respelled = tmp_path / source.name.replace("MarkupSafe", "markupsafe")
    shutil.copy(source, respelled)
    with pytest.raises(DuplicateFileError, match="never overwritten"):
        index.add_path(respelled)
    with pytest.raises(DuplicateFileError):
        index.add_path(source)
    assert _visible(index) == sorted([source.name, source.name + ".metadata"])
    assert len(index.db.files()) == 1


def test_wheel_whose_binaries_cannot_run_where_tagged_is_refused(
    index: PackageIndex, real_wheel: RealWheel, tmp_path: Path
) -> None:
    mistagged = retag(real_wheel("musllinux"), "ios_13_0_arm64_iphoneos", tmp_path)
    with pytest.raises(WheelRefusedError) as refused:
        index.add_path(mistagged)
    codes = {finding.code for finding in refused.value.report.findings}
    assert "wrong-binary-format" in codes
    assert "wrong-binary-format" in str(refused.value)
    assert _visible(index) == []
    assert index.db.files() == [] and index.db.pending() == []
    assert list(index.storage.tmp.iterdir()) == []


def test_filename_that_disagrees_with_metadata_is_refused(
    index: PackageIndex, real_wheel: RealWheel, tmp_path: Path
) -> None:
    renamed = tmp_path / "iniconfig-9.9.9-py3-none-any.whl"
    shutil.copy(real_wheel("pure"), renamed)
    with pytest.raises(WheelError, match="does not match the filename"):
        index.add_path(renamed)
    assert _visible(index) == []


def test_yank_unyank_and_remove_by_selector(index: PackageIndex, real_wheel: RealWheel) -> None:
    for key in ("ios-device", "ios-simulator", "macos-universal2"):
        index.add_path(real_wheel(key))
    before = index.db.project("markupsafe")
    yanked = index.yank("markupsafe==3.0.4", "broken on iOS 13")
    assert len(yanked) == 2
    rows = {row.filename: row for row in index.db.files("markupsafe")}
    assert [row.yank_reason for row in rows.values() if row.yanked] == ["broken on iOS 13"] * 2
    after = index.db.project("markupsafe")
    assert after is not None and before is not None and after.serial > before.serial
    index.yank("markupsafe<3.0.4", None)
    index.yank("markupsafe", None, undo=True)
    assert not any(row.yanked for row in index.db.files("markupsafe"))

    removed = index.remove("markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl")
    assert [row.filename for row in removed] == [
        "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl"
    ]
    assert "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl" not in _visible(index)
    assert index.verify() == Verified(files=2, problems=[])
    with pytest.raises(NotFoundError):
        index.remove("markupsafe==9")
    with pytest.raises(UsageError, match="neither a wheel filename nor a requirement"):
        index.yank("markup safe!!", None)


def test_removing_every_file_removes_the_project(
    index: PackageIndex, real_wheel: RealWheel
) -> None:
    for key in ("ios-device", "pure"):
        index.add_path(real_wheel(key))
    index.yank("markupsafe", "going away")
    index.remove("markupsafe")
    assert index.db.project("markupsafe") is None
    assert [project.name for project in index.db.projects()] == ["iniconfig"]
    assert index.db.search("markup", 10) == ([], 0)
    assert index.db.filenames(["markupsafe", "iniconfig"]) == {
        "markupsafe": [],
        "iniconfig": ["iniconfig-2.1.0-py3-none-any.whl"],
    }
    again = index.add_path(real_wheel("ios-device"))  # the project comes back with its file
    assert not again.yanked
    assert index.db.project("markupsafe") is not None


def test_verify_finds_tampering_missing_and_unlisted_files(
    index: PackageIndex, real_wheel: RealWheel
) -> None:
    ios = index.add_path(real_wheel("ios-device"))
    pure = index.add_path(real_wheel("pure"))
    wheel_path = index.storage.file_path(ios.project, ios.filename)
    data = bytearray(wheel_path.read_bytes())
    data[100] ^= 0xFF
    wheel_path.write_bytes(bytes(data))
    index.storage.file_path(pure.project, pure.filename + ".metadata").unlink()
    stray = index.storage.files / "iniconfig" / "stray-1.0-py3-none-any.whl"
    stray.write_bytes(b"not announced")
    kinds = {(p.kind, p.filename) for p in index.verify().problems}
    assert kinds == {
        ("hash-mismatch", ios.filename),
        ("metadata-missing", pure.filename),
        ("unlisted-file", stray.name),
    }


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_reconcile_after_crash_between_link_and_commit(
    index: PackageIndex, real_wheel: RealWheel
) -> None:
    """A writer died after linking the file but before committing its row."""
    source = real_wheel("pure")
    with index.storage.staging() as staging:
        staged = staging / source.name
        shutil.copy(source, staged)
        index.db.add_pending(source.name, "iniconfig", _dead_pid())
        publish(staged, index.storage.file_path("iniconfig", source.name))
    crashed_dir = index.storage.tmp / f"{_dead_pid()}-0123456789abcdef"
    crashed_dir.mkdir()
    (crashed_dir / "half.whl").write_bytes(b"PK\x03\x04 partial")
    kinds = {p.kind for p in index.verify().problems}
    assert kinds == {"unlisted-file", "pending", "stale-staging"}

    reconciled = index.reconcile()
    assert reconciled.quarantined == [source.name]
    assert reconciled.staging_removed == [crashed_dir.name]
    assert index.verify().problems == []
    assert _visible(index) == [] and index.db.files() == []
    quarantined = list(index.storage.quarantine.iterdir())
    assert [p.read_bytes() for p in quarantined] == [source.read_bytes()]
    # The same wheel can now be added properly.
    assert index.add_path(source).filename == source.name


def test_reconcile_keeps_committed_files_and_live_writers(
    index: PackageIndex, real_wheel: RealWheel
) -> None:
    row = index.add_path(real_wheel("pure"))
    index.db.add_pending(row.filename, row.project, _dead_pid())  # crash after the commit
    index.db.add_pending("other-1.0-py3-none-any.whl", "other", 1)  # pid 1 is alive
    reconciled = index.reconcile()
    assert reconciled.completed == [row.filename] and reconciled.quarantined == []
    assert [p.filename for p in index.db.pending()] == ["other-1.0-py3-none-any.whl"]
    assert index.storage.file_path(row.project, row.filename).is_file()


def test_config_file_then_environment(tmp_path: Path) -> None:
    root = tmp_path / "index"
    PackageIndex(root)
    assert "upstream_precedence" in (root / "config.toml").read_text()
    (root / "config.toml").write_text('private = true\nupstream = "http://127.0.0.1:1/simple/"\n')
    config = IndexConfig.load(root, {"OMNIWHEEL_INDEX_MAX_UPLOAD_SIZE": "1000"})
    assert config.private and config.max_upload_size == 1000
    assert config.upstream == "http://127.0.0.1:1/simple/" and config.upstream_ttl == 600
    assert not IndexConfig.load(root, {"OMNIWHEEL_INDEX_PRIVATE": "false"}).private
    with pytest.raises(UsageError, match="is not a bool"):
        IndexConfig.load(root, {"OMNIWHEEL_INDEX_PRIVATE": "maybe"})
    (root / "config.toml").write_text("privat = true\n")
    with pytest.raises(UsageError, match="unknown setting 'privat'"):
        IndexConfig.load(root, {})
    (root / "config.toml").write_text('cache_max_age = "soon"\n')
    with pytest.raises(UsageError, match="cache_max_age must be a int"):
        IndexConfig.load(root, {})


def test_tokens_are_stored_hashed_scoped_and_revocable(index: PackageIndex) -> None:
    row, token = create_token(index.db, "ci", ["MarkupSafe"])
    assert row.projects == ("markupsafe",)
    secret = token.split("_", 2)[2]  # owt_<id>_<secret>: 32 random bytes, 43 characters
    assert len(secret) == 43
    stored = b"".join(p.read_bytes() for p in index.db.path.parent.glob("index.sqlite3*"))
    assert secret.encode() not in stored and row.digest.encode() in stored
    found = authenticate(index.db, token)
    assert found is not None and found.name == "ci"
    assert may_upload(found, "markupsafe") and not may_upload(found, "iniconfig")
    assert authenticate(index.db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with pytest.raises(UsageError, match="exists already"):
        create_token(index.db, "ci")
    assert index.db.revoke_token("ci")
    assert authenticate(index.db, token) is None
    assert token_from_header("Bearer " + token) == token
    assert token_from_header("Basic X190b2tlbl9fOnNlY3JldA==") == "secret"  # __token__:secret
    assert token_from_header("Basic !!!") is None


def test_rendered_pages_read_back_by_the_resolver_give_the_same_files(
    index: PackageIndex, real_wheel: RealWheel
) -> None:
    """What the index renders, JSON and HTML, is what ``parse_project_page`` reads back."""
    for key in ("ios-device", "ios-simulator", "macos-universal2"):
        index.add_path(real_wheel(key))
    index.yank("markupsafe==3.0.2", 'no arm64 slice <"&>')
    index.yank("markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphonesimulator.whl", None)
    base = "http://127.0.0.1:1/root"
    files = [file_link(row, base) for row in index.db.files("markupsafe")]
    upstream = IndexFile(
        filename="markupsafe-3.0.4.tar.gz",
        url="http://127.0.0.1:2/packages/markupsafe-3.0.4.tar.gz",
        hashes={"md5": "0" * 32},
        requires_python=">=3.9,<4",
        metadata={},
    )
    files.append(upstream)
    assert {file.yanked for file in files} == {None, "", 'no arm64 slice <"&>'}

    json_body = render_project("markupsafe", files, JSON_V1)
    assert parse_project_page(json_body, JSON_V1, f"{base}/simple/markupsafe/", None) == files
    assert json.loads(json_body)["versions"] == ["3.0.2", "3.0.4"]
    for media in (HTML_V1, TEXT_HTML):
        html_body = render_project("markupsafe", files, media)
        parsed = parse_project_page(html_body, media, f"{base}/simple/markupsafe/", None)
        # PEP 700's size and upload-time are JSON-only.
        assert parsed == [replace(file, size=None, upload_time=None) for file in files]
