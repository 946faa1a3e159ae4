"""pip's configuration and requirements files, read exactly as pip reads them: its booleans,
its variable names, a file's options, comments, ``${NAME}`` references, encodings and
hash-checking mode; and the install options checked before anything is resolved."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import localindex
from conftest import MakeWheel
from omniwheel.cli.main import main, parse
from omniwheel.errors import UsageError
from omniwheel.files import file_sha256
from omniwheel.resolve import pip_index_config, read_requirements

INDEX = "http://index.invalid/simple/"
#: pip's strtobool words (any case), and words it refuses.
TRUE = ["y", "yes", "t", "true", "on", "1", "TRUE", "Yes", "T"]
FALSE = ["n", "no", "f", "false", "off", "0", "OFF", "N"]
INVALID = ["maybe", "2", "enabled"]


def _environ(tmp_path: Path, **variables: str) -> dict[str, str]:
    """An environment whose only pip configuration is ``tmp_path/pip.conf`` (if written)."""
    return {"HOME": str(tmp_path), "PIP_CONFIG_FILE": str(tmp_path / "pip.conf"), **variables}


@pytest.mark.parametrize("word", TRUE + FALSE)
def test_no_index_reads_every_word_pip_reads(tmp_path: Path, word: str) -> None:
    """``PIP_NO_INDEX`` and ``no-index`` in pip.conf take all of pip's strtobool words."""
    expected = () if word in TRUE else (INDEX,)
    variable = _environ(tmp_path, PIP_INDEX_URL=INDEX, PIP_NO_INDEX=word)
    assert pip_index_config(variable).index_urls == expected
    (tmp_path / "pip.conf").write_text(f"[install]\nno-index = {word}\n")
    assert pip_index_config(_environ(tmp_path, PIP_INDEX_URL=INDEX)).index_urls == expected


@pytest.mark.parametrize("word", INVALID)
def test_a_word_pip_refuses_is_an_error_naming_where_it_was(tmp_path: Path, word: str) -> None:
    """pip stops on a boolean it cannot read, even one a later file overrides; so do we,
    in one line that names the variable or file and the words that would do."""
    with pytest.raises(UsageError) as raised:
        pip_index_config(_environ(tmp_path, PIP_INDEX_URL=INDEX, PIP_NO_INDEX=word))
    message = str(raised.value)
    assert message.startswith(f"PIP_NO_INDEX is {word!r}")
    assert "y, yes, t, true, on, 1" in message and "n, no, f, false, off, 0" in message
    assert "\n" not in message
    (tmp_path / "pip.conf").write_text(f"[global]\nno_index = {word}\n")
    overridden = _environ(tmp_path, PIP_INDEX_URL=INDEX, PIP_NO_INDEX="0")
    with pytest.raises(UsageError, match=f"no_index in \\[global\\] of {tmp_path / 'pip.conf'}"):
        pip_index_config(overridden)


def test_invalid_words_agree_with_pip(tmp_path: Path) -> None:
    """The words pip's own option parser refuses are exactly the ones we refuse."""
    for word in [*TRUE, *FALSE, *INVALID, "", " 1"]:
        environ = {**os.environ, **_environ(tmp_path, PIP_INDEX_URL=INDEX, PIP_NO_INDEX=word)}
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--help"],
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            pip_index_config(environ)
        except UsageError:
            refused = True
        else:
            refused = False
        assert refused is (pip.returncode != 0), (word, pip.stderr)


def test_variable_names_are_read_in_any_case_after_the_prefix(tmp_path: Path) -> None:
    """pip lower-cases what follows ``PIP_`` (which itself must be capitals)."""
    assert pip_index_config(_environ(tmp_path, PIP_Index_Url=INDEX)).index_urls == (INDEX,)
    assert pip_index_config(
        _environ(tmp_path, pip_index_url="http://x.invalid/simple/"), index_url=INDEX
    ).index_urls == (INDEX,)


