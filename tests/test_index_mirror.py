"""The mirror: a second local index as upstream, precedence, and serving the cache in an outage."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import realwheels
from indexserver import client_env, free_port, run, serve
from omniwheel.index import PackageIndex
from omniwheel.wheel import Wheel

JSON = "application/vnd.pypi.simple.v1+json"
pytestmark = pytest.mark.network


def _pip_install(index_url: str, target: Path, requirement: str) -> None:
    result = run([sys.executable, "-m", "pip", "install", "--no-cache-dir", "--index-url",
                  index_url, "--target", str(target), requirement])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_mirror_of_another_omniwheel_index(tmp_path: Path) -> None:
    upstream_root, local_root = tmp_path / "upstream", tmp_path / "local"
    upstream = PackageIndex(upstream_root)
    upstream.add_path(realwheels.fetch("pure"))
    upstream.add_path(realwheels.fetch("ios-device"))
    upstream.close()
    local = PackageIndex(local_root)
    local.add_path(realwheels.fetch("android-arm64"))
    local.close()
    pure = realwheels.fetch("pure")

    with serve(upstream_root) as origin:
        mirror_env = {
            "OMNIWHEEL_INDEX_UPSTREAM": origin.simple,
            "OMNIWHEEL_INDEX_UPSTREAM_TTL": "0",
        }
        merge_env = {**mirror_env, "OMNIWHEEL_INDEX_UPSTREAM_PRECEDENCE": "merge"}
        with serve(local_root, env=mirror_env) as mirror, serve(local_root, env=merge_env) as merge:
            page = httpx.get(f"{mirror.simple}iniconfig/", headers={"Accept": JSON}).json()
            (entry,) = page["files"]
            assert entry["url"] == f"{mirror.url}/mirror/iniconfig/{pure.name}"
            assert entry["hashes"]["sha256"] == hashlib.sha256(pure.read_bytes()).hexdigest()
            assert page["versions"] == ["2.1.0"]
            # Upstream's PEP 658 metadata is listed and served through the mirror too.
            metadata = httpx.get(entry["url"] + ".metadata")
            assert metadata.status_code == 200
            with Wheel.open(pure) as wheel:
                assert metadata.content == wheel.read_bytes(f"{wheel.dist_info}/METADATA")
            assert entry["core-metadata"] == {
                "sha256": hashlib.sha256(metadata.content).hexdigest()
            }
            _pip_install(mirror.simple, tmp_path / "first", "iniconfig")
            assert (local_root / "mirror" / "files" / "iniconfig" / pure.name).is_file()
            # Project names in mirror URLs are normalised like everywhere else.
            respelled = httpx.get(f"{mirror.url}/mirror/IniConfig/{pure.name}")
            assert respelled.status_code == 301
            assert respelled.headers["location"] == f"/mirror/iniconfig/{pure.name}"
            escape = httpx.get(f"{mirror.url}/mirror/%2e%2e/{pure.name}")
            assert escape.status_code == 404 and "not a valid project name" in escape.text
            assert sorted(p.name for p in (local_root / "mirror").iterdir()) == ["files", "pages"]

            # Our own project hides upstream's of the same name, unless configured to merge.
            ours = httpx.get(f"{mirror.simple}markupsafe/", headers={"Accept": JSON}).json()
            assert [f["filename"] for f in ours["files"]] == [
                "markupsafe-3.0.4-cp313-cp313-android_24_arm64_v8a.whl"
            ]
            merged = httpx.get(f"{merge.simple}markupsafe/", headers={"Accept": JSON}).json()
            assert sorted(f["url"].split("/")[3] for f in merged["files"]) == ["files", "mirror"]
            assert httpx.get(f"{mirror.simple}absent/").status_code == 404

            origin.kill()  # the upstream goes away
            cached = httpx.get(f"{mirror.simple}iniconfig/", headers={"Accept": JSON})
            assert cached.status_code == 200 and cached.json()["files"] == page["files"]
            _pip_install(mirror.simple, tmp_path / "second", "iniconfig")
            unknown = httpx.get(f"{mirror.simple}never-fetched/")
            assert unknown.status_code == 502 and "nothing cached" in unknown.text
            assert httpx.get(f"{mirror.simple}markupsafe/").status_code == 200


def test_mirror_of_a_static_pep_503_directory(tmp_path: Path) -> None:
    """An upstream that speaks only HTML: ``python -m http.server`` over a folder."""
    pure = realwheels.fetch("pure")
    digest = hashlib.sha256(pure.read_bytes()).hexdigest()
    site = tmp_path / "site"
    (site / "simple" / "iniconfig").mkdir(parents=True)
    (site / "packages").mkdir()
    shutil.copy(pure, site / "packages" / pure.name)
    (site / "simple" / "iniconfig" / "index.html").write_text(
        "<!DOCTYPE html><html><body>"
        f'<a href="../../packages/{pure.name}#sha256={digest}" data-requires-python="&gt;=3.8">'
        f"{pure.name}</a></body></html>"
    )
    port = free_port()
    static = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=site,
        env=client_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/simple/iniconfig/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "http.server did not start"
                time.sleep(0.1)
        env = {"OMNIWHEEL_INDEX_UPSTREAM": f"http://127.0.0.1:{port}/simple/"}
        with serve(tmp_path / "index", env=env) as mirror:
            (entry,) = httpx.get(f"{mirror.simple}iniconfig/?format=json").json()["files"]
            assert entry["hashes"] == {"sha256": digest}
            assert entry["requires-python"] == ">=3.8"
            assert httpx.get(entry["url"]).content == pure.read_bytes()
            _pip_install(mirror.simple, tmp_path / "t", "iniconfig")
    finally:
        static.terminate()
        static.wait(timeout=10)
