"""Resolve + download + install ~30 packages for iOS and Pyodide from a local index (by hand).

    python benchmarks/bench_install.py [--work DIR]

Builds a local index (PEP 503 + PEP 691, served on 127.0.0.1) of the real wheels
``pip download`` picks for each target, then times, in this run, each tool
installing the same requirement set for the same target from it, warm cache
(each tool runs once untimed to fill its own cache, then ``--repeat`` rounds run
every tool once in turn, each into a fresh directory; a tool's best time counts, as
the machine may be busy):

* ``omniwheel install --layout site-packages`` and with the target's own layout
  (``ios-app`` frameworks, ``pyodide`` wheels + pyodide-lock.json), each with
  ``--link-mode copy`` and ``hardlink``;
* ``pip install --target --platform … --only-binary :all: --no-compile``;
* ``uv pip install --target --python-platform …`` (its default link mode, and
  ``--link-mode hardlink``).

Index pages are served with an ETag and, by default, no ``Cache-Control``, so every
tool revalidates every page on every run. ``--max-age N`` serves them with
``Cache-Control: public, max-age=N``, as the registry's simple pages (600) and
``omniwheel serve``'s (60) are: uv and omniwheel then reuse fresh pages without a
request, while pip revalidates index pages whatever their headers say.

Every tool runs with ``-q``, as pip always has here: the time is the install's, not
its report's (omniwheel's table of what it installed costs ~0.09 s, most of it
importing rich).

Ratios are printed against pip and against uv.

Pyodide is timed at ABI 2025_0 because uv has no 2026 ABI value. omniwheel
also checks every wheel's binaries for the target before installing, which the
peers do not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import measure

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import localindex

PURE = [
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset-normalizer",
    "attrs",
    "six",
    "python-dateutil",
    "pytz",
    "packaging",
    "pyparsing",
    "click",
    "rich",
    "pygments",
    "markdown-it-py",
    "mdurl",
    "typing-extensions",
    "annotated-types",
    "iniconfig",
    "pluggy",
    "more-itertools",
    "toolz",
    "decorator",
    "sortedcontainers",
    "beautifulsoup4",
    "soupsieve",
    "cachetools",
    "platformdirs",
    "tomlkit",
    "h11",
    "anyio",
]

TARGETS = {
    "ios": {
        "extra": ["jinja2", "markupsafe"],
        "platform": "ios",
        "pip": ["--platform", "ios_13_0_arm64_iphoneos", "--abi", "cp313"],
        "uv": "arm64-apple-ios",
        "layout": "ios-app",
    },
    "pyodide": {
        "extra": ["msgpack"],
        "platform": "pyodide-2025.0",
        "pip": ["--platform", "pyemscripten_2025_0_wasm32", "--abi", "cp313"],
        "uv": "wasm32-pyodide2025",
        "layout": "pyodide",
    },
}


def _download(requirements: Path, pip_target: list[str], into: Path) -> None:
    """The wheels pip picks for the target, through this machine's pip configuration."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary",
            ":all:",
            "--python-version",
            "3.13",
            "--implementation",
            "cp",
            *pip_target,
            "-d",
            str(into),
            "-r",
            str(requirements),
        ],
        check=True,
    )


def _time_all(commands: dict[str, list[str]], into: Path, repeat: int) -> dict[str, float]:
    """One warm-up run of each tool (fills its cache), then ``repeat`` rounds in which every
    tool runs once, each into a fresh directory; a tool's best time counts.

    Rounds interleave the tools so that a busy spell of the shared machine slows
    them all alike instead of one tool's whole series.
    """
    times: dict[str, list[float]] = {name: [] for name in commands}
    for attempt in range(repeat + 1):
        for name, command in commands.items():
            shutil.rmtree(into, ignore_errors=True)
            seconds, _, status = measure(command)
            if status != 0:
                raise SystemExit(f"{name} failed (run {attempt}): {' '.join(command)}")
            if attempt:
                times[name].append(seconds)
    return {name: min(series) for name, series in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, help="keep files here (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tool (best counts)")
    parser.add_argument(
        "--max-age", type=int, metavar="N", help="serve pages with Cache-Control max-age=N"
    )
    args = parser.parse_args()
    # Every tool runs from bytecode, as installed packages do (pip compiles at install
    # time); an editable checkout under PYTHONDONTWRITEBYTECODE would recompile each run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-install-"))
    work.mkdir(parents=True, exist_ok=True)
    wheels = work / "wheels"
    for name, target in TARGETS.items():
        requirements = work / f"{name}.txt"
        requirements.write_text("\n".join(PURE + target["extra"]) + "\n")
        _download(requirements, target["pip"], wheels)
    wheel_files = sorted(wheels.glob("*.whl"))
    localindex.build_index(work / "index", wheel_files)
    cache_control = None if args.max_age is None else f"public, max-age={args.max_age}"
    with localindex.serve(work / "index", json_pages=True, cache_control=cache_control) as (url, _):
        for name, target in TARGETS.items():
            requirements = work / f"{name}.txt"
            into = work / "out"
            common = ["-r", str(requirements), "--index-url", url]
            omniwheel = [
                sys.executable,
                "-m",
                "omniwheel",
                "install",
                *common,
                "--platform",
                target["platform"],
                "--python",
                "3.13",
                "--cache-dir",
                str(work / "cache-omniwheel"),
                "--into",
                str(into),
                "-q",
            ]
            pip = [
                sys.executable,
                "-m",
                "pip",
                "--isolated",
                "install",
                "-q",
                *common,
                "--target",
                str(into),
                "--only-binary",
                ":all:",
                "--no-compile",
                "--python-version",
                "3.13",
                "--implementation",
                "cp",
                *target["pip"],
                "--cache-dir",
                str(work / "cache-pip"),
            ]
            uv = localindex.uv_install_command(
                *common,
                "-q",
                target=into,
                triple=target["uv"],
                python="3.13",
                cache=work / "cache-uv",
            )
            commands = {
                f"omniwheel {layout} {mode}": [*omniwheel, "--layout", layout, "--link-mode", mode]
                for layout in ("site-packages", target["layout"])
                for mode in ("copy", "hardlink")
            }
            commands["pip --target"] = pip
            commands["uv pip --target"] = uv
            commands["uv pip --target hardlink"] = [*uv, "--link-mode", "hardlink"]
            times = _time_all(commands, into, args.repeat)
            print(
                f"{name}: {len(wheel_files)} wheels in the index, {requirements.name} "
                f"({len(PURE) + len(target['extra'])} requirements), best of {args.repeat}, "
                f"pages {cache_control or 'revalidated'}"
            )
            pip_time, uv_time = times["pip --target"], times["uv pip --target"]
            for tool, seconds in times.items():
                print(
                    f"  {tool:34s} {seconds:6.2f} s   pip/this {pip_time / seconds:5.2f}x"
                    f"   uv/this {uv_time / seconds:5.2f}x"
                )
    if args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
