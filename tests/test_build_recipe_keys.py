"""``build/post``, ``build/cross-build-env``, ``build/cross-build-files``: parsed, checked, built.

``post`` runs in the unpacked wheel (Pyodide's way) and what it changes lands in
the published wheel with a valid RECORD. ``cross-build-env`` is proven with
MarkupSafe's real sdist: a second recipe's ``setup.py`` imports the host's
MarkupSafe while it builds, and compiles against a header that only MarkupSafe's
``post`` script wrote into the wasm wheel and ``cross-build-files`` shipped to
the build environment; both wheels then run in Pyodide 0.29 under Node.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import MakeWheel
from omniwheel.audit import check_wheel
from omniwheel.build import RecipeError, build_recipes, load_recipe
from omniwheel.build.pythons import find_build_python
from omniwheel.files import default_cache_dir, file_sha256
from omniwheel.platforms import parse_platform
from omniwheel.wheel import Wheel
from pyodide_runtime import python_value_in_pyodide
from recipetrees import MARKUPSAFE_SDIST, pyproject, sdist_url, write_tree

PLATFORM = parse_platform("pyodide-2025.0")


def _recipe(tmp_path: Path, text: str) -> Path:
    write_tree(tmp_path, {"pkg/meta.yaml": text})
    return tmp_path / "pkg" / "meta.yaml"


def _read_every_member(wheel: Path) -> dict[str, bytes]:
    """Each member's bytes, read through RECORD: a wrong hash or size raises."""
    with Wheel.open(wheel) as opened:
        opened.check_listing()
        return {m.name: opened.read_bytes(m.name) for m in opened.members() if not m.is_dir}


# --- parsing and checking -----------------------------------------------------------------


