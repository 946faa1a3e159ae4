"""Recipe trees the build tests share: MarkupSafe's real sdist and a library chain.

``chain_recipes`` is the same for every target: MarkupSafe 3.0.3's sdist from the
index (its C module ``_speedups``), a static library recipe (``libgreet``) and a
C extension recipe linking it (``greeter``). Each target's tests add their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

MARKUPSAFE_SDIST = ("markupsafe==3.0.3", "markupsafe-3.0.3.tar.gz",
                    "722695808f4b6457b320fdc131280796bdceb04ab50fe1795cd540799ebe1698")  # fmt: skip


def sdist_url(cache: Path) -> str:
    """The index's URL of the pinned MarkupSafe sdist, as pip reports it (cached)."""
    requirement, filename, digest = MARKUPSAFE_SDIST
    record = cache / f"{filename}.json"
    if record.is_file():
        return str(json.loads(record.read_text())["url"])
    report = cache / "report.json"
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         "--no-binary", ":all:", "--quiet", "--report", str(report), requirement],
        check=True, capture_output=True,
    )  # fmt: skip
    info = json.loads(report.read_text())["install"][0]["download_info"]
    assert info["url"].endswith("/" + filename)
    assert info["archive_info"]["hashes"]["sha256"] == digest
    record.write_text(json.dumps({"url": info["url"]}))
    return str(info["url"])


def write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def pyproject(name: str, version: str, *extra: str) -> str:
    """A setuptools project's pyproject.toml (the recipes' sources all use setuptools)."""
    lines = ["[build-system]", 'requires = ["setuptools>=70"]',
             'build-backend = "setuptools.build_meta"', "[project]", f'name = "{name}"',
             f'version = "{version}"', *extra]  # fmt: skip
    return "\n".join(lines) + "\n"


def extension_setup(package: str, module: str, **link: list[str]) -> str:
    """A setup.py building C extension ``package.module`` from ``package/module.c``."""
    name, source = f"{package}.{module}", f"{package}/{module}.c"
    options = "".join(f", {option}={value!r}" for option, value in link.items())
    return (
        "from setuptools import Extension, setup\n"
        f"setup(packages=[{package!r}],\n"
        f"      ext_modules=[Extension({name!r}, [{source!r}]{options})])\n"
    )


def chain_recipes(url: str) -> dict[str, str]:
    """MarkupSafe (sdist at ``url``), ``libgreet`` (static library) and ``greeter`` (links it)."""
    return {
        "markupsafe/meta.yaml": f"""\
            package:
              name: markupsafe
              version: 3.0.3
              top-level: [markupsafe]
            source:
              url: {url}
              sha256: {MARKUPSAFE_SDIST[2]}
            test:
              imports: [markupsafe, markupsafe._speedups]
            about:
              summary: Escape characters for HTML and XML.
              license: BSD-3-Clause
            """,
        "markupsafe/omniwheel_test.py": """\
            from markupsafe import _speedups, escape
            escaped = _speedups._escape_inner("<a href='x'>&</a>")
            assert escaped == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;", escaped
            assert str(escape("<b>")) == "&lt;b&gt;"
            """,
        "libgreet/meta.yaml": """\
            package: {name: libgreet, version: "1.0"}
            source: {path: src}
            build:
              type: static_library
              script: |
                $CC -c greet.c -o greet.o
                $AR rcs libgreet.a greet.o
                mkdir -p $WASM_LIBRARY_DIR/include $WASM_LIBRARY_DIR/lib
                cp greet.h $WASM_LIBRARY_DIR/include/
                cp libgreet.a $WASM_LIBRARY_DIR/lib/
            """,
        "libgreet/src/greet.h": "int greet_format(char *out, int size, const char *who);\n",
        "libgreet/src/greet.c": """\
            #include <stdio.h>
            #include "greet.h"
            int greet_format(char *out, int size, const char *who) {
                return snprintf(out, size, "hello, %s, from libgreet (%d-bit long)", who,
                                (int)(8 * sizeof(long)));
            }
            """,
        "greeter/meta.yaml": """\
            package: {name: greeter, version: "0.1"}
            source: {path: src}
            requirements: {host: [libgreet]}
            test: {imports: [greeter._greet]}
            """,
        "greeter/src/pyproject.toml": pyproject("greeter", "0.1"),
        "greeter/src/setup.py": extension_setup("greeter", "_greet", libraries=["greet"]),
        "greeter/src/greeter/__init__.py": "",
        "greeter/src/greeter/_greet.c": """\
            #define PY_SSIZE_T_CLEAN
            #include <Python.h>
            #include <greet.h>
            static PyObject *greet(PyObject *self, PyObject *arg) {
                char buffer[128];
                const char *who = PyUnicode_AsUTF8(arg);
                if (who == NULL) return NULL;
                greet_format(buffer, sizeof buffer, who);
                return PyUnicode_FromString(buffer);
            }
            static PyMethodDef methods[] = {{"greet", greet, METH_O, NULL}, {NULL, NULL, 0, NULL}};
            static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_greet", NULL, -1, methods};
            PyMODINIT_FUNC PyInit__greet(void) { return PyModule_Create(&module); }
            """,
    }
