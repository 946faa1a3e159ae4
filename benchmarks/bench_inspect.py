"""`omniwheel inspect` vs `auditwheel show` on the same manylinux wheels (run by hand).

    python benchmarks/bench_inspect.py WHEEL... [--auditwheel PATH]

Each wheel is inspected once by each tool in this run (warm page cache: each file
is read once beforehand). Prints wall time, peak RSS of each child process and the
ratio. Fetch the large wheel with `pip download torch==2.13.0 --no-deps`; auditwheel
(6.8.2 was measured) goes in a venv of its own: `python -m venv /tmp/aw &&
/tmp/aw/bin/pip install auditwheel`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from measure import measure, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheels", nargs="+", type=Path)
    parser.add_argument("--auditwheel", default=shutil.which("auditwheel") or "auditwheel")
    args = parser.parse_args()
    print(f"{'wheel':60} {'MB':>6} {'omniwheel s':>12} {'auditwheel s':>13} {'ratio':>7}")
    print("(ratio = auditwheel time / omniwheel time; RSS is omniwheel / auditwheel)")
    for wheel in args.wheels:
        warm(wheel)
        ours, our_rss, our_code = measure(
            [sys.executable, "-m", "omniwheel", "inspect", "--json", str(wheel)]
        )
        theirs, their_rss, their_code = measure([args.auditwheel, "show", str(wheel)])
        size = wheel.stat().st_size / 1e6
        print(
            f"{wheel.name[:60]:60} {size:6.1f} {ours:12.2f} {theirs:13.2f} {theirs / ours:6.1f}x"
            f"   exit {our_code}/{their_code}, peak RSS {our_rss:.0f} / {their_rss:.0f} MiB"
        )


if __name__ == "__main__":
    main()
