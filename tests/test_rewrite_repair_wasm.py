"""Emscripten repair: side modules built here with emcc, vendored into ``<dist>.libs/``.

The editor is checked on emcc's own output: the edited ``dylink.0`` reads back
in our reader and in LLVM's ``obj2yaml``, and Node's WebAssembly engine still
compiles the module. The proof the issue asks for is a recipe build: a
``shared_library`` recipe makes ``libshout.so``, a C extension recipe links it,
repair vendors the library into ``shouter.libs/`` under its hashed name, the
build directory is deleted, and real Pyodide under Node (0.29 and 0.27) loads the
wheel and calls through the extension into the vendored library.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.audit import check_wheel
from omniwheel.binaries.wasm import WasmModule, parse_wasm
from omniwheel.build import build_recipes
from omniwheel.build.finalize import finalize_wheel
from omniwheel.build.pep517 import BuildStepError
from omniwheel.build.pythons import find_build_python
from omniwheel.cli.main import main
from omniwheel.platforms import parse_platform
from omniwheel.rewrite.repair import repair_wheel
from omniwheel.rewrite.wasm_edit import WasmChanges, WasmEditError, edit_wasm
from omniwheel.wheel import Wheel
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel
from pyodide_runtime import pyodide_dist, python_value_in_pyodide
from recipetrees import pyproject, write_tree
from toolrun import run

pytestmark = pytest.mark.toolchain

BAR_C = "int bar_value(int x) { return x * 7; }\n"
FOO_C = "extern int bar_value(int);\nint foo_value(void) { return bar_value(6); }\n"
EXT_C = (
    "extern int foo_value(void);\nvoid *PyInit__ext(void) { return (void *)(long)foo_value(); }\n"
)
TAG = "pyemscripten_2025_0_wasm32"
EXT = "demo/_ext.cpython-313-wasm32-emscripten.so"
HASHED = re.compile(r"^demo\.libs/lib(foo|bar)-[0-9a-f]{8}\.so$")


@pytest.fixture(scope="session")
def side_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libbar.so, libfoo.so needing it, and an extension needing libfoo.so (emcc)."""
    if shutil.which("emcc") is None:
        pytest.skip("needs emcc (apt-get install emscripten)")
    out = tmp_path_factory.mktemp("wasm-vendor")
    for name, text in (("bar.c", BAR_C), ("foo.c", FOO_C), ("ext.c", EXT_C)):
        (out / name).write_text(text)
    flags = ("-O2", "-sWASM_BIGINT")
    run("emcc", "-sSIDE_MODULE=1", *flags, "bar.c", "-o", "libbar.so", cwd=out)
    run("emcc", "-sSIDE_MODULE=1", *flags, "foo.c", "libbar.so", "-o", "libfoo.so", cwd=out)
    run("emcc", "-sSIDE_MODULE=2", "-sEXPORTED_FUNCTIONS=_PyInit__ext", *flags, "ext.c",
        "libfoo.so", "-o", "_ext.so", cwd=out)  # fmt: skip
    return out


def _module(data: bytes) -> WasmModule:
    module = parse_wasm(data)
    assert module.dylink is not None and module.sections[0].name == "dylink.0"
    return module


def _compiles_in_node(data: bytes, tmp_path: Path) -> None:
    """V8 compiles (validates) the whole module: the edit kept it a valid WebAssembly module."""
    if shutil.which("node") is None:
        pytest.skip("needs Node.js")
    path = tmp_path / "edited.wasm"
    path.write_bytes(data)
    script = f"new WebAssembly.Module(require('fs').readFileSync({json.dumps(str(path))}))"
    subprocess.run(["node", "-e", script], check=True, capture_output=True)


