"""Requirements files as pip reads them: one PEP 508 requirement a line, plus the options
that name other files or package sources (``-r``, ``-c``, ``-i``, ``--extra-index-url``, ``-f``)."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from omniwheel.errors import UsageError

_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
    "-i": "index_url",
    "--index-url": "index_url",
    "--extra-index-url": "extra_index_url",
    "-f": "find_links",
    "--find-links": "find_links",
}
#: pip's comment: ``#`` at the start of a line or after any whitespace, to the line's end.
_COMMENT = re.compile(r"(^|\s+)#.*$")
#: pip's environment variable reference: ``${NAME}``, NAME of capitals, digits and ``_``.
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")


@dataclass
class RequirementSet:
    """What one or more requirements files (and the command line) ask for."""

    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    #: The last ``-i``: pip reads files after its configuration and command line, so
    #: this replaces every index they name (``IndexConfig.with_options``).
    index_url: str | None = None
    #: The ``--extra-index-url`` read after that ``-i`` (which drops those before it).
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Each logical line and its first line's number, preprocessed as pip does: backslash
    continuations joined (never from a comment line), then comments stripped, then
    ``${NAME}`` replaced by that environment variable (left as it is when unset or empty)."""
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


def read_requirements(
    path: Path, into: RequirementSet | None = None, *, constraint: bool = False
) -> RequirementSet:
    """Parse ``path`` (following ``-r``/``-c`` relative to it) into ``into``."""
    result = into if into is not None else RequirementSet()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read requirements file {path}: {exc.strerror}") from exc
    for number, line in _logical_lines(text):
        if not line.startswith("-"):
            requirement = line.split(" --hash", 1)[0].strip()
            (result.constraints if constraint else result.requirements).append(requirement)
            continue
        words = shlex.split(line.replace("=", " ", 1) if line.startswith("--") else line)
        option, value = words[0], " ".join(words[1:])
        if option not in _OPTIONS or not value:
            raise UsageError(
                f"{path}:{number}: {line!r} is not supported in a requirements file; "
                "use requirements and -r, -c, -i, --extra-index-url, -f"
            )
        kind = _OPTIONS[option]
        if kind in ("requirement", "constraint"):
            read_requirements(path.parent / value, result, constraint=kind == "constraint")
        elif kind == "index_url":
            result.index_url = value
            result.extra_index_urls.clear()
        elif kind == "extra_index_url":
            result.extra_index_urls.append(value)
        else:
            local = path.parent / value
            result.find_links.append(str(local) if local.exists() else value)
    return result
