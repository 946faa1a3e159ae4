"""`omniwheel retag` vs `wheel tags` vs `cp` on the same wheel (run by hand).

    python benchmarks/bench_retag.py WHEEL

Each operation is timed once in this run from a warm page cache, writing into a
fresh temporary directory on the same filesystem, after a `sync` (so that no run
pays for writing back what the one before it left dirty):

* `cp` of the file: the floor any rewrite must pay to write the bytes again;
  `cp` followed by `sync FILE`, what omniwheel pays when its output replaces a file
  (it fsyncs then, and only then, before renaming into place); and a bare
  interpreter (`python -S`) copying the file with `shutil.copyfile`, the floor for
  any tool written in Python: start-up plus the same kernel copy;
* `wheel tags --build 1` (pypa/wheel, installed in this environment) and
  `omniwheel retag --build 1`: the same change, a new build tag, which claims no
  new platform, so omniwheel does not re-check the binaries;
* `omniwheel retag --platform +<newer tag>`: a change that claims a new platform,
  which omniwheel checks on the finished file (every binary parsed, every hash
  verified) before moving it into place.

Fetch the 192 MB wheel with `pip download torch==2.13.0 --no-deps`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from measure import measure, warm

OMNIWHEEL = [sys.executable, "-m", "omniwheel", "retag"]
COPY = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"


def settled(command: list[str]) -> tuple[float, float, int]:
    """``measure`` once the page cache holds nothing dirty."""
    os.sync()
    return measure(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheel", type=Path)
    parser.add_argument(
        "--new-platform",
        default="manylinux_2_34_x86_64",
        help="tag added for the checked retag (one the binaries really support)",
    )
    args = parser.parse_args()
    wheel: Path = args.wheel.resolve()
    warm(wheel)
    with tempfile.TemporaryDirectory(dir=wheel.parent) as scratch:
        work = Path(scratch)
        for name in ("cp", "cp+sync", "python", "wheel", "omniwheel", "checked"):
            (work / name).mkdir()
        source = work / "wheel" / wheel.name  # `wheel tags` writes beside its input
        synced = [str(wheel), str(work / "cp+sync" / wheel.name)]
        checked = ["--platform", f"+{args.new_platform}", "-w", str(work / "checked")]
        shutil.copyfile(wheel, source)
        runs = {
            "cp": settled(["cp", str(wheel), str(work / "cp")]),
            # omniwheel fsyncs before its atomic rename; this is cp paying the same.
            "cp + sync FILE": settled(["sh", "-c", 'cp "$0" "$1" && sync "$1"', *synced]),
            "python -S, shutil.copyfile": settled(
                [sys.executable, "-S", "-c", COPY, str(wheel), str(work / "python" / wheel.name)]
            ),
            "wheel tags --build 1": settled(
                [sys.executable, "-m", "wheel", "tags", "--build", "1", str(source)]
            ),
            "omniwheel retag --build 1": settled(
                [*OMNIWHEEL, "--build", "1", "-w", str(work / "omniwheel"), str(wheel)]
            ),
            f"omniwheel retag --platform +{args.new_platform}": settled(
                [*OMNIWHEEL, *checked, str(wheel)]
            ),
        }
    size = wheel.stat().st_size / 1e6
    print(f"{wheel.name} ({size:.1f} MB)")
    print(f"{'operation':55} {'seconds':>8} {'peak RSS MiB':>13} {'exit':>5}")
    for label, (seconds, rss, code) in runs.items():
        print(f"{label:55} {seconds:8.2f} {rss:13.0f} {code:5}")
    ours = runs["omniwheel retag --build 1"][0]
    print(f"wheel tags / omniwheel retag: {runs['wheel tags --build 1'][0] / ours:.1f}x faster")
    print(f"omniwheel retag / cp:         {ours / runs['cp'][0]:.2f}x the time of cp")
    print(f"omniwheel retag / cp + sync:  {ours / runs['cp + sync FILE'][0]:.2f}x")
    floor = runs["python -S, shutil.copyfile"][0]
    print(f"python -S copy / cp:          {floor / runs['cp'][0]:.2f}x (the floor for Python)")
    print(f"omniwheel retag / python -S copy: {ours / floor:.2f}x")


if __name__ == "__main__":
    main()
