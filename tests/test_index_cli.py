"""``omniwheel index …`` and ``omniwheel token …``: documented JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indexserver import retag
from omniwheel.cli.main import main

RealWheel = Callable[[str], Path]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_index_commands_json_and_exit_status(
    tmp_path: Path, real_wheel: RealWheel, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path / "index")
    mistagged = retag(real_wheel("musllinux"), "ios_13_0_arm64_iphoneos", tmp_path)
    status, added = _json(capsys, "index", "add", "--root", root, "--json",
                          str(real_wheel("pure")), str(mistagged))  # fmt: skip
    assert status == 1 and added["exit_status"] == 1
    assert [f["filename"] for f in added["added"]] == ["iniconfig-2.1.0-py3-none-any.whl"]
    (refused,) = added["refused"]
    assert refused["path"] == str(mistagged)
    assert "wrong-binary-format" in {f["code"] for f in refused["check"]["findings"]}

    status, again = _json(capsys, "index", "add", "--root", root, "--json", str(real_wheel("pure")))
    assert status == 0 and again["added"] == [] and len(again["skipped"]) == 1

    status, yanked = _json(capsys, "index", "yank", "iniconfig", "--reason", "old", "--root",
                           root, "--json")  # fmt: skip
    assert status == 0
    assert [(f["yanked"], f["yank_reason"]) for f in yanked["files"]] == [(True, "old")]

    status, verified = _json(capsys, "index", "verify", "--root", root, "--json")
    assert (status, verified) == (0, {"files": 1, "problems": [], "exit_status": 0})
    stored = tmp_path / "index" / "files" / "iniconfig" / "iniconfig-2.1.0-py3-none-any.whl"
    stored.write_bytes(stored.read_bytes()[:-10])
    status, verified = _json(capsys, "index", "verify", "--root", root, "--json")
    assert status == 1 and [p["kind"] for p in verified["problems"]] == ["size-mismatch"]

    status, removed = _json(capsys, "index", "remove", "iniconfig==2.1.0", "--root", root,
                            "--json")  # fmt: skip
    assert (status, removed) == (0, {"removed": ["iniconfig-2.1.0-py3-none-any.whl"]})


def test_token_commands_and_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path / "index")
    status, created = _json(capsys, "token", "create", "ci", "--project", "Demo", "--root", root,
                            "--json")  # fmt: skip
    assert status == 0 and created["projects"] == ["demo"]
    assert str(created["token"]).startswith(f"owt_{created['id']}_")
    status, listed = _json(capsys, "token", "list", "--root", root, "--json")
    (entry,) = listed["tokens"]
    assert "token" not in entry and entry["revoked"] is None and entry["name"] == "ci"
    assert main(["token", "revoke", "ci", "--root", root]) == 0
    capsys.readouterr()
    assert main(["token", "revoke", "ci", "--root", root]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no live token called 'ci'" in error
    assert main(["index", "remove", "nothing==1", "--root", root]) == 2
    assert "no file in the index matches nothing==1" in capsys.readouterr().err
    assert main(["index", "add", str(tmp_path / "missing.whl"), "--root", root]) == 2
    assert "no such file or directory" in capsys.readouterr().err
