"""Requirements files as pip reads them: one PEP 508 requirement a line (with its ``--hash``
pins), plus the options that name other files or package sources (``-r``, ``-c``, ``-i``,
``--extra-index-url``, ``--no-index``, ``-f``) and ``--require-hashes``; and pip's
hash-checking mode, applied to what a resolution chose."""

from __future__ import annotations

import codecs
import locale
import optparse
import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.files import file_digests
from omniwheel.platforms import evaluate_marker

if TYPE_CHECKING:
    from omniwheel.platforms import Platform
    from omniwheel.resolve.lock import LockedWheel

#: Every option pip reads in a requirements file (``req_file.SUPPORTED_OPTIONS`` and
#: ``SUPPORTED_OPTIONS_REQ``) by its ``dest``: its spellings and its value's metavar (``None``:
#: a flag). All are parsed, so an abbreviation means what it means to pip.
_PIP_OPTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "index_url": (("-i", "--index-url", "--pypi-url"), "URL"),
    "extra_index_urls": (("--extra-index-url",), "URL"),
    "no_index": (("--no-index",), None),
    "constraints": (("-c", "--constraint"), "FILE"),
    "requirements": (("-r", "--requirement"), "FILE"),
    "editables": (("-e", "--editable"), "PATH"),
    "find_links": (("-f", "--find-links"), "PATH_OR_URL"),
    "no_binary": (("--no-binary",), "PACKAGES"),
    "only_binary": (("--only-binary",), "PACKAGES"),
    "prefer_binary": (("--prefer-binary",), None),
    "require_hashes": (("--require-hashes",), None),
    "pre": (("--pre",), None),
    "trusted_hosts": (("--trusted-host",), "HOST"),
    "features_enabled": (("--use-feature",), "FEATURE"),
    "hashes": (("--hash",), "sha256:HEX"),
    "config_settings": (("-C", "--config-settings"), "KEY=VALUE"),
}
#: The options omniwheel acts on in a line of options, and after a requirement.
_LINE_OPTIONS = {
    "index_url",
    "extra_index_urls",
    "no_index",
    "constraints",
    "requirements",
    "find_links",
    "require_hashes",
}
_REQUIREMENT_OPTIONS = {"hashes"}
_SUPPORTED = (
    "requirements (with --hash=ALGORITHM:HEX) and -r, -c, -i, --extra-index-url, "
    "--no-index, -f, --require-hashes"
)
#: The algorithms pip allows in ``--hash`` (its ``STRONG_HASHES``).
_HASH_ALGORITHMS = ("sha256", "sha384", "sha512")
#: pip's comment: ``#`` at the start of a line or after any whitespace, to the line's end.
_COMMENT = re.compile(r"(^|\s+)#.*$")
#: pip's environment variable reference: ``${NAME}``, NAME of capitals, digits and ``_``.
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")
#: The byte order marks pip recognises, in its order (UTF-16-LE's is a prefix of UTF-32-LE's).
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
#: A PEP 263 encoding declaration, which pip honours in a comment on the first two lines.
_CODING = re.compile(rb"coding[:=]\s*([-\w.]+)")


class HashCheckError(OmniwheelError):
    """A resolution that pip's hash-checking mode refuses: a package without a pinned,
    hashed requirement, or a chosen wheel matching none of its pins."""


class GivenRequirement(NamedTuple):
    """One requirement or constraint as given, and where: the hash-checking mode needs
    more than its text."""

    text: str
    requirement: Requirement
    #: ``FILE:LINE``; ``None`` for the command line.
    origin: str | None
    constraint: bool
    #: ``--hash`` pins: algorithm → hex digests.
    hashes: Mapping[str, tuple[str, ...]]

    @property
    def pinned(self) -> bool:
        """pip's ``is_pinned``: exactly one specifier, and it is ``==`` or ``===``."""
        specifiers = list(self.requirement.specifier)
        return len(specifiers) == 1 and specifiers[0].operator in ("==", "===")

    def describe(self) -> str:
        return f"{self.text!r} ({self.origin or 'command line'})"


