"""What a command imports: start-up cost is paid only for what the command uses.

Each check runs in a fresh interpreter and reads ``sys.modules`` after the command:
which modules got loaded is a property of the code, not a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import localindex
import realwheels
from conftest import MakeWheel
from omniwheel.cli.main import main

# Runs the CLI in-process (output captured), imports what argv[3] names as a command
# would, then reports which of the modules named in argv[2] are loaded.
SCRIPT = """
import contextlib, importlib, io, json, sys
from omniwheel.cli.main import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    codes = [main(argv) for argv in json.loads(sys.argv[1])]
for name in json.loads(sys.argv[3]):
    importlib.import_module(name)
loaded = sorted(set(json.loads(sys.argv[2])) & set(sys.modules))
print(json.dumps({"codes": codes, "loaded": loaded, "output": out.getvalue()}))
"""


def _loaded(
    commands: list[list[str]], modules: list[str], also_import: list[str] | None = None
) -> tuple[list[int], list[str], str]:
    arguments = [json.dumps(commands), json.dumps(modules), json.dumps(also_import or [])]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(result.stdout)
    return document["codes"], document["loaded"], document["output"]


def test_entry_point_imports_no_command_machinery() -> None:
    _, loaded, _ = _loaded([], ["rich", "httpx", "omniwheel.resolve", "omniwheel.audit"])
    assert loaded == []


def test_json_commands_do_not_import_rich() -> None:
    wheel = str(realwheels.fetch("ios-device"))
    codes, loaded, output = _loaded(
        [
            ["inspect", "--json", wheel],
            ["check", "--json", wheel],
            ["tags", "ios", "--python", "3.13", "--limit", "1", "--json"],
        ],
        ["rich", "httpx", "omniwheel.resolve"],
    )
    assert codes == [0, 0, 0]
    assert '"ios_13_0_arm64_iphoneos"' in output
    assert loaded == []


READERS = [f"omniwheel.binaries.{name}" for name in ("elf", "macho", "pe", "wasm")]
FAMILIES = ("linux", "android", "apple", "emscripten", "windows")
RULES = [f"omniwheel.audit.{name}" for name in FAMILIES]


def test_a_check_loads_only_the_readers_and_rules_its_wheel_needs() -> None:
    linux = str(realwheels.fetch("manylinux-vendored"))
    codes, loaded, _ = _loaded([["check", "--json", linux]], READERS + RULES)
    assert codes == [0]
    assert loaded == ["omniwheel.audit.linux", "omniwheel.binaries.elf"]
    ios = str(realwheels.fetch("ios-device"))
    codes, loaded, _ = _loaded([["check", "--json", ios]], READERS + RULES)
    assert codes == [0]
    assert loaded == ["omniwheel.audit.apple", "omniwheel.binaries.macho"]


def test_the_process_entry_point_exits_with_the_command_status() -> None:
    """``python -m omniwheel`` goes through ``run`` (the collector settings of a short
    process); its exit status is still the command's."""
    ios = str(realwheels.fetch("ios-device"))
    command = [sys.executable, "-m", "omniwheel", "check", "--json", ios]
    clean = subprocess.run(command, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["wheels"][0]["verdicts"][0]["status"] == "ok"
    wrong = subprocess.run([*command, "--platform", "android"], capture_output=True, text=True)
    assert wrong.returncode == 1
    codes = {f["code"] for f in json.loads(wrong.stdout)["wheels"][0]["findings"]}
    assert "wrong-binary-format" in codes


def test_human_output_still_uses_rich() -> None:
    codes, loaded, output = _loaded([["tags", "ios", "--limit", "1"]], ["rich.table"])
    assert codes == [0]
    assert loaded == ["rich.table"]
    assert "ios_13_0_arm64_iphoneos" in output


def test_httpx_does_not_pull_in_its_command_line() -> None:
    """httpx imports click, pygments and rich for its own CLI when click is installed; the
    omniwheel process never runs that CLI."""
    _, loaded, _ = _loaded([], ["httpx", "click", "pygments", "rich"], ["httpx"])
    assert loaded == ["httpx"]


def test_install_prints_its_table_and_json_install_loads_no_rich(tmp_path: Path) -> None:
    """A human install imports rich (on a thread, while it waits on the network) and prints
    the table; a --json install never imports it."""
    wheel = str(realwheels.fetch("ios-device"))
    common = [wheel, "--no-index", "--platform", "ios", "--python", "3.13"]
    common += ["--cache-dir", str(tmp_path / "cache")]
    codes, loaded, output = _loaded(
        [["install", *common, "--into", str(tmp_path / "human")]], ["rich.table"]
    )
    assert codes == [0]
    assert loaded == ["rich.table"]
    assert "installed into" in output
    assert "markupsafe-3.0.4-cp313-cp313-ios_13_0_arm64_iphoneos.whl" in output
    codes, loaded, output = _loaded(
        [["install", *common, "--into", str(tmp_path / "json"), "--json"]], ["rich"]
    )
    assert codes == [0]
    assert loaded == []
    assert json.loads(output)["layout"] == "ios-app"


def test_a_quiet_install_prints_nothing_and_loads_neither_rich_nor_the_zip_reader(
    tmp_path: Path,
) -> None:
    """``-q`` (as pip's) installs the same files and says nothing. The wheel was checked and
    unpacked by a first install, so the second needs wheel filenames only: not the zip
    reader, its inflaters, the binary checks, an HTML page parser or tarfile."""
    wheel = str(realwheels.fetch("ios-device"))
    common = [wheel, "--no-index", "--platform", "ios", "--python", "3.13"]
    common += ["--cache-dir", str(tmp_path / "cache")]
    heavy = ["rich", "omniwheel.wheel.archive", "omniwheel.audit", "isal", "html.parser", "tarfile"]
    first = ["install", *common, "--into", str(tmp_path / "first")]
    codes, loaded, output = _loaded([first], heavy)
    assert codes == [0] and "installed into" in output
    assert set(loaded) >= {"omniwheel.wheel.archive", "omniwheel.audit"}
    quiet = ["install", *common, "--into", str(tmp_path / "quiet"), "-q"]
    codes, loaded, output = _loaded([quiet], heavy)
    assert (codes, loaded, output) == ([0], [], "")
    installed = sorted(
        str(path.relative_to(tmp_path / "quiet")) for path in (tmp_path / "quiet").rglob("*")
    )
    assert installed == sorted(
        str(path.relative_to(tmp_path / "first")) for path in (tmp_path / "first").rglob("*")
    )
    assert any(name.endswith(".fwork") for name in installed)


def test_quiet_and_json_exclude_each_other(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "omniwheel", "install", "x", "--platform", "ios"]
    command += ["--into", str(tmp_path), "--json", "-q"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "argument -q/--quiet: not allowed with argument --json" in result.stderr


def test_a_build_tag_retag_loads_no_audit_and_a_new_platform_does(tmp_path: Path) -> None:
    """Changing the build tag claims nothing new: the wheel is rewritten, never judged."""
    wheel = str(realwheels.fetch("ios-device"))
    out = str(tmp_path)
    audit = ["omniwheel.audit.check", "omniwheel.platforms.registry"]
    codes, loaded, _ = _loaded([["retag", "--build", "1", "-w", out, "--json", wheel]], audit)
    assert (codes, loaded) == ([0], [])
    claim = ["retag", "--platform", "+ios_14_0_arm64_iphoneos", "-w", out, "--json", wheel]
    codes, loaded, output = _loaded([claim], audit)
    assert codes == [0] and loaded == audit and '"checked": true' in output


def test_lazy_package_exports_load_on_first_use_and_refuse_unknown_names() -> None:
    script = (
        "import sys, omniwheel.wheel as w\n"
        "before = 'omniwheel.wheel.reader' in sys.modules\n"
        "wheel = w.Wheel\n"
        "print(before, 'omniwheel.wheel.reader' in sys.modules, wheel.__module__,"
        " 'Wheel' in vars(w))\n"
        "try:\n    w.Whee1\nexcept AttributeError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.splitlines() == [
        "False True omniwheel.wheel.reader True",
        "module 'omniwheel.wheel' has no attribute 'Whee1'",
    ]


@pytest.mark.parametrize(("cache_control", "loads_httpx"), [("max-age=600", False), (None, True)])
def test_a_warm_install_of_fresh_pages_loads_no_http_client(
    make_wheel: MakeWheel, tmp_path: Path, cache_control: str | None, loads_httpx: bool
) -> None:
    """Pages an index said are fresh (``Cache-Control: max-age``) are read from the cache:
    nothing is fetched, so httpx is never loaded; without it every page is revalidated."""
    wheel = make_wheel("demo-1.0-py3-none-any.whl")
    localindex.build_index(tmp_path / "index", [wheel])
    with localindex.serve(tmp_path / "index", json_pages=True, cache_control=cache_control) as (
        url,
        log,
    ):
        install = ["install", "demo", "--index-url", url, "--platform", "linux-x86_64"]
        install += ["--cache-dir", str(tmp_path / "cache"), "--json"]
        assert main([*install, "--into", str(tmp_path / "first")]) == 0
        requests = len(log.lines)
        codes, loaded, _ = _loaded([[*install, "--into", str(tmp_path / "again")]], ["httpx"])
    assert codes == [0]
    assert (loaded == ["httpx"]) is loads_httpx
    assert (len(log.lines) > requests) is loads_httpx
    assert (tmp_path / "again" / "demo-1.0.dist-info" / "RECORD").is_file()
