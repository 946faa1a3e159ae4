"""`omniwheel inspect` vs `auditwheel show` on the same manylinux wheels (run by hand).

    python benchmarks/bench_inspect.py WHEEL... [--auditwheel PATH]

Each wheel is inspected ``--repeat`` times by each tool in this run (warm page
cache: each file is read once beforehand); the best time of each counts, as the
machine may be busy. Prints wall time, peak RSS of each child process and the
ratio. It also times a floor: a bare interpreter that only decompresses and hashes
every member (zipfile + hashlib, nothing imported beyond them), the least work any
Python tool must do to verify a wheel against its RECORD as `inspect` does; the
`best` column is auditwheel's time over that floor, the largest ratio reachable.
Fetch the large wheel with `pip download torch==2.13.0 --no-deps`; auditwheel
(6.8.2 was measured) goes in a venv of its own: `python -m venv /tmp/aw &&
/tmp/aw/bin/pip install auditwheel`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from measure import measure, warm

# Decompress and hash every member: the verification floor, in a child of its own.
FLOOR = (
    "import hashlib, sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as archive:\n"
    "    for info in archive.infolist():\n"
    "        hashlib.sha256(archive.read(info)).digest()\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheels", nargs="+", type=Path)
    parser.add_argument("--auditwheel", default=shutil.which("auditwheel") or "auditwheel")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (best counts)")
    args = parser.parse_args()

    def best(command: list[str]) -> tuple[float, float, int]:
        runs = [measure(command) for _ in range(args.repeat)]
        return min(runs, key=lambda run: run[0])

    print(
        f"{'wheel':60} {'MB':>6} {'omniwheel s':>12} {'auditwheel s':>13} {'ratio':>7}"
        f" {'floor s':>8} {'best':>6}"
    )
    print("(ratio = auditwheel time / omniwheel time; best = auditwheel time / floor time;")
    print(" RSS is omniwheel / auditwheel)")
    for wheel in args.wheels:
        warm(wheel)
        ours, our_rss, our_code = best(
            [sys.executable, "-m", "omniwheel", "inspect", "--json", str(wheel)]
        )
        theirs, their_rss, their_code = best([args.auditwheel, "show", str(wheel)])
        floor, _, _ = best([sys.executable, "-S", "-c", FLOOR, str(wheel)])
        size = wheel.stat().st_size / 1e6
        print(
            f"{wheel.name[:60]:60} {size:6.1f} {ours:12.2f} {theirs:13.2f} {theirs / ours:6.1f}x"
            f" {floor:8.2f} {theirs / floor:5.1f}x"
            f"   exit {our_code}/{their_code}, peak RSS {our_rss:.0f} / {their_rss:.0f} MiB"
        )


if __name__ == "__main__":
    main()