def _obj2yaml_needed(data: bytes, tmp_path: Path) -> list[str]:
    """LLVM's reading of the needed list (obj2yaml skips subsections it does not know)."""
    tool = shutil.which("obj2yaml-14") or shutil.which("obj2yaml")
    if tool is None:
        pytest.skip("needs obj2yaml (llvm-14)")
    path = tmp_path / "edited-llvm.wasm"
    path.write_bytes(data)
    text = subprocess.run([tool, str(path)], check=True, capture_output=True, text=True).stdout
    block = text.split("Needed:", 1)[1].split("  - Type:", 1)[0]
    return re.findall(r"^\s+- (\S+)$", block, re.MULTILINE)


def test_edit_renames_needed_and_sets_runtime_path(side_modules: Path, tmp_path: Path) -> None:
    original = (side_modules / "libfoo.so").read_bytes()
    assert _module(original).needed == ("libbar.so",)
    edited = edit_wasm(original, WasmChanges(
        needed={"libbar.so": "libbar-0123abcd.so"}, runtime_path=["$ORIGIN/../demo.libs"],
    ))  # fmt: skip
    module = _module(edited)
    assert module.needed == ("libbar-0123abcd.so",)
    assert module.dylink is not None and module.dylink.runtime_path == ("$ORIGIN/../demo.libs",)
    # Everything after dylink.0 is the original's bytes, moved.
    before, after = _module(original).sections, module.sections
    shift = after[1].offset - before[1].offset
    assert [(s.id, s.name, s.size, s.offset - shift) for s in after[1:]] == [
        (s.id, s.name, s.size, s.offset) for s in before[1:]
    ]
    assert edited[after[1].offset - 2 :] == original[before[1].offset - 2 :]
    assert _obj2yaml_needed(edited, tmp_path) == ["libbar-0123abcd.so"]
    _compiles_in_node(edited, tmp_path)
    # Replacing and then removing the runtime path; the memory info stays as emcc wrote it.
    again = edit_wasm(edited, WasmChanges(runtime_path=["$ORIGIN"]))
    assert _module(again).dylink == dataclasses.replace(module.dylink, runtime_path=("$ORIGIN",))
    removed = edit_wasm(again, WasmChanges(runtime_path=[]))
    assert _module(removed).dylink == dataclasses.replace(module.dylink, runtime_path=())
    assert edit_wasm(original, WasmChanges()) is original


def test_edit_refuses_what_it_cannot_edit(side_modules: Path) -> None:
    plain = b"\0asm\x01\0\0\0"  # a module without dylink.0: not a side module
    with pytest.raises(WasmEditError, match="is not an Emscripten side module"):
        edit_wasm(plain, WasmChanges(needed={"a.so": "b.so"}))
    with pytest.raises(WasmEditError, match="not a WebAssembly module"):
        edit_wasm(b"\x7fELF", WasmChanges(runtime_path=[]))
    with pytest.raises(WasmEditError, match=r"does not need libnope\.so"):
        edit_wasm((side_modules / "libfoo.so").read_bytes(),
                  WasmChanges(needed={"libnope.so": "x.so"}))  # fmt: skip


