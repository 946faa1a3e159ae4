"""Verifying a wheel with a 150 MB member keeps the process small.

The check runs in a child process that reports its own peak RSS. It reads
``VmHWM`` rather than ``getrusage().ru_maxrss``: Linux carries the parent's
peak into the child's ru_maxrss across fork+exec (seen here: 54 MB reported
for a child whose own peak was 28 MB), which would measure pytest, not us.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import omniwheel

BIG = "demo/blob.bin"
BLOCK = os.urandom(
    1 << 20
)  # repeated 1 MiB apart: beyond deflate's 32 KiB window, so incompressible
BLOCKS = 150
SRC = str(Path(omniwheel.__file__).parents[1])

CHILD = """
import sys
from omniwheel.wheel import Limits, Wheel
path, mode = sys.argv[1], sys.argv[2]
with Wheel.open(path, limits=Limits(in_memory_max=1 << 30 if mode == "naive" else 32 << 20)) as w:
    if mode == "naive":
        assert len(w.read_bytes("demo/blob.bin")) == 150 << 20
    else:
        w.verify()
        with w.member_buffer("demo/blob.bin") as buffer:
            assert len(buffer) == 150 << 20 and type(buffer).__name__ == "mmap"
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


@pytest.fixture(scope="module")
def big_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid wheel whose one big member is written in chunks (deflate, level 0: fast)."""
    path = tmp_path_factory.mktemp("big") / "demo-1.0-py3-none-any.whl"
    small = {
        "demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n",
        "demo-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    digest = hashlib.sha256()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=0) as archive:
        with archive.open(BIG, "w") as stream:
            for _ in range(BLOCKS):
                stream.write(BLOCK)
                digest.update(BLOCK)
        for name, data in small.items():
            archive.writestr(name, data)
        rows = [
            f"{name},sha256={base64.urlsafe_b64encode(h).rstrip(b'=').decode()},{size}"
            for name, h, size in [
                (BIG, digest.digest(), BLOCKS << 20),
                *((n, hashlib.sha256(d).digest(), len(d)) for n, d in small.items()),
            ]
        ]
        record = "\n".join([*rows, "demo-1.0.dist-info/RECORD,,", ""])
        archive.writestr("demo-1.0.dist-info/RECORD", record)
    return path


def peak_rss_mib(path: Path, mode: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    return int(result.stdout) / 1024  # VmHWM is in kB


@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is Linux's peak-RSS counter")
def test_verify_and_spooled_buffer_stay_under_80_mib(big_wheel: Path) -> None:
    assert peak_rss_mib(big_wheel, "streaming") < 80


@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM is Linux's peak-RSS counter")
def test_the_measurement_sees_a_whole_member_in_memory(big_wheel: Path) -> None:
    """Control: reading the member whole must show up, or the bound above proves nothing."""
    assert peak_rss_mib(big_wheel, "naive") > 150
