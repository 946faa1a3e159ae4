"""Requirements files as pip reads them: one PEP 508 requirement a line, plus the options
that name other files or package sources (``-r``, ``-c``, ``-i``, ``--extra-index-url``, ``-f``)."""

from __future__ import annotations

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


@dataclass
class RequirementSet:
    """What one or more requirements files (and the command line) ask for."""

    requirements: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    """Lines with comments stripped and backslash continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            lines.append(line)
    return lines


def read_requirements(
    path: Path, into: RequirementSet | None = None, *, constraint: bool = False
) -> RequirementSet:
    """Parse ``path`` (following ``-r``/``-c`` relative to it) into ``into``."""
    result = into if into is not None else RequirementSet()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read requirements file {path}: {exc.strerror}") from exc
    for number, line in enumerate(_logical_lines(text), start=1):
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
        elif kind == "extra_index_url":
            result.extra_index_urls.append(value)
        else:
            local = path.parent / value
            result.find_links.append(str(local) if local.exists() else value)
    return result