@dataclass
class RequirementSet:
    """What one or more requirements files (and the command line) ask for."""

    given: list[GivenRequirement] = field(default_factory=list)
    #: The last ``-i``: pip reads files after its configuration and command line, so
    #: this replaces every index they name (``IndexConfig.with_options``).
    index_url: str | None = None
    #: The ``--extra-index-url`` read after that ``-i`` (which drops those before it).
    extra_index_urls: list[str] = field(default_factory=list)
    #: A file's ``--no-index``: no index at all, find-links only (as on pip's command line).
    no_index: bool = False
    find_links: list[str] = field(default_factory=list)
    #: Where ``--require-hashes`` was first given (``--require-hashes at FILE:LINE``, or the
    #: command line's or pip's setting), if anywhere.
    require_hashes: str | None = None

    @property
    def requirements(self) -> list[str]:
        return [given.text for given in self.given if not given.constraint]

    @property
    def constraints(self) -> list[str]:
        return [given.text for given in self.given if given.constraint]

    @property
    def hash_pins(self) -> dict[str, dict[str, set[str]]]:
        """The requirements' ``--hash`` values by project, for the resolver to prefer the
        files they pin (constraints' pins count for nothing, as in pip)."""
        pins: dict[str, dict[str, set[str]]] = {}
        for given in self.given:
            if given.constraint:
                continue
            by_algorithm = pins.setdefault(canonicalize_name(given.requirement.name), {})
            for algorithm, digests in given.hashes.items():
                by_algorithm.setdefault(algorithm, set()).update(digests)
        return {name: found for name, found in pins.items() if found}

    @property
    def requested(self) -> frozenset[str]:
        """The normalized names of the projects asked for (not merely constrained), which
        an install marks ``REQUESTED`` as pip does."""
        return frozenset(
            canonicalize_name(given.requirement.name)
            for given in self.given
            if not given.constraint
        )

    def add(
        self,
        text: str,
        origin: str | None = None,
        *,
        constraint: bool = False,
        hashes: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Add one PEP 508 requirement (or constraint); a ``UsageError`` names ``origin``
        (``FILE:LINE``) and the first line of packaging's reason when it is not one."""
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            where = f"{origin}: " if origin else ""
            reason = str(exc).splitlines()[0]
            raise UsageError(
                f"{where}requirement {text!r} is not valid PEP 508: {reason}"
            ) from None
        self.given.append(GivenRequirement(text, requirement, origin, constraint, hashes or {}))

    def hash_checking(self) -> str | None:
        """Why pip's hash-checking mode is on (``None``: it is off): ``--require-hashes``,
        or any requirement or constraint with a ``--hash``."""
        if self.require_hashes:
            return self.require_hashes
        hashed = next((given for given in self.given if given.hashes), None)
        return None if hashed is None else f"{hashed.origin} has --hash"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Each logical line and its first line's number, preprocessed as pip does: backslash
    continuations joined (never from a comment line; the last line's too), then comments
    stripped, then ``${NAME}`` replaced by that environment variable (left as it is when
    unset or empty)."""
    joined: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        comment = _COMMENT.match(raw) is not None
        if not pending:
            first = number
        if raw.endswith("\\") and not comment:
            pending.append(raw.strip("\\"))
            continue
        joined.append((first, "".join([*pending, "" if comment else raw])))
        pending = []
    if pending:
        joined.append((first, "".join(pending)))
    lines = [(number, _COMMENT.sub("", line).strip()) for number, line in joined]
    return [
        (number, _VARIABLE.sub(lambda name: os.environ.get(name[1]) or name[0], line))
        for number, line in lines
        if line
    ]


class _OptionError(Exception):
    """optparse's complaint about one line's options."""


class _OptionParser(optparse.OptionParser):
    """optparse, raising instead of exiting (as pip's line parser does)."""

    def error(self, msg: str) -> NoReturn:
        raise _OptionError(msg)


def _option_parser() -> _OptionParser:
    """pip's requirements-file options as optparse reads them; a value option collects
    every value given, and which counts is then decided as pip decides it."""
    parser = _OptionParser(add_help_option=False)
    for dest, (flags, metavar) in _PIP_OPTIONS.items():
        if metavar is None:
            parser.add_option(*flags, dest=dest, action="store_true", default=False)
        else:
            parser.add_option(*flags, dest=dest, action="append", metavar=metavar)
    return parser


def _long_flag(dest: str) -> str:
    return next(flag for flag in _PIP_OPTIONS[dest][0] if flag.startswith("--"))


class _Line(NamedTuple):
    """One logical line: its requirement (if any) and its options."""

    requirement: str
    options: optparse.Values


def _parse_line(parser: _OptionParser, line: str, where: str) -> _Line:
    """pip's ``break_args_options``: the words (split at spaces) before the first one
    starting with ``-`` are the requirement, left whole (markers may hold quotes); the
    rest are shlex-split and parsed as options. What pip would ignore (an option after a
    requirement other than ``--hash``, words after the options) is refused here."""
    words = line.split(" ")
    first = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    requirement = " ".join(words[:first]).strip()
    try:
        arguments = shlex.split(" ".join(words[first:]))
    except ValueError as exc:
        raise UsageError(
            f"{where}: {line!r}: its options cannot be split ({exc}); close the quote"
        ) from None
    try:
        options, rest = parser.parse_args(arguments)
    except _OptionError as exc:
        raise UsageError(f"{where}: {line!r}: {_option_problem(str(exc))}") from None
    if rest:
        raise UsageError(
            f"{where}: {line!r}: {rest[0]!r} is neither an option nor an option's value "
            "(a requirement goes first on its line; quote a value holding spaces)"
        )
    used = [dest for dest in _PIP_OPTIONS if getattr(options, dest)]
    for dest in used:
        if requirement and dest not in _REQUIREMENT_OPTIONS:
            raise UsageError(
                f"{where}: {line!r}: only --hash may follow a requirement, not {_long_flag(dest)}"
            )
        if not requirement and dest == "hashes":
            raise UsageError(
                f"{where}: {line!r}: --hash pins the requirement before it on its line, and "
                "this line has none (end the requirement's line with a backslash to continue it)"
            )
        if not requirement and dest not in _LINE_OPTIONS:
            raise UsageError(
                f"{where}: {line!r}: omniwheel does not support {_long_flag(dest)}; "
                f"a requirements file may carry {_SUPPORTED}"
            )
    return _Line(requirement, options)


def _option_problem(message: str) -> str:
    """optparse's message, made to say what would be right."""
    missing = re.fullmatch(r"(\S+) option requires 1 argument", message)
    if missing:
        flag = missing[1]
        metavar = next(metavar for flags, metavar in _PIP_OPTIONS.values() if flag in flags)
        return f"the value of {flag} is missing; write {flag} {metavar}"
    if message.startswith("no such option"):
        return f"{message}; a requirements file may carry {_SUPPORTED}"
    return message


def _hashes(values: Sequence[str], where: str, line: str) -> dict[str, tuple[str, ...]]:
    """``--hash`` values as pip reads them: ``ALGORITHM:HEX``, of an algorithm pip allows,
    the digest compared in lower case."""
    pins: dict[str, list[str]] = {}
    for value in values:
        algorithm, colon, digest = value.partition(":")
        if not colon:
            raise UsageError(
                f"{where}: {line!r}: --hash {value!r} is not ALGORITHM:HEX (--hash=sha256:...)"
            )
        if algorithm not in _HASH_ALGORITHMS:
            raise UsageError(
                f"{where}: {line!r}: --hash algorithm {algorithm!r} is not one pip allows; "
                f"use {', '.join(_HASH_ALGORITHMS)}"
            )
        pins.setdefault(algorithm, []).append(digest.lower())
    return {algorithm: tuple(digests) for algorithm, digests in pins.items()}


def _declared_encoding(data: bytes) -> tuple[str | None, int]:
    """The encoding a file declares as pip reads it (a byte order mark, else a PEP 263
    comment on one of its first two lines; ``None``: none), and where its text starts."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    for line in data.split(b"\n")[:2]:
        declared = _CODING.search(line) if line.startswith(b"#") else None
        if declared:
            return declared[1].decode("ascii"), 0
    return None, 0


def _decode(data: bytes, source: str) -> str:
    """The text of a requirements file, decoded as pip decodes it: in its declared encoding,
    else UTF-8, else (pip warns) the locale's; one line naming ``source`` if that fails."""
    encoding, start = _declared_encoding(data)
    try:
        if encoding is not None:
            return data[start:].decode(encoding)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode(locale.getpreferredencoding(False) or sys.getdefaultencoding())
    except LookupError:
        raise UsageError(
            f"cannot read {source}: it declares the encoding {encoding!r}, which Python does "
            "not know"
        ) from None
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"cannot read {source}: byte {exc.start + start} is not {exc.encoding} "
            f"({exc.reason}); save it as UTF-8 or declare its encoding as pip reads it (a "
            "first line '# -*- coding: latin-1 -*-')"
        ) from None


def read_requirements(
    path: Path,
    into: RequirementSet | None = None,
    *,
    constraint: bool = False,
    named_by: str | None = None,
) -> RequirementSet:
    """Parse ``path`` (following ``-r``/``-c`` relative to it) into ``into``. ``named_by``
    says where the path came from (``PIP_CONSTRAINT``, say), for the message when it
    cannot be read."""
    result = into if into is not None else RequirementSet()
    _read(path, result, constraint, named_by, ())
    return result


def _read(
    path: Path,
    result: RequirementSet,
    constraint: bool,
    named_by: str | None,
    including: tuple[Path, ...],
) -> None:
    """Read one file into ``result``; ``including``: the files whose ``-r``/``-c`` led
    here, so that a loop is refused (as pip refuses it) rather than recursed forever."""
    kind = "constraints" if constraint else "requirements"
    source = f"{kind} file {path}" + (f" (named by {named_by})" if named_by else "")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}") from exc
    parser = _option_parser()
    reading = (*including, path.resolve())
    for number, text in _logical_lines(_decode(data, source)):
        where = f"{path}:{number}"
        line = _parse_line(parser, text, where)
        options = line.options
        if line.requirement:
            hashes = _hashes(options.hashes or [], where, text)
            result.add(line.requirement, where, constraint=constraint, hashes=hashes)
        elif options.requirements or options.constraints:
            # As pip: one file a line, -r before -c, and the line's other options unread.
            nested = path.parent / (options.requirements or options.constraints)[0]
            if nested.resolve() in reading:
                raise UsageError(
                    f"{where}: {text!r} includes {nested}, which is being read already "
                    "(-r/-c files include each other in a loop); remove one of the includes"
                )
            _read(nested, result, not options.requirements, where, reading)
        else:
            _apply_options(options, path, where, result)


def _apply_options(
    options: optparse.Values, path: Path, where: str, result: RequirementSet
) -> None:
    """A line of options, as pip's ``handle_option_line`` applies them (``-f``: the
    first on the line, relative to the file when it exists there)."""
    if options.require_hashes and result.require_hashes is None:
        result.require_hashes = f"--require-hashes at {where}"
    if options.no_index:
        result.no_index = True
    if options.index_url:
        result.index_url = options.index_url[-1]
        result.extra_index_urls.clear()
    result.extra_index_urls += options.extra_index_urls or []
    if options.find_links:
        local = path.parent / options.find_links[0]
        result.find_links.append(str(local) if local.exists() else options.find_links[0])


def check_hashes(
    wanted: RequirementSet,
    targets: Iterable[tuple[Platform, Sequence[LockedWheel]]],
    fetch: Callable[[LockedWheel], Path],
) -> None:
    """pip's hash-checking mode on each platform's chosen wheels: once any requirement or
    constraint has ``--hash`` (or a file says ``--require-hashes``), every wheel must be
    named by a requirement pinned with ``==`` whose pins include its digest. The lock
    records sha256 only, so sha384 and sha512 pins are checked against the file itself
    (``fetch``: the wheel on local disk, downloaded if need be). ``HashCheckError`` names
    every package that fails, and the line that would pass."""
    reason = wanted.hash_checking()
    if reason is None:
        return
    mismatched: dict[str, None] = {}
    # (problem, the pin that would do) -> the digests it needs (each platform's wheel's)
    unpinned: dict[tuple[str, str], dict[str, None]] = {}
    for platform, wheels in targets:
        for wheel in wheels:
            given = _requirement_for(wanted, wheel.name, platform)
            if given is None:
                problem = f"{wheel.name} {wheel.version} (a dependency) has no requirement"
            elif not given.pinned:
                problem = f"{given.describe()} is not pinned with =="
            elif not given.hashes:
                problem = f"{given.describe()} has no --hash"
            else:
                if not _matches(given.hashes, wheel, fetch):
                    mismatch = (
                        f"{wheel.filename} has sha256 {wheel.sha256}, which no --hash of "
                        f"{given.describe()} matches"
                    )
                    mismatched[mismatch] = None
                continue
            unpinned.setdefault((problem, f"{wheel.name}=={wheel.version}"), {})[wheel.sha256] = (
                None
            )
    parts = list(mismatched)
    for (problem, pin), digests in unpinned.items():
        hashes = " ".join(f"--hash=sha256:{digest}" for digest in digests)
        parts.append(f"{problem}: write '{pin} {hashes}'")
    if parts:
        raise HashCheckError(f"hash-checking mode is on ({reason}): {'; '.join(parts)}")


def _requirement_for(
    wanted: RequirementSet, name: str, platform: Platform
) -> GivenRequirement | None:
    """The requirement pip checks a package's hashes against: the first that names it and
    applies on the platform (constraints' hashes turn the mode on, but satisfy nothing)."""
    for given in wanted.given:
        if given.constraint or canonicalize_name(given.requirement.name) != name:
            continue
        marker = given.requirement.marker
        if marker is None or evaluate_marker(marker, platform):
            return given
    return None


def _matches(
    pins: Mapping[str, tuple[str, ...]], wheel: LockedWheel, fetch: Callable[[LockedWheel], Path]
) -> bool:
    """pip's test: the file passes if its digest under any pinned algorithm is pinned."""
    if wheel.sha256 in pins.get("sha256", ()):
        return True
    others = [algorithm for algorithm in pins if algorithm != "sha256"]
    if not others:
        return False
    digests = file_digests(fetch(wheel), others)
    return any(digest in pins[algorithm] for algorithm, digest in digests.items())
