"""The pyodide layout under real Pyodide (Node), one pinned release per ABI.

Each tree holds a binary wheel from the index where one exists for the ABI
(no ``pyemscripten_2024_0`` wheel is published: the index accepts these tags
only since 2026, after Pyodide 0.27), and pure dependencies Pyodide's npm
package does not ship.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from omniwheel.cli.main import main
from pyodide_runtime import PYODIDE_FOR_ABI, run_pyodide

pytestmark = pytest.mark.network

TREES = {
    "2024_0": (["attrs"], "import attrs; print(attrs.define.__module__)", "attr._next_gen"),
    "2025_0": (
        ["msgpack", "attrs"],
        "import msgpack, attrs; print(msgpack.unpackb(msgpack.packb([1, 'x'])))",
        "[1, 'x']",
    ),
    "2026_0": (
        ["pydantic", "msgpack"],
        "import pydantic, msgpack\n"
        "class M(pydantic.BaseModel):\n    x: int\n"
        "print(M(x='3').x + msgpack.unpackb(msgpack.packb(4)))",
        "7",
    ),
}


@pytest.mark.parametrize("abi", sorted(TREES))
def test_pyodide_loads_the_tree(served_index: tuple[str, object], tmp_path: Path, abi: str) -> None:
    url, _ = served_index
    requirements, code, expected = TREES[abi]
    packages = tmp_path / "packages"
    assert (
        main(
            [
                "install",
                *requirements,
                "--platform",
                f"pyodide-{abi.replace('_', '.')}",
                "--index-url",
                url,
                "--cache-dir",
                str(tmp_path / "cache"),
                "--into",
                str(packages),
                "--pyodide-version",
                PYODIDE_FOR_ABI[abi],
            ]
        )
        == 0
    )
    lock = json.loads((packages / "pyodide-lock.json").read_text())
    assert lock["info"]["abi_version"] == abi
    assert {entry["file_name"] for entry in lock["packages"].values()} == {
        path.name for path in packages.glob("*.whl")
    }
    lock_url = json.dumps(str(packages / "pyodide-lock.json"))
    body = f"""// custom-load
const pyodide = await loadPyodide({{lockFileURL: {lock_url},
                                   packageCacheDir: {json.dumps(str(packages))}}});
await pyodide.loadPackage({json.dumps(requirements)});
pyodide.runPython({json.dumps(code)});
"""
    out = run_pyodide(abi, body, cwd=tmp_path)
    assert out.strip().splitlines()[-1] == expected
    loaded = [line for line in out.splitlines() if line.startswith("Loaded ")]
    assert loaded and set(loaded[-1].removeprefix("Loaded ").split(", ")) == set(lock["packages"])


def _install(tmp_path: Path, into: Path, platform: str, *arguments: Path | str) -> int:
    """``omniwheel install`` of local wheels (no index) for ``platform``; the exit status."""
    command = ["install", *map(str, arguments), "--platform", platform, "--no-index"]
    return main([*command, "--cache-dir", str(tmp_path / "cache"), "--into", str(into)])


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_another_abi_into_the_same_directory_is_refused(
    make_wheel: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lock lists one ABI's packages: adding another ABI's would load binaries that cannot
    run. The directory is left as it was."""
    into = tmp_path / "packages"
    demo = make_wheel("demo-1.0-py3-none-any.whl")
    assert _install(tmp_path, into, "pyodide-2026.0", demo) == 0
    before = _files(into)
    other = make_wheel("other-1.0-py3-none-any.whl", {"other/__init__.py": b""})
    capsys.readouterr()
    assert _install(tmp_path, into, "pyodide-2025.0", other) == 2
    assert capsys.readouterr().err == (
        f"omniwheel: error: {into} holds Pyodide packages for ABI 2026_0 (pyodide-lock.json); "
        "install for ABI 2025_0 into another directory\n"
    )
    assert _files(into) == before