def test_requirements_lines_are_preprocessed_as_pip_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comments start at ``#`` after any whitespace; ``${NAME}`` is the environment's
    value, or stays as written when unset, empty or not pip's spelling of a name."""
    monkeypatch.setenv("OW_TOKEN", "tok123")
    monkeypatch.setenv("OW_EMPTY", "")
    monkeypatch.delenv("OW_UNSET", raising=False)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "--index-url http://user:${OW_TOKEN}@127.0.0.1:1/simple/\n"
        "alpha\t# pinned by ops\n"
        "beta==1.0 \\\n"
        "\t# a comment ends a continuation\n"
        "gamma @ https://h.invalid/${OW_UNSET}/${OW_EMPTY}/${ow_token}/gamma.whl\n"
        "delta>=1 \\\n"
        "    --hash=sha256:abc\n"
    )
    parsed = read_requirements(requirements)
    assert parsed.index_url == "http://user:tok123@127.0.0.1:1/simple/"
    assert parsed.requirements == [
        "alpha",
        "beta==1.0",
        "gamma @ https://h.invalid/${OW_UNSET}/${OW_EMPTY}/${ow_token}/gamma.whl",
        "delta>=1",
    ]
    requirements.write_text("alpha \\\n  >=1\n--no-such-option\n")
    with pytest.raises(UsageError, match=r"requirements\.txt:3: '--no-such-option'"):
        read_requirements(requirements)


