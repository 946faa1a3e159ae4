"""The platform commands, through the real entry point."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from omniwheel.cli.main import COMMANDS, build_parser, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tags_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tags", "ios", "--python", "3.13", "--limit", "3", "--json")
    document = json.loads(out)
    assert code == 0
    assert document["tags"] == [
        "cp313-cp313-ios_13_0_arm64_iphoneos",
        "cp313-cp313-ios_12_9_arm64_iphoneos",
        "cp313-cp313-ios_12_8_arm64_iphoneos",
    ]
    assert document["count"] == 335
    assert document["platform"]["wheel_tag"] == "ios_13_0_arm64_iphoneos"
    assert document["platform"]["python"] == "3.13"


def test_tags_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tags", "pyodide-2025.0", "--limit", "2")
    assert code == 0
    assert "pyemscripten_2025_0_wasm32" in out
    assert "pyodide_2025_0_wasm32" in out


def test_markers_eval_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "markers", "ios", "--eval", 'platform_system == "iOS"')[0] == 0
    code, out, _ = run(capsys, "markers", "ios", "--eval", 'sys_platform == "linux"', "--json")
    assert code == 1
    document = json.loads(out)
    assert document["evaluated"] == {'sys_platform == "linux"': False}
    assert document["environment"]["sys_platform"] == "ios"


def test_platforms_json_lists_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "platforms", "--json")
    families = {family["name"]: family for family in json.loads(out)["families"]}
    assert code == 0
    assert list(families) == [
        "ios",
        "android",
        "emscripten",
        "macos",
        "linux-glibc",
        "linux-musl",
        "windows",
    ]
    emscripten = {p["name"]: p for p in families["emscripten"]["platforms"]}
    assert emscripten["pyodide-2026.0"]["aliases"] == ["pyodide", "emscripten", "pyodide-314"]


def test_unknown_platform_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tags", "iphone")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("omniwheel: error: unknown platform 'iphone': closest valid names are")


def test_debug_shows_the_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "omniwheel", "--debug", "tags", "iphone"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "UsageError" in result.stderr


def test_module_entry_point_and_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "omniwheel", "tags", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "examples:" in result.stdout
    assert "omniwheel tags ios --python 3.13" in result.stdout


def test_command_table_matches_registered_commands() -> None:
    """The lazy-loading table names every command each CLI module registers, and no other."""
    parser = build_parser()
    subparsers = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    assert set(subparsers.choices) == set(COMMANDS)
    for command, module in COMMANDS.items():
        alone = build_parser([command])
        only = next(a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
        assert command in only.choices, module