def test_another_abi_is_refused_before_resolving(
    make_wheel: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The directory's ABI is checked before anything is resolved or fetched: a requirement
    no source has would fail the resolution, and here it is never asked for."""
    into = tmp_path / "packages"
    assert _install(tmp_path, into, "pyodide-2026.0", make_wheel("demo-1.0-py3-none-any.whl")) == 0
    capsys.readouterr()
    assert _install(tmp_path, into, "pyodide-2025.0", "not-on-any-index") == 2
    assert capsys.readouterr().err == (
        f"omniwheel: error: {into} holds Pyodide packages for ABI 2026_0 (pyodide-lock.json); "
        "install for ABI 2025_0 into another directory\n"
    )


def test_upgrade_removes_the_replaced_wheel(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """The wheel of a package's earlier version goes with its lock entry; files the earlier
    lock did not name stay."""
    into = tmp_path / "packages"
    old = make_wheel("demo-1.0-py3-none-any.whl")
    assert _install(tmp_path, into, "pyodide-2025.0", old) == 0
    (into / "mine-1.0-py3-none-any.whl").write_bytes(b"the user's own")
    new = make_wheel("demo-2.0-py3-none-any.whl")
    assert _install(tmp_path, into, "pyodide-2025.0", new) == 0
    assert sorted(_files(into)) == [
        "demo-2.0-py3-none-any.whl",
        "mine-1.0-py3-none-any.whl",
        "pyodide-lock.json",
    ]
    lock = json.loads((into / "pyodide-lock.json").read_text())
    assert lock["packages"]["demo"]["file_name"] == "demo-2.0-py3-none-any.whl"


def test_imports_include_data_purelib_and_platlib(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """Without top_level.txt, imports are read from RECORD: modules installed from
    ``.data/purelib`` and ``.data/platlib`` are top-level imports too, other ``.data``
    files are not."""
    wheel = make_wheel(
        "platty-1.0-py3-none-any.whl",
        {
            "platty/__init__.py": b"",
            "platty-1.0.data/purelib/platty_pure.py": b"",
            "platty-1.0.data/platlib/platty_plat/__init__.py": b"",
            "platty-1.0.data/data/share/platty_data.py": b"",
            "platty-1.0.data/scripts/platty_tool.py": b"",
        },
        purelib=False,
    )
    into = tmp_path / "packages"
    assert _install(tmp_path, into, "pyodide-2025.0", wheel) == 0
    lock = json.loads((into / "pyodide-lock.json").read_text())
    assert lock["packages"]["platty"]["imports"] == ["platty", "platty_plat", "platty_pure"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not JSON (Expecting property name enclosed in double quotes: "
         "line 1 column 2 (char 1))"),
        ("[1, 2]", 'is an array, not an object with "info" and "packages"'),
        ('{"packages": []}', 'has "packages" an array, not an object of entries by name'),
        ('{"info": "x"}', 'has "info" a string, not an object'),
        ('{"info": {"version": 27}}', 'has "info" "version" a number, not a string'),
        ('{"packages": {"demo": {"name": "demo"}}}',
         "has a \"packages\" entry 'demo' without a \"file_name\" string"),
    ],
    ids=["not-json", "array", "packages-array", "info-string", "version-number", "no-file-name"],
)  # fmt: skip
def test_a_lock_of_another_shape_is_refused(
    make_wheel: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    problem: str,
) -> None:
    """An install adds to the directory's pyodide-lock.json: one that is not a Pyodide
    lock is a one-line error naming it, and nothing is written."""
    into = tmp_path / "packages"
    into.mkdir()
    (into / "pyodide-lock.json").write_text(text)
    demo = make_wheel("demo-1.0-py3-none-any.whl")
    assert _install(tmp_path, into, "pyodide-2025.0", demo) == 2
    assert capsys.readouterr().err == (
        f"omniwheel: error: {into / 'pyodide-lock.json'} {problem}; an install adds to a "
        "Pyodide lock: fix it, or move it away to start a fresh one\n"
    )
    assert _files(into) == {"pyodide-lock.json": text.encode()}


def test_a_later_install_keeps_the_pyodide_version(
    make_wheel: Callable[..., Path], tmp_path: Path
) -> None:
    """Pyodide 0.26 and 0.27 refuse a lock naming no version: an install without
    --pyodide-version keeps the one an earlier install wrote; a new one replaces it."""
    into = tmp_path / "packages"
    demo = make_wheel("demo-1.0-py3-none-any.whl")
    other = make_wheel("other-1.0-py3-none-any.whl", {"other/__init__.py": b""})
    versions = []
    for arguments in (
        [demo, "--pyodide-version", "0.26.4"],
        [other],
        [demo, "--pyodide-version", "0.27.7"],
    ):
        assert _install(tmp_path, into, "pyodide-2024.0", *arguments) == 0
        versions.append(json.loads((into / "pyodide-lock.json").read_text())["info"]["version"])
    assert versions == ["0.26.4", "0.26.4", "0.27.7"]


def test_a_wheel_of_the_users_is_not_replaced(
    make_wheel: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheel file the lock does not list is the user's: an install that would replace it
    (and a later upgrade delete it) is refused; one the lock lists is replaced."""
    into = tmp_path / "packages"
    into.mkdir()
    (into / "demo-1.0-py3-none-any.whl").write_bytes(b"the user's own")
    demo = make_wheel("demo-1.0-py3-none-any.whl")
    assert _install(tmp_path, into, "pyodide-2025.0", demo) == 2
    assert capsys.readouterr().err == (
        f"omniwheel: error: {into} holds 1 file(s) no installed distribution lists that this "
        "install would replace (demo-1.0-py3-none-any.whl); move them away or install into "
        "another directory\n"
    )
    assert _files(into) == {"demo-1.0-py3-none-any.whl": b"the user's own"}
    (into / "demo-1.0-py3-none-any.whl").unlink()
    for _ in range(2):
        assert _install(tmp_path, into, "pyodide-2025.0", demo) == 0
    assert (into / "demo-1.0-py3-none-any.whl").read_bytes() == demo.read_bytes()
