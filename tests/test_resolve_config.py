"""pip's configuration and requirements files, read exactly as pip reads them: its booleans,
its variable names, a file's index options, comments and ``${NAME}`` references."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import localindex
from conftest import MakeWheel
from omniwheel.cli.main import main
from omniwheel.errors import UsageError
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
    line: ``-i`` replaces every index named before, ``--extra-index-url`` appends."""
    urls = dict(zip("AB", two_indexes, strict=True))

    def fill(text: str) -> str:
        for key, url in urls.items():
            text = text.replace(f"{{{key}}}", url)
        return text

    for name in [name for name in os.environ if name.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name, value in variables.items():
        monkeypatch.setenv(name, fill(value))
    constraints_file = tmp_path / "constraints.txt"
    constraints_file.write_text(fill(constraints))
    requirements_file = tmp_path / "requirements.txt"
    requirements_file.write_text(fill(requirements))
    files = ["-c", str(constraints_file), "-r", str(requirements_file)]
    arguments = [*[fill(option) for option in options], *files]
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-cache-dir",
            "-d",
            str(tmp_path / "pip"),
            *arguments,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    ours = main(
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
    assert (pip.returncode == 0) is resolvable, pip.stderr[-500:]
    assert (ours == 0) is resolvable