def test_repair_vendors_side_modules_into_dist_libs(
    side_modules: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    wheel = make_wheel(f"demo-1.0-cp313-cp313-{TAG}.whl",
                       {EXT: (side_modules / "_ext.so").read_bytes()}, purelib=False)  # fmt: skip
    report = repair_wheel(wheel, tmp_path / "out", lib_path=[side_modules])
    assert report.status == "repaired" and report.missing == []
    copies = {lib.name: lib.member for lib in report.vendored}
    assert set(copies) == {"libfoo.so", "libbar.so"}
    assert all(HASHED.match(member or "") for member in copies.values()), copies
    foo, bar = copies["libfoo.so"], copies["libbar.so"]
    assert foo is not None and bar is not None
    with Wheel.open(Path(report.output or "")) as repaired:
        members = {m.name: repaired.read_bytes(m.name) for m in repaired.members()}
    ext = _module(members[EXT])
    assert ext.needed == (foo.rsplit("/", 1)[1],)
    assert ext.dylink is not None and ext.dylink.runtime_path == ("$ORIGIN/../demo.libs",)
    copy = _module(members[foo])
    assert copy.needed == (bar.rsplit("/", 1)[1],)
    assert copy.dylink is not None and copy.dylink.runtime_path == ("$ORIGIN",)
    assert _module(members[bar]).needed == ()
    # The copy's name carries its content's hash: the edited libfoo is not the original.
    assert members[bar] == (side_modules / "libbar.so").read_bytes()
    for data in (members[EXT], members[foo]):
        _compiles_in_node(data, tmp_path)
    assert not check_wheel(Path(report.output or "")).has_errors
    rewritten = {r.member: (r.references, r.search_path) for r in report.rewritten}
    assert rewritten[EXT] == ({"libfoo.so": foo.rsplit("/", 1)[1]}, "$ORIGIN/../demo.libs")


def test_repair_cli_json_for_emscripten(
    side_modules: Path, make_wheel: Callable[..., Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    wheel = make_wheel(f"demo-1.0-cp313-cp313-{TAG}.whl",
                       {EXT: (side_modules / "_ext.so").read_bytes()}, purelib=False)  # fmt: skip
    missing = main(["repair", str(wheel), "-w", str(tmp_path / "a"), "--json"])
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    assert missing == 1 and "cannot find libfoo.so" in entry["error"]
    status = main(["repair", str(wheel), "--lib-path", str(side_modules), "-w",
                   str(tmp_path / "b"), "--json"])  # fmt: skip
    (entry,) = json.loads(capsys.readouterr().out)["wheels"]
    assert status == 0 and entry["status"] == "repaired"
    assert sorted(item["library"] for item in entry["vendored"]) == ["libbar.so", "libfoo.so"]


# --- the proof: a shared_library recipe, vendored, loaded by Pyodide ----------------------------

RECIPES = {
    "libshout/meta.yaml": """\
        package: {name: libshout, version: "1.0"}
        source: {path: src}
        build:
          type: shared_library
          script: |
            $CC -O2 -shared shout.c -o libshout.so
            mkdir -p $WASM_LIBRARY_DIR/lib
            cp libshout.so $WASM_LIBRARY_DIR/lib/
        """,
    "libshout/src/shout.c": "int shout_level(void) { return 11; }\n",
    "shouter/meta.yaml": """\
        package: {name: shouter, version: "1.0"}
        source: {path: src}
        requirements: {host: [libshout]}
        """,
    "shouter/src/pyproject.toml": pyproject("shouter", "1.0"),
    "shouter/src/setup.py": """\
        import os
        from setuptools import Extension, setup
        library = os.path.join(os.environ["WASM_LIBRARY_DIR"], "lib", "libshout.so")
        setup(packages=["shouter"], ext_modules=[
            Extension("shouter._shout", ["shouter/_shout.c"], extra_objects=[library])])
        """,
    "shouter/src/shouter/__init__.py": "",
    "shouter/src/shouter/_shout.c": """\
        #define PY_SSIZE_T_CLEAN
        #include <Python.h>
        int shout_level(void);
        static PyObject *level(PyObject *self, PyObject *unused) {
            return PyLong_FromLong(shout_level());
        }
        static PyMethodDef methods[] = {{"level", level, METH_NOARGS, NULL}, {NULL}};
        static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_shout", NULL, -1, methods};
        PyMODINIT_FUNC PyInit__shout(void) { return PyModule_Create(&module); }
        """,
}


@pytest.mark.parametrize("abi", ["2025_0", "2024_0"])
def test_vendored_side_module_loads_in_pyodide(tmp_path: Path, abi: str) -> None:
    platform = parse_platform(f"pyodide-{abi.replace('_', '.')}")
    if shutil.which("emcc") is None:
        pytest.skip("needs emcc (apt-get install emscripten)")
    if find_build_python(platform.python) is None:
        pytest.skip(f"needs a host CPython {platform.python.dotted} (on PATH or pyenv)")
    recipes = tmp_path / "recipes"
    write_tree(recipes, RECIPES)
    output = tmp_path / "dist"
    report = build_recipes(recipes, platform, output=output)
    outcomes = {o.recipe.name: o for o in report.outcomes}
    shouter = outcomes["shouter"]
    assert shouter.status == "built", (shouter.failed_step, shouter.error)
    assert shouter.wheel is not None
    with Wheel.open(shouter.wheel) as wheel:
        names = [m.name for m in wheel.members()]
        [copy] = [n for n in names if n.startswith("shouter.libs/")]
        py = platform.python.dotted.replace(".", "")
        extension = _module(wheel.read_bytes(f"shouter/_shout.cpython-{py}-wasm32-emscripten.so"))
    assert re.fullmatch(r"shouter\.libs/libshout-[0-9a-f]{8}\.so", copy)
    assert not any(n.endswith("/libshout.so") or n == "libshout.so" for n in names)
    assert extension.needed == (copy.split("/")[1],)
    # The original library is gone: the build's work directory and host prefix are deleted.
    assert not list((output / ".omniwheel-build").glob("*/work/*/prefix/lib/libshout.so"))
    code = "import shouter._shout\nstr(shouter._shout.level())"
    assert python_value_in_pyodide(abi, [shouter.wheel], code, cwd=tmp_path) == "11"
    if abi == "2025_0":
        _runtime_path_is_what_pyodide_029_follows(shouter.wheel, extension, tmp_path)


def _runtime_path_is_what_pyodide_029_follows(
    wheel: Path, extension: WasmModule, tmp_path: Path
) -> None:
    """Without RUNTIME_PATH, Pyodide 0.29 does not find the copy in ``<dist>.libs/``.

    (Pyodide 0.27 loads every library of a package globally first, so there the
    needed name resolves wherever the copy is.)
    """
    name = "shouter/_shout.cpython-313-wasm32-emscripten.so"
    (tmp_path / "bare").mkdir()
    with Wheel.open(wheel) as opened:
        stripped = edit_wasm(opened.read_bytes(name), WasmChanges(runtime_path=[]))
        bare = rewrite_wheel(opened, WheelChanges(files={name: stripped}),
                             tmp_path / "bare" / wheel.name)  # fmt: skip
    script = tmp_path / "bare.mjs"
    module = (pyodide_dist("2025_0") / "pyodide.mjs").as_uri()
    script.write_text(
        f"import {{ loadPyodide }} from {json.dumps(module)};\n"
        "const pyodide = await loadPyodide();\n"
        f"await pyodide.loadPackage({json.dumps(str(bare))});\n"
        "pyodide.runPython('import shouter._shout');\n"
    )
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=180)
    assert result.returncode != 0
    assert f'Failed to find dynamic library "{extension.needed[0]}"' in result.stderr


def test_build_names_a_side_module_found_nowhere(
    side_modules: Path, make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """The build's repair step says it in a build's terms (recipes), not repair's options."""
    wheel = make_wheel(f"demo-1.0-cp313-cp313-{TAG}.whl",
                       {EXT: (side_modules / "_ext.so").read_bytes()}, purelib=False)  # fmt: skip
    with pytest.raises(BuildStepError) as raised:
        finalize_wheel(wheel, parse_platform(TAG, python="3.13"), [tmp_path], tmp_path / "w")
    assert raised.value.step == "repair"
    assert str(raised.value) == (
        f"repair: {wheel.name}: {EXT} needs libfoo.so, which the wheel does not ship, "
        "Emscripten (Pyodide) does not provide and no recipe in requirements/host installs: "
        "build it with a static_library recipe (linked in) or a shared_library recipe, named "
        "in requirements/host"
    )
    assert not list((tmp_path / "w").rglob("*.whl"))
