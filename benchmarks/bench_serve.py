"""``omniwheel serve`` vs pypiserver 2.4 on the same files, measured with wrk on 127.0.0.1.

Run by hand (never in CI): ``python benchmarks/bench_serve.py``. It builds a
folder of 100,000 projects (one tiny wheel each, hard links to one file) plus
one project with 2,000 files, imports the same files into an omniwheel root,
then for each server measures start-up (spawn until the first answer) and RSS,
and runs wrk against ``/simple/<project>/`` (HTML and JSON) and ``/simple/``.
pypiserver speaks PEP 503 HTML only, so the JSON row compares against its HTML.
pypiserver gets its fastest setup: with Paste and watchdog installed (both in the
``test`` extra) its ``auto`` choices are Paste's threaded server and the cached-dir
backend; a run where it completed no request in the window prints "(none)".

The omniwheel rows are written straight into the database in one transaction
(the files are identical links, so the per-file check would measure nothing
but the check): this benchmark measures serving, not importing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from omniwheel.index import FileRow, PackageIndex
from omniwheel.wheel import Record, RecordEntry

BIG = "bigproject"
JSON = "application/vnd.pypi.simple.v1+json"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _template(directory: Path) -> tuple[Path, Path]:
    """One small valid wheel and its METADATA, to be hard-linked under every name."""
    metadata = b"Metadata-Version: 2.1\nName: template\nVersion: 1.0\n"
    wheel = b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members = {"template-1.0.dist-info/METADATA": metadata, "template-1.0.dist-info/WHEEL": wheel}
    record_path = "template-1.0.dist-info/RECORD"
    record = Record(
        [*(RecordEntry.for_bytes(name, data) for name, data in members.items()),
         RecordEntry(record_path, None, None)]
    )  # fmt: skip
    path = directory / "template-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in {**members, record_path: record.serialize()}.items():
            archive.writestr(name, data)
    metadata_path = directory / "template.metadata"
    metadata_path.write_bytes(metadata)
    return path, metadata_path


def _filenames(projects: int, files: int) -> list[tuple[str, str, str]]:
    """(project, version, filename) for the big project and the many small ones."""
    big = [(BIG, f"1.{n}", f"{BIG}-1.{n}-py3-none-any.whl") for n in range(files)]
    small = [(f"p{n:06d}", "1.0", f"p{n:06d}-1.0-py3-none-any.whl") for n in range(projects)]
    return big + small


def build(workdir: Path, projects: int, files: int) -> tuple[Path, Path, int]:
    """The pypiserver folder and the omniwheel root holding the same files."""
    template, metadata = _template(workdir)
    sha256 = hashlib.sha256(template.read_bytes()).hexdigest()
    metadata_sha256 = hashlib.sha256(metadata.read_bytes()).hexdigest()
    size = template.stat().st_size
    folder, root = workdir / "packages", workdir / "index"
    folder.mkdir()
    index = PackageIndex(root)
    entries = _filenames(projects, files)
    rows = []
    now = time.time()
    report = {"verdicts": [{"platform_tag": "any", "platform": None, "status": "ok"}]}
    for number, (project, version, filename) in enumerate(entries):
        # ext4 allows 65,000 links per inode: a fresh copy of the template every 20,000 files.
        if number % 20_000 == 0:
            wheel_copy, metadata_copy = workdir / f"wheel{number}", workdir / f"meta{number}"
            shutil.copy(template, wheel_copy)
            shutil.copy(metadata, metadata_copy)
        os.link(wheel_copy, folder / filename)
        target = index.storage.file_path(project, filename)
        target.parent.mkdir(exist_ok=True)
        os.link(wheel_copy, target)
        os.link(metadata_copy, target.with_name(filename + ".metadata"))
        rows.append(FileRow(filename, filename, project, version, size, sha256,
                            metadata_sha256, None, now, False, None, report))  # fmt: skip
    index.db.commit_files(rows, {project: project for project, _, _ in entries})
    index.close()
    return folder, root, len(entries)


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    ready_seconds: float

    def rss_mib(self) -> float:
        """Resident memory of the server and its children."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        total = 0
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        return total / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(name: str, command: list[str], port: int, probe: str) -> Running:
    """Spawn and wait for the first successful answer to ``probe``."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + probe, timeout=120).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}")
        time.sleep(0.005)
    return Running(name, process, url, time.perf_counter() - began)


@dataclass
class Measured:
    requests_per_second: float
    p99_ms: float


def wrk(url: str, seconds: int, connections: int, accept: str | None) -> Measured:
    command = ["wrk", "--latency", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
    if accept:
        command += ["-H", f"Accept: {accept}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return Measured(rate, float(value) * scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=2_000, help="files of the big project")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="omniwheel worker processes")
    parser.add_argument("--pypiserver-server", default="auto", help="its --server")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk)")
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        began = time.perf_counter()
        folder, root, count = build(Path(scratch), args.projects, args.files)
        print(f"built {count} files in {time.perf_counter() - began:.1f} s", flush=True)
        ours_port, theirs_port = _free_port(), _free_port()
        servers = {
            "omniwheel": (
                [str(bin_dir / "omniwheel"), "serve", "--root", str(root), "--port",
                 str(ours_port), "--workers", str(args.workers), "--no-access-log"],
                ours_port,
            ),
            "pypiserver": (
                [str(bin_dir / "pypi-server"), "run", "-p", str(theirs_port), "-i", "127.0.0.1",
                 "-a", ".", "-P", ".", "--server", args.pypiserver_server, "--log-stream",
                 "none", str(folder)],
                theirs_port,
            ),
        }  # fmt: skip
        results: dict[str, dict[str, Measured]] = {}
        facts: dict[str, dict[str, float]] = {}
        for name, (command, port) in servers.items():
            running = start(name, command, port, f"/simple/{BIG}/")
            try:
                first_root = time.perf_counter()
                httpx.get(running.url + "/simple/", timeout=300).raise_for_status()
                facts[name] = {
                    "ready_s": running.ready_seconds,
                    "first_root_page_s": time.perf_counter() - first_root,
                    "rss_mib": running.rss_mib(),
                }
                print(f"{name}: {json.dumps(facts[name])}", flush=True)
                project = f"{running.url}/simple/{BIG}/"
                results[name] = {
                    "project HTML": wrk(project, args.seconds, args.connections, "text/html"),
                    "project JSON": wrk(
                        project,
                        args.seconds,
                        args.connections,
                        JSON if name == "omniwheel" else None,
                    ),
                    "root HTML": wrk(
                        running.url + "/simple/", args.seconds, args.connections, "text/html"
                    ),
                }
                facts[name]["rss_after_mib"] = running.rss_mib()
            finally:
                running.stop()
    print(f"\n{args.projects} projects, {args.files} files in {BIG}, wrk -t2 "
          f"-c{args.connections} -d{args.seconds}s, omniwheel --workers {args.workers}, "
          f"pypiserver --server {args.pypiserver_server}")  # fmt: skip
    print(f"{'endpoint':<14} {'omniwheel req/s':>16} {'pypiserver req/s':>17} {'ratio':>8} "
          f"{'p99 ours ms':>12} {'p99 theirs ms':>14}")  # fmt: skip
    for endpoint, ours in results["omniwheel"].items():
        theirs = results["pypiserver"][endpoint]
        ratio = (
            f"{ours.requests_per_second / theirs.requests_per_second:>7.1f}x"
            if theirs.requests_per_second
            else "  (none)"
        )
        print(f"{endpoint:<14} {ours.requests_per_second:>16.1f} "
              f"{theirs.requests_per_second:>17.2f} {ratio} {ours.p99_ms:>12.1f} "
              f"{theirs.p99_ms:>14.1f}")  # fmt: skip
    for key in ("ready_s", "first_root_page_s", "rss_mib", "rss_after_mib"):
        ours_value, theirs_value = facts["omniwheel"][key], facts["pypiserver"][key]
        print(f"{key:<18} omniwheel {ours_value:8.2f}  pypiserver {theirs_value:8.2f}  "
              f"ratio {theirs_value / max(ours_value, 1e-9):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
