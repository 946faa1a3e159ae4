"""Where packages come from: the indexes and find-links pip is configured with on this machine.

Read as pip reads them (configuration files, then ``PIP_*`` environment
variables, then pip's own default index), so that ``omniwheel install`` fetches
from exactly the places ``pip install`` would; command-line options override.
"""

from __future__ import annotations

import configparser
import importlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from omniwheel.errors import OmniwheelError, UsageError

#: Settings pip reads from the environment as ``PIP_<NAME>``.
_VARIABLES = (
    "index-url",
    "extra-index-url",
    "find-links",
    "no-index",
    "constraint",
    "require-hashes",
)
#: Settings pip reads as booleans, with its ``strtobool``.
_BOOLEANS = ("no-index", "require-hashes")
#: The words pip's ``strtobool`` reads as true and as false (in any case).
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")


class IndexStrategy(StrEnum):
    """How several indexes are combined for one project."""

    #: Only the first index (in order) that has the project is used: a project
    #: published on an extra index cannot shadow the primary one's (dependency confusion).
    FIRST_INDEX = "first-index"
    #: Every index's files are pooled and the best version wins (pip's behaviour).
    UNSAFE_BEST_MATCH = "unsafe-best-match"


class IndexConfig(NamedTuple):
    """The package sources for one run, in priority order."""

    index_urls: tuple[str, ...]
    find_links: tuple[str, ...] = ()
    strategy: IndexStrategy = IndexStrategy.FIRST_INDEX

    def with_options(
        self,
        *,
        index_url: str | None = None,
        extra_index_urls: Sequence[str] = (),
        find_links: Sequence[str] = (),
        strategy: IndexStrategy | None = None,
    ) -> IndexConfig:
        """Apply options read after these, as pip applies them: ``index_url`` (a
        requirements file's ``-i``; the command line's goes to ``pip_index_config``)
        replaces every index so far, extra indexes are appended, and once no index is
        used (the ``no-index`` setting, given to ``pip_index_config``) none is added back."""
        urls = [index_url] if index_url else list(self.index_urls)
        urls += [url for url in extra_index_urls if url not in urls]
        links = list(dict.fromkeys([*self.find_links, *find_links]))
        return self._replace(
            index_urls=tuple(urls) if self.index_urls else (),
            find_links=tuple(links),
            strategy=strategy or self.strategy,
        )


def _config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files in load order: global, user (skipped when
    ``PIP_CONFIG_FILE`` names an existing file), site, then ``PIP_CONFIG_FILE``."""
    explicit = environ.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(directory) / "pip" / "pip.conf" for directory in xdg_dirs.split(":") if directory]
    files.append(Path("/etc/pip.conf"))
    if not (explicit and Path(explicit).exists()):
        home = Path(environ.get("HOME") or Path.home())
        files.append(home / ".pip" / "pip.conf")
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        files.append(config_home / "pip" / "pip.conf")
    files.append(Path(sys.prefix) / "pip.conf")
    if explicit:
        files.append(Path(explicit))
    return files


def _normalize(name: str) -> str:
    """A setting's name as pip normalizes both file keys and ``PIP_*`` variable names, so
    ``index_url``, ``--index-url`` and ``PIP_Index_Url`` all mean ``index-url``."""
    return name.lower().replace("_", "-").removeprefix("--")


def _boolean(value: str, where: str) -> bool:
    """``value`` read as pip's ``strtobool`` reads it: pip stops on any other word, so a
    typo cannot silently turn a setting off."""
    word = value.lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise UsageError(
        f"{where} is {value!r}, which pip does not read as a boolean; "
        f"use one of {', '.join(_TRUE)} (true) or {', '.join(_FALSE)} (false)"
    )


@dataclass(frozen=True)
class PipSettings(Mapping[str, str]):
    """pip's settings by name, and where each was set (a ``PIP_*`` variable, or a key in a
    section of a file), so that a message about a value can say where it came from."""

    by_name: Mapping[str, str]
    origins: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)


def pip_settings(environ: Mapping[str, str] | None = None, command: str = "install") -> PipSettings:
    """The pip settings ``pip <command>`` sees, layered as pip layers them: ``[global]`` of
    every file (later files winning), then ``[<command>]`` of every file, then ``PIP_*``
    variables (named in any case after the prefix, as pip reads them); empty values are
    ignored, and every boolean read is checked as pip checks it."""
    environ = os.environ if environ is None else environ
    # setting -> (value, where it was set), for each layer
    layers: dict[str, dict[str, tuple[str, str]]] = {"global": {}, command: {}, ":env:": {}}
    for path in _config_files(environ):
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"pip configuration file {path} cannot be read: {exc}") from exc
        for section in ("global", command):
            if parser.has_section(section):
                for name, value in parser.items(section):
                    _record(layers[section], name, value, f"{name} in [{section}] of {path}")
    for name, value in environ.items():
        if name.startswith("PIP_") and _normalize(name[4:]) in _VARIABLES:
            _record(layers[":env:"], name[4:], value, name)
    merged = {key: setting for values in layers.values() for key, setting in values.items()}
    return PipSettings(
        by_name={key: value for key, (value, _) in merged.items()},
        origins={key: where for key, (_, where) in merged.items()},
    )


def _record(values: dict[str, tuple[str, str]], name: str, value: str, where: str) -> None:
    """Set one setting read from ``where`` as pip does: an empty value is ignored, and a
    boolean is checked even if a later file overrides it (pip stops on it all the same)."""
    key = _normalize(name)
    if value:
        if key in _BOOLEANS:
            _boolean(value, where)
        values[key] = (value, where)


def pip_constraints(settings: PipSettings) -> list[tuple[Path, str]]:
    """The constraints files pip's ``constraint`` setting names (whitespace-separated,
    relative to the working directory, as pip reads them), each with where it was named
    (``PIP_CONSTRAINT``, or the key in a pip.conf file), for the message if it is missing."""
    paths = settings.get("constraint", "").split()
    return [(Path(name), settings.origins["constraint"]) for name in paths]


def pip_require_hashes(settings: PipSettings) -> str | None:
    """Where pip's ``require-hashes`` setting turns hash-checking mode on (``PIP_REQUIRE_HASHES``
    or the key in a pip.conf file), if it does."""
    value = settings.get("require-hashes", "0")
    origin = settings.origins.get("require-hashes", "")
    return origin if _boolean(value, origin) else None


def pip_default_index() -> str:
    """The index pip uses when nothing is configured, asked from pip itself."""
    try:
        module = importlib.import_module("pip._internal.models.index")
    except ImportError as exc:
        raise OmniwheelError(
            "no package index is configured and pip is not installed to name its default; "
            "pass --index-url URL (or set PIP_INDEX_URL)"
        ) from exc
    url: str = module.PyPI.simple_url
    return url


def pip_index_config(
    environ: Mapping[str, str] | None = None,
    *,
    index_url: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> IndexConfig:
    """The indexes and find-links ``pip install`` would use on this machine (or the given
    ``pip_settings``).

    ``index_url`` (``--index-url``) replaces the configured primary index, so pip's
    default is only asked for when it is really the one used.
    """
    if settings is None:
        settings = pip_settings(environ)
    if _boolean(settings.get("no-index", "0"), "the no-index setting"):
        urls: list[str] = []
    else:
        urls = [index_url or settings.get("index-url") or pip_default_index()]
        urls += [url for url in settings.get("extra-index-url", "").split() if url not in urls]
    return IndexConfig(
        index_urls=tuple(urls), find_links=tuple(settings.get("find-links", "").split())
    )
