"""Benchmark ``omniwheel build`` (run by hand): the no-op rebuild and parallel speed-up.

    python benchmarks/bench_build.py [--recipes 20] [--independent 6]

1. No-op rebuild: a tree of N small C-extension recipes is built once, then
   ``omniwheel build`` runs again (the whole command, interpreter start-up
   included) and must rebuild nothing. Goal: under 1 s for 20 recipes. It is
   printed against the first, full build of the same tree.
2. Parallel builds: M independent recipes built from scratch with -j1, then
   with -j2 (fresh output directories, so nothing is cached). Goal: -j2 at
   least 1.8x faster. Pyodide's own ``pyodide build-recipes`` is the peer
   tool, but it needs its cross-build environment archive, which this machine
   cannot download, so the ratios here are omniwheel against itself.

Needs emcc and a host CPython of the target's minor version (see README).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLATFORM = "pyodide-2025.0"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=70"]
build-backend = "setuptools.build_meta"
[project]
name = "{name}"
version = "1.0"
"""
SETUP = """\
from setuptools import Extension, setup
setup(packages=["{name}"], ext_modules=[Extension("{name}._fast", ["{name}/_fast.c"])])
"""
MODULE = """\
#include <Python.h>
static PyObject *twice(PyObject *self, PyObject *arg) {{
    long value = PyLong_AsLong(arg);
    return PyLong_FromLong(2 * value + {index});
}}
static PyMethodDef methods[] = {{{{"twice", twice, METH_O, NULL}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "_fast", NULL, -1, methods}};
PyMODINIT_FUNC PyInit__fast(void) {{ return PyModule_Create(&module); }}
"""


def make_tree(root: Path, count: int) -> Path:
    """``count`` independent recipes, each a small C extension built with setuptools."""
    for index in range(count):
        name = f"bench{index:02d}"
        recipe = root / name
        source = recipe / "src"
        (source / name).mkdir(parents=True)
        (recipe / "meta.yaml").write_text(
            f"package: {{name: {name}, version: '1.0'}}\nsource: {{path: src}}\n"
            f"test: {{imports: [{name}._fast]}}\n"
        )
        (source / "pyproject.toml").write_text(PYPROJECT.format(name=name))
        (source / "setup.py").write_text(SETUP.format(name=name))
        (source / name / "__init__.py").write_text("")
        (source / name / "_fast.c").write_text(MODULE.format(index=index))
    return root


def timed_build(recipes: Path, output: Path, jobs: int) -> float:
    command = [sys.executable, "-m", "omniwheel", "build", str(recipes), "--platform", PLATFORM,
               "-o", str(output), "-j", str(jobs), "--json"]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=20, help="recipes in the no-op tree")
    parser.add_argument("--independent", type=int, default=6, help="recipes for -j1 vs -j2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch:
        root = Path(scratch)
        tree = make_tree(root / "noop", args.recipes)
        full = timed_build(tree, root / "noop-dist", jobs=2)
        noops = [timed_build(tree, root / "noop-dist", jobs=2) for _ in range(3)]
        noop = min(noops)
        print(f"no-op rebuild of {args.recipes} cached recipes: {noop:.2f} s "
              f"(best of 3; goal < 1 s) vs first full build {full:.1f} s at -j2 "
              f"= {full / noop:.0f}x")  # fmt: skip

        independent = make_tree(root / "par", args.independent)
        serial = timed_build(independent, root / "j1", jobs=1)
        parallel = timed_build(independent, root / "j2", jobs=2)
        print(f"{args.independent} independent recipes from scratch: -j1 {serial:.1f} s, "
              f"-j2 {parallel:.1f} s = {serial / parallel:.2f}x (goal >= 1.8x)")  # fmt: skip


if __name__ == "__main__":
    main()