def test_keys_parse(tmp_path: Path) -> None:
    recipe = load_recipe(_recipe(tmp_path, """\
        package: {name: pkg, version: '1'}
        source: {path: src}
        build:
          post: rm -f pkg/unused.txt
          cross-build-env: true
          cross-build-files: [pkg/include/pkg.h, pkg/lib/libpkg.a]
        """))  # fmt: skip
    assert recipe.build.post == "rm -f pkg/unused.txt"
    assert recipe.build.cross_build_env is True
    assert recipe.build.cross_build_files == ("pkg/include/pkg.h", "pkg/lib/libpkg.a")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ("{cross-build-files: [a.h]}", "'build/cross-build-files' ships files to the cross build "
         "environment: it needs 'build/cross-build-env: true'"),
        ("{cross-build-env: true, cross-build-files: [../a.h]}", "'build/cross-build-files' entry "
         "'../a.h' has a '..' component"),
        ("{cross-build-env: true, cross-build-files: [/abs/a.h]}", "entry '/abs/a.h' is an "
         "absolute path"),
        ("{cross-build-env: true, cross-build-files: [pkg/include/]}", "entry 'pkg/include/' "
         "names a directory"),
        ("{cross-build-env: yes please}", "'build/cross-build-env' must be true or false"),
        ("{post: [rm, x]}", "'build/post' must be a string, not a list"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_errors_naming_the_file(
    tmp_path: Path, build: str, message: str
) -> None:
    meta = _recipe(tmp_path, f"package: {{name: pkg, version: '1'}}\nsource: {{path: src}}\n"
                             f"build: {build}\n")  # fmt: skip
    with pytest.raises(RecipeError) as caught:
        load_recipe(meta)
    assert str(caught.value).startswith(f"{meta.resolve()}: ")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_wheel_source_allows_only_pyodides_keys(tmp_path: Path) -> None:
    head = "package: {name: pkg, version: '1'}\nsource: {url: 'file:///x/pkg-1-py3-none-any.whl', "
    head += f"sha256: {'a' * 64}}}\n"
    load_recipe(_recipe(tmp_path / "a", head + "build: {post: 'true', cross-build-env: true}\n"))
    with pytest.raises(RecipeError, match=r"'build/script' is not allowed when source is a wheel"):
        load_recipe(_recipe(tmp_path / "b", head + "build: {script: make}\n"))


def test_libraries_refuse_post_and_cross_build_keys(tmp_path: Path) -> None:
    head = "package: {name: pkg, version: '1'}\nsource: {path: src}\n"
    for key in ("post: 'true'", "cross-build-env: true"):
        meta = _recipe(tmp_path / key[:4], head + f"build: {{type: static_library, script: make, "
                                                  f"{key}}}\n")  # fmt: skip
        with pytest.raises(RecipeError, match="is not allowed in a static_library recipe"):
            load_recipe(meta)


# --- building ----------------------------------------------------------------------------


def _need_toolchain(python: str = "3.13") -> None:
    if subprocess.run(["sh", "-c", "command -v emcc"], capture_output=True).returncode != 0:
        pytest.skip("needs Emscripten's emcc (apt-get install emscripten)")
    if find_build_python(PLATFORM.python) is None:
        pytest.skip(f"needs a host CPython {python} (python{python} on PATH or pyenv)")


@pytest.mark.toolchain
def test_post_changes_the_wheel_and_record_stays_valid(
    tmp_path: Path, make_wheel: MakeWheel
) -> None:
    _need_toolchain()
    wheel = make_wheel("posted-1.0-py3-none-any.whl", {
        "posted/__init__.py": b"VALUE = 1\n", "posted/drop.txt": b"remove me\n",
    })  # fmt: skip
    recipes = tmp_path / "recipes"
    write_tree(recipes, {"posted/meta.yaml": f"""\
        package: {{name: posted, version: "1.0"}}
        source: {{url: "{wheel.as_uri()}", sha256: {file_sha256(wheel)}}}
        build:
          post: |
            test -f posted/__init__.py  # runs in the unpacked wheel
            echo "WHERE = '$PKG_VERSION'" >> posted/__init__.py
            mkdir -p posted/data && printf 'new' > posted/data/added.bin
            chmod 755 posted/data/added.bin
            rm posted/drop.txt
        """})  # fmt: skip
    report = build_recipes(recipes, PLATFORM, output=tmp_path / "dist",
                           source_cache=tmp_path / "sources")  # fmt: skip
    [outcome] = report.outcomes
    assert outcome.status == "built", outcome.error
    assert outcome.wheel is not None
    members = _read_every_member(outcome.wheel)
    assert members["posted/__init__.py"] == b"VALUE = 1\nWHERE = '1.0'\n"
    assert members["posted/data/added.bin"] == b"new"
    assert "posted/drop.txt" not in members
    with Wheel.open(outcome.wheel) as opened:
        listed = {entry.path for entry in opened.record}
        [added] = [m for m in opened.members() if m.name == "posted/data/added.bin"]
    assert listed == set(members) and added.mode == 0o755
    assert not check_wheel(outcome.wheel, [PLATFORM]).has_errors
    assert "build/post: 2 files added or changed, 1 removed" in outcome.log.read_text()


@pytest.mark.toolchain
def test_failing_post_names_its_step(tmp_path: Path, make_wheel: MakeWheel) -> None:
    _need_toolchain()
    wheel = make_wheel("failpost-1.0-py3-none-any.whl")
    recipes = tmp_path / "recipes"
    write_tree(recipes, {"failpost/meta.yaml": f"""\
        package: {{name: failpost, version: "1.0"}}
        source: {{url: "{wheel.as_uri()}", sha256: {file_sha256(wheel)}}}
        build: {{post: "exit 3"}}
        """})  # fmt: skip
    report = build_recipes(recipes, PLATFORM, output=tmp_path / "dist",
                           source_cache=tmp_path / "sources")  # fmt: skip
    [outcome] = report.outcomes
    assert (outcome.status, outcome.failed_step) == ("failed", "build/post")
    assert not list((tmp_path / "dist").glob("*.whl"))


@pytest.mark.toolchain
@pytest.mark.network
def test_cross_build_env_gives_the_host_package_and_the_target_files(tmp_path: Path) -> None:
    _need_toolchain()
    url = sdist_url(default_cache_dir() / "test-sdists")
    recipes = tmp_path / "recipes"
    write_tree(recipes, {
        "markupsafe/meta.yaml": f"""\
            package: {{name: markupsafe, version: 3.0.3}}
            source: {{url: {url}, sha256: {MARKUPSAFE_SDIST[2]}}}
            build:
              post: |
                printf '#define MARKUPSAFE_TARGET_BITS %d\\n' 32 > markupsafe/target.h
                echo 'BUILT_FOR = "wasm32"' >> markupsafe/__init__.py
              cross-build-env: true
              cross-build-files: [markupsafe/target.h]
            """,
        "consumer/meta.yaml": """\
            package: {name: consumer, version: "1.0"}
            source: {path: src}
            requirements: {host: [markupsafe], run: [markupsafe]}
            """,
        "consumer/src/pyproject.toml": pyproject("consumer", "1.0"),
        # Runs on the host, in the build environment: the host's MarkupSafe must import
        # (its native C module), and the header must be the one the target wheel shipped.
        "consumer/src/setup.py": """\
            import os
            import markupsafe, markupsafe._speedups
            from setuptools import Extension, setup
            here = os.path.dirname(markupsafe.__file__)
            with open("consumer/host.txt", "w") as out:
                out.write(os.path.basename(markupsafe._speedups.__file__))
            setup(packages=["consumer"], package_data={"consumer": ["host.txt"]},
                  ext_modules=[Extension("consumer._bits", ["consumer/_bits.c"],
                                         include_dirs=[here])])
            """,
        "consumer/src/consumer/__init__.py": "",
        "consumer/src/consumer/_bits.c": """\
            #define PY_SSIZE_T_CLEAN
            #include <Python.h>
            #include "target.h"
            static PyObject *bits(PyObject *self, PyObject *unused) {
                return PyLong_FromLong(MARKUPSAFE_TARGET_BITS);
            }
            static PyMethodDef methods[] = {{"bits", bits, METH_NOARGS, NULL}, {NULL}};
            static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bits", NULL, -1, methods};
            PyMODINIT_FUNC PyInit__bits(void) { return PyModule_Create(&module); }
            """,
    })  # fmt: skip
    report = build_recipes(recipes, PLATFORM, output=tmp_path / "dist")
    outcomes = {o.recipe.name: o for o in report.outcomes}
    assert [o.status for o in report.outcomes] == ["built", "built"], [
        (o.recipe.name, o.failed_step, o.error) for o in report.outcomes
    ]
    markupsafe, consumer = outcomes["markupsafe"].wheel, outcomes["consumer"].wheel
    assert markupsafe is not None and consumer is not None
    assert _read_every_member(markupsafe)["markupsafe/target.h"] == (
        b"#define MARKUPSAFE_TARGET_BITS 32\n"
    )
    # The host's MarkupSafe (from the index, native) was importable while consumer built.
    host = _read_every_member(consumer)["consumer/host.txt"].decode()
    assert host.startswith("_speedups.cpython-313-") and "emscripten" not in host
    log = outcomes["consumer"].log
    assert log is not None and "cross-build files of markupsafe laid over" in log.read_text()
    code = (
        "import markupsafe, consumer._bits\n"
        "f'{markupsafe.BUILT_FOR} {consumer._bits.bits()} {markupsafe.escape(\"<\")}'"
    )
    value = python_value_in_pyodide("2025_0", [markupsafe, consumer], code, cwd=tmp_path)
    assert value == "wasm32 32 &lt;"
