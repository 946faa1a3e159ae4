"""The ``__init__.py`` patch that makes Windows find vendored DLLs, run by this Python.

``os.add_dll_directory`` exists only on Windows, so each patched file is executed
here with a stand-in that records the directory it is given: what is under test is
the patch (where it goes, what it computes, that it leaves the module intact), not
the Windows call, which ``test_rewrite_repair_pe`` exercises under Wine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omniwheel.rewrite.dll_directory import (
    END,
    START,
    DllDirectoryError,
    init_files,
    patch_init,
    site_path,
)


def _run(
    source: bytes, path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, object], list[str]]:
    """Execute ``source`` as the module at ``path``; its globals and the directories added."""
    added: list[str] = []
    monkeypatch.setattr(os, "add_dll_directory", added.append, raising=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source)
    namespace: dict[str, object] = {"__file__": str(path), "__name__": "demo"}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace, added


@pytest.mark.parametrize(
    ("source", "before_patch"),
    [
        (b'"""Docs."""\nfrom __future__ import annotations\n\nx = 1\n',
         b'"""Docs."""\nfrom __future__ import annotations\n\n\n'),
        (b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\n# licence\nx = '\xe9'\n",
         b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\n# licence\n\n\n"),
        (b"'''Docs\nover lines.'''  # trailing comment\nx = 1\n",
         b"'''Docs\nover lines.'''  # trailing comment\n\n\n"),
        (b"x = 1\n", b""),
        (b"", b""),
    ],
)  # fmt: skip
def test_patch_goes_after_docstring_and_future_imports(
    source: bytes, before_patch: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patched = patch_init(source, "demo", "demo.libs", "demo/__init__.py")
    assert patched.startswith(before_patch + START.encode())
    assert patched.count(START.encode()) == 1
    namespace, added = _run(patched, tmp_path / "site" / "demo" / "__init__.py", monkeypatch)
    assert added == []  # the directory does not exist yet: nothing is added
    (tmp_path / "site" / "demo.libs").mkdir()
    namespace, added = _run(patched, tmp_path / "site" / "demo" / "__init__.py", monkeypatch)
    assert added == [str(tmp_path / "site" / "demo.libs")]
    assert "_omniwheel_add_dll_directory" not in namespace  # it cleans up after itself
    if source.strip():
        assert namespace["x"] in (1, "\xe9")
        assert namespace.get("__doc__") in (None, "Docs.", "Docs\nover lines.")


def test_patch_keeps_crlf_and_is_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = b'"""Docs."""\r\nimport sys\r\n'
    once = patch_init(source, "ns/sub", "demo.libs", "ns/sub/__init__.py")
    assert b"\n" not in once.replace(b"\r\n", b"")
    assert patch_init(once, "ns/sub", "demo.libs", "ns/sub/__init__.py") == once
    # A repair into another directory replaces the patch rather than adding a second one.
    moved = patch_init(once, "ns/sub", "", "ns/sub/__init__.py")
    assert moved.count(START.encode()) == moved.count(END.encode()) == 1
    site = tmp_path / "site"
    site.mkdir()
    _, added = _run(moved, site / "ns" / "sub" / "__init__.py", monkeypatch)
    assert added == [str(site)]  # a top-level module's copies sit in site-packages itself
    (site / "demo.libs").mkdir()
    _, added = _run(once, site / "ns" / "sub" / "__init__.py", monkeypatch)
    assert added == [str(site / "demo.libs")]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"def broken(:\n", "demo/__init__.py: cannot patch a file Python cannot parse"),
        (b'"""Docs."""; import os\n', "demo/__init__.py: line 1 goes on after the docstring"),
    ],
)
def test_unpatchable_sources_are_refused(source: bytes, message: str) -> None:
    with pytest.raises(DllDirectoryError, match=message):
        patch_init(source, "demo", "demo.libs", "demo/__init__.py")


def test_which_init_files_are_patched() -> None:
    data = "demo-1.0.data"
    members = [
        "demo/__init__.py",
        "demo/sub/__init__.py",
        "ns/sub/__init__.py",
        f"{data}/platlib/plat/__init__.py",
        f"{data}/scripts/tool.exe",
    ]
    needers = [
        "demo/sub/_a.pyd",  # the outermost package on the path: demo/__init__.py
        "ns/sub/_b.pyd",  # a regular package in a namespace one: ns is left alone
        "bare/deeper/_c.pyd",  # no __init__.py anywhere: the top-level one is created
        "_top.pyd",  # a top-level module has no package
        f"{data}/platlib/plat/_d.pyd",
        f"{data}/purelib/other/_e.pyd",
    ]
    assert init_files(needers, members, data) == {
        "demo/__init__.py": True,
        "ns/sub/__init__.py": True,
        "bare/__init__.py": False,
        f"{data}/platlib/plat/__init__.py": True,
        f"{data}/purelib/other/__init__.py": False,
    }
    with pytest.raises(DllDirectoryError, match=r"tool\.exe is installed outside site-packages"):
        site_path(f"{data}/scripts/tool.exe", data)
    assert site_path(f"{data}/platlib/plat/_d.pyd", data) == "plat/_d.pyd"