@pytest.fixture
def two_indexes(make_wheel: MakeWheel, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two served indexes: ``alpha`` is only on the first, ``beta`` only on the second."""
    roots = []
    for project in ("alpha", "beta"):
        root = tmp_path / f"index-{project}"
        localindex.build_index(root, [make_wheel(f"{project}-1.0-py3-none-any.whl")])
        roots.append(root)
    with (
        localindex.serve(roots[0], json_pages=False) as (first, _),
        localindex.serve(roots[1], json_pages=False) as (second, _),
    ):
        yield first, second


#: (constraints file, requirements file, command-line options, environment, resolvable?);
#: ``{A}`` is the index with only ``alpha``, ``{B}`` the one with only ``beta``.
FILE_OPTION_CASES = [
    pytest.param(
        "",
        "-i {A}\nbeta\n",
        [],
        {"PIP_INDEX_URL": "{A}", "PIP_EXTRA_INDEX_URL": "{B}"},
        False,
        id="file-index-drops-configured-extra",
    ),
    pytest.param(
        "", "-i {A}\nalpha\n", ["--index-url", "{B}"], {}, True, id="file-index-beats-command-line"
    ),
    pytest.param(
        "",
        "-i {A}\nbeta\n",
        ["--index-url", "{A}", "--extra-index-url", "{B}"],
        {},
        False,
        id="file-index-drops-command-line-extra",
    ),
    pytest.param(
        "",
        "--extra-index-url {B}\n-i {A}\nbeta\n",
        ["--index-url", "{A}"],
        {},
        False,
        id="file-index-drops-earlier-file-extra",
    ),
    pytest.param(
        "",
        "-i {A}\n--extra-index-url {B}\nbeta\n",
        ["--index-url", "{B}"],
        {},
        True,
        id="file-extra-after-index-appends",
    ),
    pytest.param(
        "-i {B}\n",
        "-i {A}\nalpha\n",
        ["--index-url", "{B}"],
        {},
        True,
        id="requirements-read-after-constraints",
    ),
    pytest.param(
        "",
        "-i ${OW_INDEX}\nalpha\t# ops\n",
        ["--index-url", "{B}"],
        {"OW_INDEX": "{A}"},
        True,
        id="variable-expanded-tab-comment",
    ),
    pytest.param(
        "", "-i{A}\nalpha\n", ["--index-url", "{B}"], {}, True, id="file-index-without-space"
    ),
    pytest.param(
        "", "--index {A}\nalpha\n", ["--index-url", "{B}"], {}, True, id="file-index-abbreviated"
    ),
    pytest.param(
        "", "--index-url\nalpha\n", ["--index-url", "{A}"], {}, False, id="file-index-no-value"
    ),
    pytest.param("", "--no-index\nalpha\n", ["--index-url", "{A}"], {}, False, id="file-no-index"),
    pytest.param(
        "",
        "--no-index\n-f {F}\nalpha\n",
        ["--index-url", "{B}"],
        {},
        True,
        id="file-no-index-keeps-find-links",
    ),
    pytest.param(
        "--no-index\n", "-i {A}\nalpha\n", [], {}, False, id="constraints-no-index-outlasts-index"
    ),
    pytest.param(
        "", "-i {A}\nalpha\n", ["--no-index"], {}, False, id="command-line-no-index-outlasts-index"
    ),
]


@pytest.mark.parametrize(
    ("constraints", "requirements", "options", "variables", "resolvable"), FILE_OPTION_CASES
)
def test_requirements_file_index_options_act_as_in_pip(
    two_indexes: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    constraints: str,
    requirements: str,
    options: list[str],
    variables: dict[str, str],
    resolvable: bool,
) -> None:
    """pip applies a requirements file's index options after its configuration and command
    line: ``-i`` (``-iURL``, or abbreviated) replaces every index named before,
    ``--extra-index-url`` appends, ``--no-index`` drops every index; ``{F}`` is a
    find-links directory holding ``alpha``."""
    urls = {**dict(zip("AB", two_indexes, strict=True)), "F": str(tmp_path / "index-alpha/files")}

    def fill(text: str) -> str:
        for key, url in urls.items():
            text = text.replace(f"{{{key}}}", url)
        return text

    _without_pip_configuration(monkeypatch)
    for name, value in variables.items():
        monkeypatch.setenv(name, fill(value))
    constraints_file = tmp_path / "constraints.txt"
    constraints_file.write_text(fill(constraints))
    requirements_file = tmp_path / "requirements.txt"
    requirements_file.write_text(fill(requirements))
    files = ["-c", str(constraints_file), "-r", str(requirements_file)]
    arguments = [*[fill(option) for option in options], *files]
    pip = _pip_download(tmp_path, "--no-deps", *arguments)
    assert (pip.returncode == 0) is resolvable, pip.stderr[-500:]
    assert (_lock(tmp_path, *arguments) == 0) is resolvable


def _without_pip_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``PIP_*`` variable and no pip.conf, for pip and for us alike."""
    for name in [name for name in os.environ if name.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


def _pip_download(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Real pip, resolving ``arguments`` for this host (the test wheels are pure)."""
    command = ["download", "--disable-pip-version-check", "--no-cache-dir"]
    return subprocess.run(
        [sys.executable, "-m", "pip", *command, "-d", str(tmp_path / "pip"), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def _lock(tmp_path: Path, *arguments: str) -> int:
    """``omniwheel lock`` of ``arguments`` for iOS into ``tmp_path/pylock.toml``; its status."""
    return main(
        [
            "lock",
            *arguments,
            "--platform",
            "ios",
            "--python",
            "3.13",
            "--cache-dir",
            str(tmp_path / "cache"),
            "-o",
            str(tmp_path / "pylock.toml"),
            "--quiet",
        ]
    )


@pytest.fixture
def wheel_dir(make_wheel: MakeWheel, tmp_path: Path) -> Path:
    """A find-links directory: ``alpha`` 1.0 (requiring ``beta``) and ``beta`` 1.0, pure."""
    metadata = b"Metadata-Version: 2.4\nName: alpha\nVersion: 1.0\nRequires-Dist: beta\n"
    built = [
        make_wheel(
            "alpha-1.0-py3-none-any.whl",
            {"alpha-1.0.dist-info/METADATA": metadata, "alpha/__init__.py": b""},
        ),
        make_wheel("beta-1.0-py3-none-any.whl", {"beta/__init__.py": b""}),
    ]
    directory = tmp_path / "wheels"
    directory.mkdir()
    for wheel in built:
        shutil.move(wheel, directory / wheel.name)
    return directory


@pytest.mark.parametrize("ending", ["\n", ""])
def test_a_continuation_on_the_last_line_keeps_its_requirement_as_pip_does(
    wheel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """A backslash on the last line joins nothing, and the requirement stays."""
    _without_pip_configuration(monkeypatch)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"beta\nalpha \\{ending}")
    assert read_requirements(requirements).requirements == ["beta", "alpha"]
    arguments = ["--no-index", "-f", str(wheel_dir), "-r", str(requirements)]
    pip = _pip_download(tmp_path, "--no-deps", *arguments)
    assert pip.returncode == 0, pip.stderr
    assert sorted(path.name for path in (tmp_path / "pip").iterdir()) == sorted(
        path.name for path in wheel_dir.iterdir()
    )
    assert _lock(tmp_path, *arguments) == 0
    assert 'name = "alpha"' in (tmp_path / "pylock.toml").read_text()


#: (constraints file, requirements file, accepted?) in pip's hash-checking mode; ``{alpha}``
#: and ``{beta}`` are the wheels' sha256, ``{alpha384}``/``{alpha512}`` alpha's other digests.
HASH_CASES = [
    pytest.param("", "alpha\n", True, id="no-hash-no-checking"),
    pytest.param(
        "",
        "alpha==1.0 --hash=sha256:{alpha}\nbeta==1.0 --hash=sha256:{beta}\n",
        True,
        id="every-package-pinned",
    ),
    pytest.param("", "alpha==1.0 --hash=sha256:{alpha}\n", False, id="dependency-not-pinned"),
    pytest.param(
        "", "alpha==1.0 --hash=sha256:{alpha}\nbeta==1.0\n", False, id="dependency-no-hash"
    ),
    pytest.param(
        "",
        "alpha>=1 --hash=sha256:{alpha}\nbeta==1.0 --hash=sha256:{beta}\n",
        False,
        id="range-is-not-a-pin",
    ),
    pytest.param(
        "",
        "alpha==1.0 --hash=sha256:{wrong}\nbeta==1.0 --hash=sha256:{beta}\n",
        False,
        id="mismatch",
    ),
    pytest.param(
        "",
        "alpha==1.0 \\\n  --hash=sha256:{wrong} \\\n  --hash=sha256:{alpha}\n"
        "beta==1.0 --hash=sha256:{BETA}\n",
        True,
        id="one-of-several-pins-continued-any-case",
    ),
    pytest.param(
        "",
        "alpha==1.0 --hash=sha512:{alpha512}\nbeta==1.0 --hash=sha256:{beta}\n",
        True,
        id="sha512-pin",
    ),
    pytest.param(
        "",
        "alpha==1.0 --hash=sha256:{wrong} --hash=sha384:{alpha384}\n"
        "beta==1.0 --hash=sha256:{beta}\n",
        True,
        id="sha384-matches-where-sha256-does-not",
    ),
    pytest.param(
        "",
        "alpha==1.0 --hash=sha384:{wrong}\nbeta==1.0 --hash=sha256:{beta}\n",
        False,
        id="sha384-mismatch",
    ),
    pytest.param(
        "",
        "alpha==1.0 --hash=sha256:{alpha}\nbeta==1.0 --hash=sha256:{beta}\n"
        "gamma==1.0 ; sys_platform == 'win32'\n",
        True,
        id="requirement-whose-marker-is-false-needs-no-hash",
    ),
    pytest.param(
        "", "--require-hashes\nalpha==1.0\nbeta==1.0\n", False, id="require-hashes-unhashed"
    ),
    pytest.param(
        "",
        "--require-hashes\nalpha==1.0 --hash=sha256:{alpha}\nbeta==1.0 --hash=sha256:{beta}\n",
        True,
        id="require-hashes-hashed",
    ),
    pytest.param(
        "--require-hashes\n", "alpha==1.0\nbeta==1.0\n", False, id="constraints-require-hashes"
    ),
    pytest.param(
        "alpha==1.0 --hash=sha256:{alpha}\nbeta==1.0 --hash=sha256:{beta}\n",
        "alpha==1.0\nbeta==1.0\n",
        False,
        id="constraint-hashes-turn-checking-on-and-satisfy-nothing",
    ),
    pytest.param("", "alpha==1.0 --hash=md5:{alpha}\nbeta==1.0\n", False, id="md5-is-not-allowed"),
]


@pytest.mark.parametrize(("constraints", "requirements", "accepted"), HASH_CASES)
def test_hash_checking_mode_accepts_what_pip_accepts(
    wheel_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    constraints: str,
    requirements: str,
    accepted: bool,
) -> None:
    """Once any requirement or constraint has ``--hash`` (or a file says
    ``--require-hashes``), every package needs a requirement pinned with ``==`` and hashed,
    and its wheel's digest under some pinned algorithm must be pinned; on a served index,
    so that sha384 and sha512 pins are checked against a downloaded wheel."""
    _without_pip_configuration(monkeypatch)
    wheels = {path.name.split("-")[0]: path for path in wheel_dir.iterdir()}
    digests = {
        f"{name}{'' if algorithm == 'sha256' else algorithm[3:]}": hashlib.new(
            algorithm, path.read_bytes()
        ).hexdigest()
        for name, path in wheels.items()
        for algorithm in ("sha256", "sha384", "sha512")
    }
    digests |= {"BETA": digests["beta"].upper(), "wrong": "0" * 64}
    (tmp_path / "constraints.txt").write_text(constraints.format(**digests))
    (tmp_path / "requirements.txt").write_text(requirements.format(**digests))
    localindex.build_index(tmp_path / "index", list(wheels.values()))
    with localindex.serve(tmp_path / "index", json_pages=True) as (url, _):
        arguments = ["--index-url", url, "-c", str(tmp_path / "constraints.txt")]
        arguments += ["-r", str(tmp_path / "requirements.txt")]
        pip = _pip_download(tmp_path, *arguments)
        ours = _lock(tmp_path, *arguments)
    assert (pip.returncode == 0) is accepted, pip.stderr[-800:]
    assert (ours == 0) is accepted
    assert (tmp_path / "pylock.toml").exists() is accepted


def test_hash_checking_errors_name_each_package_and_the_line_to_write(
    wheel_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line: why the mode is on, then each package refused with what would pass; an
    install refuses before anything is placed."""
    alpha = file_sha256(wheel_dir / "alpha-1.0-py3-none-any.whl")
    beta = file_sha256(wheel_dir / "beta-1.0-py3-none-any.whl")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"alpha==1.0 --hash=sha256:{'0' * 64}\n")
    arguments = ["--no-index", "-f", str(wheel_dir), "-r", str(requirements)]
    assert _lock(tmp_path, *arguments) == 1
    assert capsys.readouterr().err == (
        f"omniwheel: error: hash-checking mode is on ({requirements}:1 has --hash): "
        f"alpha-1.0-py3-none-any.whl has sha256 {alpha}, which no --hash of 'alpha==1.0' "
        f"({requirements}:1) matches; beta 1.0 (a dependency) has no requirement: write "
        f"'beta==1.0 --hash=sha256:{beta}'\n"
    )
    requirements.write_text(f"alpha --hash=sha256:{'0' * 64}\n")
    into = tmp_path / "site"
    install = ["install", *arguments, "--platform", "manylinux-x86_64", "--into", str(into)]
    assert main([*install, "--cache-dir", str(tmp_path / "cache")]) == 1
    assert f"'alpha' ({requirements}:1) is not pinned with ==: write 'alpha==1.0 --hash=" in (
        capsys.readouterr().err
    )
    assert not into.exists()


def test_a_hash_pin_chooses_among_one_versions_wheels_as_pips_does(
    make_wheel: MakeWheel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The iOS wheel outranks the pure one by its tags, but the pure one's hash is pinned:
    pip takes the pinned file, and so do we (instead of refusing the iOS one)."""
    _without_pip_configuration(monkeypatch)
    pure = make_wheel("gamma-1.0-py3-none-any.whl", {"gamma/__init__.py": b""})
    ios = make_wheel(
        "gamma-1.0-cp313-cp313-ios_13_0_arm64_iphoneos.whl", {"gamma/__init__.py": b"# ios\n"}
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"gamma==1.0 --hash=sha256:{file_sha256(pure)}\n")
    localindex.build_index(tmp_path / "index", [pure, ios])
    with localindex.serve(tmp_path / "index", json_pages=True) as (url, _):
        arguments = ["--index-url", url, "-r", str(requirements)]
        pip = _pip_download(
            tmp_path,
            *arguments,
            *["--only-binary", ":all:", "--platform", "ios_13_0_arm64_iphoneos"],
            *["--python-version", "3.13", "--implementation", "cp", "--abi", "cp313"],
        )
        assert _lock(tmp_path, *arguments) == 0
    assert pip.returncode == 0, pip.stderr[-800:]
    assert [path.name for path in (tmp_path / "pip").iterdir()] == [pure.name]
    lock = tomllib.loads((tmp_path / "pylock.toml").read_text())
    assert [wheel["name"] for wheel in lock["packages"][0]["wheels"]] == [pure.name]


def test_a_project_missing_with_no_index_is_looked_for_in_find_links_only(
    wheel_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error says where the project was looked for, and no index was."""
    assert _lock(tmp_path, "gamma", "--no-index", "-f", str(wheel_dir)) == 1
    assert capsys.readouterr().err == (
        "omniwheel: error: gamma: no such project in find-links (no index) (gamma (requested))\n"
    )


@pytest.mark.parametrize("given_by", ["option", "variable", "pip.conf"])
@pytest.mark.parametrize("hashed", [False, True])
def test_require_hashes_outside_requirements_files_as_pip_reads_it(
    wheel_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    given_by: str,
    hashed: bool,
) -> None:
    """``--require-hashes`` on the command line, ``PIP_REQUIRE_HASHES`` or ``require-hashes``
    in pip.conf turn hash-checking mode on, for pip and for us alike; the refusal says which
    one did."""
    _without_pip_configuration(monkeypatch)
    options = ["--require-hashes"] if given_by == "option" else []
    if given_by == "variable":
        monkeypatch.setenv("PIP_REQUIRE_HASHES", "yes")
    if given_by == "pip.conf":
        (tmp_path / "pip.conf").write_text("[global]\nrequire-hashes = true\n")
        monkeypatch.setenv("PIP_CONFIG_FILE", str(tmp_path / "pip.conf"))
    pins = {
        name: f" --hash=sha256:{file_sha256(wheel_dir / f'{name}-1.0-py3-none-any.whl')}"
        for name in ("alpha", "beta")
    }
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{name}==1.0{pins[name] * hashed}\n" for name in pins))
    arguments = ["--no-index", "-f", str(wheel_dir), "-r", str(requirements), *options]
    pip = _pip_download(tmp_path, *arguments)
    capsys.readouterr()
    ours = _lock(tmp_path, *arguments)
    assert (pip.returncode == 0) is hashed, pip.stderr[-800:]
    assert (ours == 0) is hashed
    if not hashed:
        why = {
            "option": "--require-hashes on the command line",
            "variable": "require-hashes set by PIP_REQUIRE_HASHES",
            "pip.conf": f"require-hashes set by require-hashes in [global] of {tmp_path}/pip.conf",
        }[given_by]
        assert capsys.readouterr().err.startswith(
            f"omniwheel: error: hash-checking mode is on ({why}): 'alpha==1.0' "
        )


#: (a requirements file's line, what the one-line error says after ``FILE:1: 'LINE': ``).
BAD_LINES = [
    ("--index-url", "the value of --index-url is missing; write --index-url URL"),
    ("-f", "the value of -f is missing; write -f PATH_OR_URL"),
    ('-f "/tmp/bench', "its options cannot be split (No closing quotation); close the quote"),
    ("six --hash=md5:00", "--hash algorithm 'md5' is not one pip allows; use sha256, sha384"),
    ("six --hash=00", "--hash '00' is not ALGORITHM:HEX (--hash=sha256:...)"),
    ("--hash=sha256:00", "--hash pins the requirement before it on its line, and this line"),
    ("six -i http://x.invalid/", "only --hash may follow a requirement, not --index-url"),
    ("--pre", "omniwheel does not support --pre; a requirements file may carry requirements"),
    ("-r a.txt b.txt", "'b.txt' is neither an option nor an option's value"),
    ("--no-such-option", "no such option: --no-such-option; a requirements file may carry"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_line_pip_cannot_use_is_one_line_naming_it(
    tmp_path: Path, line: str, message: str
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{line}\n")
    with pytest.raises(UsageError) as raised:
        read_requirements(requirements)
    assert str(raised.value).startswith(f"{requirements}:1: {line!r}: {message}")
    assert "\n" not in str(raised.value)


def test_file_options_pip_accepts_are_read(tmp_path: Path) -> None:
    """``-iURL``, ``--no-index``, ``--require-hashes`` and each requirement's pins."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "-ihttp://a.invalid/simple/\n--no-index\n--require-hashes\n"
        "six==1.17.0 --hash=sha256:AB --hash=sha512:cd --hash sha256:ef\n"
    )
    parsed = read_requirements(requirements)
    assert parsed.index_url == "http://a.invalid/simple/"
    assert parsed.no_index is True
    assert parsed.require_hashes == f"--require-hashes at {requirements}:3"
    (six,) = parsed.given
    assert (six.text, six.origin) == ("six==1.17.0", f"{requirements}:4")
    assert six.hashes == {"sha256": ("ab", "ef"), "sha512": ("cd",)}


#: (file bytes, read as pip reads them?): pip decodes by a byte order mark, else a PEP 263
#: comment on one of the first two lines, else UTF-8.
ENCODINGS = [
    pytest.param("# café\nalpha\n".encode("utf-16"), True, id="utf-16-bom"),
    pytest.param(b"\xef\xbb\xbfalpha\n", True, id="utf-8-bom"),
    pytest.param(b"# -*- coding: latin-1 -*-\nalpha  # caf\xe9\n", True, id="coding-comment"),
    pytest.param(b"alpha  # caf\xe9\n", False, id="latin-1-undeclared"),
    pytest.param(b"\xff\xfejinja2\n", False, id="utf-16-bom-odd-length"),
]


@pytest.mark.parametrize(("data", "readable"), ENCODINGS)
def test_encodings_are_read_as_pip_reads_them(
    wheel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, readable: bool
) -> None:
    """What pip decodes we read; what it cannot (a traceback, in pip) is one line here."""
    _without_pip_configuration(monkeypatch)
    requirements = tmp_path / "requirements.txt"
    requirements.write_bytes(data)
    arguments = ["--no-index", "-f", str(wheel_dir), "--no-deps", "-r", str(requirements)]
    assert (_pip_download(tmp_path, *arguments).returncode == 0) is readable
    if readable:
        assert read_requirements(requirements).requirements == ["alpha"]
        return
    with pytest.raises(UsageError) as raised:
        read_requirements(requirements)
    message = str(raised.value)
    assert message.startswith(f"cannot read requirements file {requirements}: byte ")
    assert "declare its encoding" in message and "\n" not in message


@pytest.mark.parametrize(
    ("files", "loop"),
    [
        ({"requirements.txt": "-r requirements.txt\n"}, True),
        ({"requirements.txt": "-r sub/b.txt\n", "sub/b.txt": "-c ../requirements.txt\n"}, True),
        (
            {
                "requirements.txt": "-r a.txt\n-r b.txt\n",
                "a.txt": "-r c.txt\n",
                "b.txt": "-r c.txt\n",
            },
            False,
        ),
    ],
    ids=["itself", "through-another", "diamond"],
)
def test_an_include_loop_is_refused_as_pip_refuses_it(
    wheel_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    loop: bool,
) -> None:
    """A file read twice on one path of includes is a loop; twice on two paths is not."""
    _without_pip_configuration(monkeypatch)
    for name, text in {"c.txt": "alpha\n", **files}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    requirements = tmp_path / "requirements.txt"
    pip = _pip_download(tmp_path, "--no-index", "-f", str(wheel_dir), "-r", str(requirements))
    assert ("recursively references itself" in pip.stderr) is loop
    if not loop:
        assert read_requirements(requirements).requirements == ["alpha", "alpha"]
        return
    with pytest.raises(UsageError, match=r"is being read already .* in a loop") as raised:
        read_requirements(requirements)
    assert "\n" not in str(raised.value)


def test_an_invalid_requirement_is_one_line_naming_where_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Requirements files, constraints files and the command line alike: packaging's
    reason, first line only (no caret diagram)."""
    bad = tmp_path / "bad.txt"
    bad.write_text("\n# c\n\njinja2 >\n")
    reason = "Expected semicolon (after name with no version specifier) or end"
    for arguments, where in [
        (["-r", str(bad)], f"{bad}:4: "),
        (["six", "-c", str(bad)], f"{bad}:4: "),
        (["jinja2 >"], ""),
    ]:
        assert _lock(tmp_path, "--no-index", *arguments) == UsageError.exit_code
        assert capsys.readouterr().err == (
            f"omniwheel: error: {where}requirement 'jinja2 >' is not valid PEP 508: {reason}\n"
        )


def test_a_missing_configured_constraints_file_names_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_pip_configuration(monkeypatch)
    missing = tmp_path / "missing.txt"
    monkeypatch.setenv("PIP_CONSTRAINT", str(missing))
    assert _lock(tmp_path, "--no-index", "six") == UsageError.exit_code
    assert capsys.readouterr().err == (
        f"omniwheel: error: cannot read constraints file {missing} (named by PIP_CONSTRAINT): "
        "No such file or directory\n"
    )
    monkeypatch.delenv("PIP_CONSTRAINT")
    config = tmp_path / "pip.conf"
    config.write_text(f"[lock]\nconstraint = {missing}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert _lock(tmp_path, "--no-index", "six") == UsageError.exit_code
    assert f"(named by constraint in [lock] of {config}): " in capsys.readouterr().err


#: Index URLs that cannot answer: an install refused up front never reaches them.
UNREACHABLE = ["--index-url", "http://index.invalid/simple/", "--offline"]


@pytest.mark.parametrize("second", ["ios", "ios@14.0", "ios_14_0_arm64_iphoneos"])
def test_two_platforms_of_one_slice_are_refused_before_resolving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str
) -> None:
    arguments = ["install", "six", *UNREACHABLE, "--into", str(tmp_path / "app")]
    platforms = ["--platform", "ios", "--platform", "ios-simulator", "--platform", second]
    assert main([*arguments, *platforms]) == UsageError.exit_code
    assert capsys.readouterr().err == (
        f"omniwheel: error: --platform ios and --platform {second} are the same slice (arm64 "
        "iphoneos): an app holds one build per architecture for device and one for simulator; "
        "give one of them\n"
    )


@pytest.mark.parametrize("platform", ["manylinux-x86_64", "ios", "pyodide-2025.0"])
@pytest.mark.parametrize("below", [False, True])
def test_into_a_file_is_refused_before_resolving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], platform: str, below: bool
) -> None:
    """Every layout (site-packages, ios-app, pyodide) needs a directory; the file is left
    as it was."""
    existing = tmp_path / "app.txt"
    existing.write_text("keep me\n")
    into = existing / "sub" if below else existing
    arguments = ["install", "six", *UNREACHABLE, "--platform", platform, "--into", str(into)]
    assert main(arguments) == UsageError.exit_code
    assert capsys.readouterr().err == (
        f"omniwheel: error: --into {into}: {existing} is not a directory; give a directory "
        "(one that does not exist yet is created)\n"
    )
    assert existing.read_text() == "keep me\n"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--app-id", "my app/évil"),
        ("--app-id", ""),
        ("--app-id", "org..app"),
        ("--app-id", "org.app."),
        ("--app-id", "org.äpp"),
        ("--pyodide-version", "not a version"),
    ],
)
def test_app_id_and_pyodide_version_are_checked_before_they_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    arguments = ["install", "six", "--platform", "ios", "--into", str(tmp_path / "app")]
    with pytest.raises(SystemExit) as exited:
        parse([*arguments, option, value])
    assert exited.value.code == UsageError.exit_code
    error = capsys.readouterr().err
    assert error.startswith(f"omniwheel install: error: argument {option}: {value!r} is not a")
    assert error.count("\n") == 1
    good = parse([*arguments, "--app-id", "org.my-app.App2", "--pyodide-version", "v0.27.7"])
    assert (good.app_id, good.pyodide_version) == ("org.my-app.App2", "0.27.7")
