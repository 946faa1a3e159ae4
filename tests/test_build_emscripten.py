"""Cross-building for Pyodide from recipes, proven in real Pyodide 0.29 under Node.

One recipe tree is built once per session at -j2 with Debian's emcc and a
host CPython 3.13 (whose headers become the target's): MarkupSafe's real sdist
from the index (its C module ``_speedups``), a static library linked by a C
extension recipe, a pure-Python recipe that needs MarkupSafe at run time, a
broken recipe with a dependent, and an extension linking a side module that no
recipe provides (refused at the repair step). Every wheel's imports ran in
Pyodide during the build; the tests below check the outcome, the wheels
themselves, a second build that rebuilds nothing, and what is refused up front.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import MakeWheel
from omniwheel.audit import check_wheel
from omniwheel.build import (
    BuildReport,
    MissingToolchainError,
    Outcome,
    PyodideRuntime,
    build_recipes,
)
from omniwheel.build.pythons import find_build_python
from omniwheel.build.toolchains.cc_wrapper import drop_host_flags, side_module_flags
from omniwheel.build.toolchains.emscripten import settings
from omniwheel.cli.main import main
from omniwheel.errors import UsageError
from omniwheel.files import default_cache_dir, file_sha256
from omniwheel.platforms import parse_platform
from pyodide_runtime import pyodide_dist, python_value_in_pyodide
from recipetrees import chain_recipes, extension_setup, pyproject, sdist_url, write_tree

PLATFORM = parse_platform("pyodide-2025.0")


def test_wrapper_drops_host_flags_and_threads() -> None:
    host = "/opt/python3.13"
    arguments = ["-I/opt/python3.13/include/python3.13", "-I", "/opt/python3.13/include",
                 "-Iinclude", "-L/opt/python3.13/lib", "-Wl,-rpath,/opt/python3.13/lib",
                 "-pthread", "-I/opt/python3.13x/include", "-c", "x.c"]  # fmt: skip
    assert drop_host_flags(arguments, [host]) == [
        "-Iinclude", "-I/opt/python3.13x/include", "-c", "x.c",
    ]  # fmt: skip


def test_wrapper_exports() -> None:
    assert side_module_flags(["spam", "eggs"], [], ["emnm"]) == [
        "-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=_spam,_eggs",
    ]  # fmt: skip
    assert side_module_flags("requested", [], ["emnm"]) == ["-sSIDE_MODULE=1"]
    # No object defines PyInit_*: a plain shared library keeps every symbol.
    assert side_module_flags("pyinit", ["missing.o"], ["emnm"]) == ["-sSIDE_MODULE=1"]


# --- the recipe tree, built once with the real toolchain --------------------------------------


def _need_toolchain() -> Path:
    if subprocess.run(["sh", "-c", "command -v emcc"], capture_output=True).returncode != 0:
        pytest.skip("needs Emscripten's emcc (apt-get install emscripten)")
    python = find_build_python(PLATFORM.python)
    if python is None:
        pytest.skip("needs a host CPython 3.13 (python3.13 on PATH or pyenv)")
    return python.executable


def make_tree(root: Path, url: str) -> Path:
    recipes = root / "recipes"
    write_tree(recipes, {
        **chain_recipes(url),
        "greeter/omniwheel_test.py": """\
            from greeter import _greet
            said = _greet.greet("wasm")
            assert said == "hello, wasm, from libgreet (32-bit long)", said
            """,
        "purely/meta.yaml": """\
            package: {name: purely, version: "1.2"}
            source: {path: src}
            requirements: {run: [markupsafe]}
            test: {imports: [purely]}
            """,
        "purely/omniwheel_test.py": """\
            import purely
            assert purely.shout("<hi>") == "&lt;HI&gt;"
            """,
        "purely/src/pyproject.toml": pyproject("purely", "1.2", 'dependencies = ["markupsafe"]'),
        "purely/src/purely/__init__.py": """\
            from markupsafe import escape
            def shout(text):
                return str(escape(text.upper()))
            """,
        "broken/meta.yaml": """\
            package: {name: broken, version: "0.0.1"}
            source: {path: src}
            """,
        "broken/src/pyproject.toml": pyproject("broken", "0.0.1"),
        "broken/src/setup.py": """\
            from setuptools import Extension, setup
            setup(ext_modules=[Extension("broken", ["broken.c"])])
            """,
        "broken/src/broken.c": "this is not C;\n",
        "needsbroken/meta.yaml": """\
            package: {name: needsbroken, version: "1.0"}
            source: {path: src}
            requirements: {run: [broken]}
            """,
        # Links a side module its script builds but no recipe installs: it could not load.
        "needsside/meta.yaml": """\
            package: {name: needsside, version: "1.0"}
            source: {path: src}
            build: {script: $CC -shared shout.c -o libshout.so}
            test: {imports: [needsside._shout]}
            """,
        "needsside/src/shout.c": "int shout_level(void) { return 11; }\n",
        "needsside/src/pyproject.toml": pyproject("needsside", "1.0"),
        "needsside/src/setup.py": extension_setup(
            "needsside", "_shout", extra_objects=["libshout.so"]
        ),
        "needsside/src/needsside/__init__.py": "",
        "needsside/src/needsside/_shout.c": """\
            #define PY_SSIZE_T_CLEAN
            #include <Python.h>
            int shout_level(void);
            static PyObject *level(PyObject *self, PyObject *unused) {
                return PyLong_FromLong(shout_level());
            }
            static PyMethodDef methods[] = {
                {"level", level, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
            static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_shout", NULL, -1, methods};
            PyMODINIT_FUNC PyInit__shout(void) { return PyModule_Create(&module); }
            """,
    })  # fmt: skip
    return recipes


class Built:
    def __init__(self, recipes: Path, output: Path, first: BuildReport) -> None:
        self.recipes, self.output, self.first = recipes, output, first


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    _need_toolchain()
    root = tmp_path_factory.mktemp("build-tree")
    recipes = make_tree(root, sdist_url(default_cache_dir() / "test-sdists"))
    runtime = PyodideRuntime(pyodide_dist("2025_0"))
    report = build_recipes(recipes, PLATFORM, output=root / "dist", jobs=2, runtime=runtime)
    yield Built(recipes, root / "dist", report)


def _outcome(report: BuildReport, name: str) -> Outcome:
    return next(o for o in report.outcomes if o.recipe.name == name)


@pytest.mark.toolchain
@pytest.mark.network
def test_markupsafe_speedups_built_checked_and_tested_in_pyodide(built: Built) -> None:
    outcome = _outcome(built.first, "markupsafe")
    assert outcome.status == "built", outcome.error
    assert outcome.tested == "passed"  # imports and omniwheel_test.py ran in Pyodide 0.29
    wheel = outcome.wheel
    assert wheel.name == "markupsafe-3.0.3-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    report = check_wheel(wheel, [PLATFORM])
    assert not report.has_errors and [v.status for v in report.verdicts] == ["ok"]
    [item] = report.binaries
    assert item.member == "markupsafe/_speedups.cpython-313-wasm32-emscripten.so"
    facts = item.binary.to_json()
    # exports: pyinit (the default) linked it with -sSIDE_MODULE=2 exporting only PyInit.
    assert facts["is_side_module"] and facts["pyinit_exports"] == ["PyInit__speedups"]


@pytest.mark.toolchain
@pytest.mark.network
def test_markupsafe_c_module_runs_in_real_pyodide(built: Built, tmp_path: Path) -> None:
    wheel = _outcome(built.first, "markupsafe").wheel
    code = (
        "import markupsafe._speedups as s\n"
        "s.__file__.rsplit('/', 1)[1] + ' ' + s._escape_inner('1 < 2 & \"3\"')"
    )
    assert python_value_in_pyodide("2025_0", [wheel], code, cwd=tmp_path) == (
        "_speedups.cpython-313-wasm32-emscripten.so 1 &lt; 2 &amp; &#34;3&#34;"
    )


@pytest.mark.toolchain
@pytest.mark.network
def test_static_library_recipe_is_linked_by_the_extension_recipe(built: Built) -> None:
    library = _outcome(built.first, "libgreet")
    assert library.status == "built" and library.wheel is None
    assert sorted(p.name for p in library.library.rglob("*") if p.is_file()) == [
        "greet.h", "libgreet.a",
    ]  # fmt: skip
    greeter = _outcome(built.first, "greeter")
    assert greeter.status == "built" and greeter.tested == "passed", greeter.error
    # The library's code is inside the side module: 32-bit long proves it is wasm32 code.
    assert greeter.wheel.name == "greeter-0.1-cp313-cp313-pyemscripten_2025_0_wasm32.whl"


@pytest.mark.toolchain
@pytest.mark.network
def test_pure_recipe_is_tested_with_its_run_requirement(built: Built) -> None:
    purely = _outcome(built.first, "purely")
    assert purely.status == "built" and purely.tested == "passed", purely.error
    assert purely.wheel.name == "purely-1.2-py3-none-any.whl"
    order = [o.recipe.name for o in built.first.outcomes]
    assert order.index("markupsafe") < order.index("purely")
    assert order.index("libgreet") < order.index("greeter")


@pytest.mark.toolchain
@pytest.mark.network
def test_failure_names_the_step_keeps_the_log_and_skips_dependents(built: Built) -> None:
    broken = _outcome(built.first, "broken")
    assert broken.status == "failed"
    assert broken.failed_step == "build wheel (PEP 517 backend)"
    log = broken.log.read_text()
    assert "broken.c" in log and "error" in log.lower()
    assert "FAILED at step 'build wheel (PEP 517 backend)'" in log
    needs = _outcome(built.first, "needsbroken")
    assert needs.status == "skipped" and "broken failed" in needs.error
    assert not built.first.ok


@pytest.mark.toolchain
@pytest.mark.network
def test_side_module_no_recipe_provides_fails_at_repair(built: Built) -> None:
    outcome = _outcome(built.first, "needsside")
    assert outcome.status == "failed" and outcome.failed_step == "repair"
    assert outcome.error is not None and "\n" not in outcome.error
    assert outcome.error.startswith(
        "repair: needsside-1.0-cp313-cp313-emscripten_4_0_9_wasm32.whl: "
        "needsside/_shout.cpython-313-wasm32-emscripten.so needs libshout.so, which the wheel "
        "does not ship"
    )
    assert "FAILED at step 'repair'" in outcome.log.read_text()
    assert not list(built.output.glob("needsside-*.whl"))  # nothing published


@pytest.mark.toolchain
@pytest.mark.network
def test_second_build_rebuilds_nothing(built: Built) -> None:
    before = {p.name: (file_sha256(p), p.stat().st_mtime_ns) for p in built.output.glob("*.whl")}
    events: list[tuple[str, str]] = []
    good = ["markupsafe", "libgreet", "greeter", "purely"]
    again = build_recipes(
        built.recipes, PLATFORM, packages=good, output=built.output, jobs=2,
        runtime=PyodideRuntime(pyodide_dist("2025_0")),
        on_event=lambda name, status: events.append((name, status)),
    )  # fmt: skip
    assert sorted(events) == sorted((name, "cached") for name in good)
    assert {o.status for o in again.outcomes} == {"cached"} and again.ok
    after = {p.name: (file_sha256(p), p.stat().st_mtime_ns) for p in built.output.glob("*.whl")}
    assert after == before


@pytest.mark.toolchain
@pytest.mark.network
def test_changed_recipe_rebuilds_it_and_its_dependents_only(
    built: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    copy = tmp_path_factory.mktemp("changed")
    recipes = copy / "recipes"
    shutil.copytree(built.recipes, recipes)
    output = copy / "dist"
    shutil.copytree(built.output, output)
    # Only libgreet changes: greeter is rebuilt because its key holds libgreet's key.
    # (No runtime here, so greeter's omniwheel_test.py, which expects "hello", is not run.)
    source = recipes / "libgreet" / "src" / "greet.c"
    source.write_text(source.read_text().replace("hello, %s", "hi, %s"))
    report = build_recipes(recipes, PLATFORM, packages=["greeter", "purely"], output=output)
    assert {o.recipe.name: o.status for o in report.outcomes} == {
        "libgreet": "built", "greeter": "built", "markupsafe": "cached", "purely": "cached",
    }  # fmt: skip


@pytest.mark.toolchain
@pytest.mark.network
def test_wheel_cached_untested_is_tested_once_a_runtime_can_run_its_script(
    tmp_path: Path, make_wheel: MakeWheel
) -> None:
    """A recipe tested only by omniwheel_test.py: its untested cache entry does not count."""
    _need_toolchain()
    wheel = make_wheel("scripted-1.0-py3-none-any.whl", {"scripted/__init__.py": b"ANSWER = 42\n"})
    recipes = tmp_path / "recipes"
    write_tree(recipes, {
        "scripted/meta.yaml": f"""\
            package: {{name: scripted, version: "1.0"}}
            source: {{url: "{wheel.as_uri()}", sha256: {file_sha256(wheel)}}}
            """,
        "scripted/omniwheel_test.py": "import scripted\nassert scripted.ANSWER == 42\n",
    })  # fmt: skip

    def build(runtime: PyodideRuntime | None) -> tuple[str, str]:
        report = build_recipes(recipes, PLATFORM, output=tmp_path / "dist", runtime=runtime,
                               source_cache=tmp_path / "sources")  # fmt: skip
        [outcome] = report.outcomes
        return outcome.status, outcome.tested

    assert build(None) == ("built", "not-run")
    runtime = PyodideRuntime(pyodide_dist("2025_0"))
    assert build(runtime) == ("built", "passed")
    assert build(runtime) == ("cached", "passed")


@pytest.mark.toolchain
def test_wasm32_pyconfig_table_matches_the_compiler(built: Built, tmp_path: Path) -> None:
    include = built.output / ".omniwheel-build" / PLATFORM.wheel_tag / "target" / "include"
    include = include / f"python{PLATFORM.python.dotted}"
    rows = settings()["pyconfig"]
    program = "#include <Python.h>\n#include <stdint.h>\n#include <pthread.h>\n#include <wchar.h>\n"
    program += "".join(
        f"_Static_assert({macro} == {row['value']} && {row['expression']} == {row['value']}, "
        f'"{macro}");\n'
        for macro, row in rows.items()
    )
    source = tmp_path / "sizes.c"
    source.write_text(program)
    result = subprocess.run(
        ["emcc", f"-I{include}", "-c", str(source), "-o", str(tmp_path / "sizes.o")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.toolchain
@pytest.mark.network
def test_cli_build_json_reports_unchanged_recipes(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["build", str(built.recipes), "greeter", "--platform",
                   "pyemscripten_2025_0_wasm32", "-o", str(built.output), "--json"])  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["platform"]["wheel_tag"] == "pyemscripten_2025_0_wasm32"
    assert [(p["name"], p["type"], p["status"]) for p in document["packages"]] == [
        ("libgreet", "static_library", "cached"), ("greeter", "package", "cached"),
    ]  # fmt: skip
    assert document["cached"] == 2 and document["failed"] == 0
    assert document["packages"][1]["wheel"].endswith("pyemscripten_2025_0_wasm32.whl")


@pytest.mark.toolchain
@pytest.mark.network
def test_cli_build_failure_exit_status_and_message(
    built: Built, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["build", str(built.recipes), "needsbroken", "--platform", "pyodide-2025.0",
                   "-o", str(built.output)])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 1
    assert "broken failed at 'build wheel (PEP 517 backend)'" in captured.err
    assert "broken.log" in captured.err


def test_missing_toolchain_is_reported_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipes = tmp_path / "recipes"
    meta = "package: {name: x, version: '1'}\nsource: {path: src}\n"
    write_tree(recipes, {"x/meta.yaml": meta + "requirements: {executable: [no-such-tool-here]}\n"})
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    with pytest.raises(MissingToolchainError) as caught:
        build_recipes(recipes, PLATFORM, output=tmp_path / "out")
    message = str(caught.value)
    assert "Emscripten's emcc" in message and "apt-get install emscripten" in message
    assert "CPython 3.13" in message and "--build-python" in message
    assert "no-such-tool-here" in message
    assert not (tmp_path / "out").exists()  # nothing was half-built


def test_build_python_of_the_wrong_version_is_refused(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_tree(recipes, {"x/meta.yaml": "package: {name: x, version: '1'}\nsource: {path: src}\n"})
    # A target whose CPython is not the one running the tests (3.12 and 3.13 differ).
    platform = next(
        target
        for target in (PLATFORM, parse_platform("pyodide-2024.0"))
        if target.python.version != sys.version_info[:2]
    )
    with pytest.raises(UsageError, match=rf"not a runnable CPython {platform.python.dotted}$"):
        build_recipes(recipes, platform, output=tmp_path / "o", build_python=Path(sys.executable))
