"""``omniwheel skeleton`` against the index pip is configured with (pinned real releases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniwheel.build.recipe import load_recipe
from omniwheel.build.skeleton import write_skeletons
from omniwheel.cli.main import main
from omniwheel.platforms import parse_platform

pytestmark = pytest.mark.network

MARKUPSAFE_SDIST_SHA256 = "722695808f4b6457b320fdc131280796bdceb04ab50fe1795cd540799ebe1698"


def test_recipe_pins_the_sdist_and_loads(tmp_path: Path) -> None:
    [written] = write_skeletons(
        "MarkupSafe", parse_platform("pyodide-2025.0"), tmp_path, version="3.0.3"
    )
    recipe = load_recipe(written.path)
    assert written.path == tmp_path / "markupsafe" / "meta.yaml"
    assert (recipe.name, recipe.version) == ("markupsafe", "3.0.3")
    assert recipe.source.sha256 == MARKUPSAFE_SDIST_SHA256
    assert recipe.source.url is not None and recipe.source.url.endswith("/markupsafe-3.0.3.tar.gz")
    assert recipe.requirements.run == () and recipe.test.imports == ("markupsafe",)


def test_run_requirements_follow_the_target_markers(tmp_path: Path) -> None:
    # click 8.1.8 needs colorama only where platform_system == "Windows".
    windows = write_skeletons("click", parse_platform("windows-x86_64"), tmp_path / "w",
                              version="8.1.8")  # fmt: skip
    pyodide = write_skeletons("click", parse_platform("pyodide-2025.0"), tmp_path / "p",
                              version="8.1.8")  # fmt: skip
    assert windows[0].run == ["colorama"]
    assert pyodide[0].run == []
    assert load_recipe(windows[0].path).requirements.run == ("colorama",)


def test_recursive_writes_recipes_only_for_dependencies_without_a_target_wheel(
    tmp_path: Path,
) -> None:
    # MarkupSafe publishes manylinux wheels, but none for the Pyodide 2024_0 ABI.
    pyodide = write_skeletons("jinja2", parse_platform("pyodide-2024.0"), tmp_path / "p",
                              version="3.1.6", recursive=True)  # fmt: skip
    assert [(item.name, item.reason) for item in pyodide] == [
        ("jinja2", "requested"), ("markupsafe", "needed by jinja2: no wheel for the target"),
    ]  # fmt: skip
    linux = write_skeletons("jinja2", parse_platform("manylinux-x86_64"), tmp_path / "l",
                            version="3.1.6", recursive=True)  # fmt: skip
    assert [item.name for item in linux] == ["jinja2"]


def test_cli_json_and_refusal_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["skeleton", "markupsafe", "--version", "3.0.3", "--platform", "pyodide-2025.0",
                 "-o", str(tmp_path), "--json"]  # fmt: skip
    assert main(arguments) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["platform"]["wheel_tag"] == "pyemscripten_2025_0_wasm32"
    assert document["recipes"] == [
        {"name": "markupsafe", "version": "3.0.3", "path": str(tmp_path / "markupsafe/meta.yaml"),
         "run": [], "reason": "requested"},
    ]  # fmt: skip
    assert main(arguments) == 2
    assert "exists; pass --force" in capsys.readouterr().err
