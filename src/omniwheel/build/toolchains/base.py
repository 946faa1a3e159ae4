"""The one interface every cross toolchain family implements.

A toolchain first says what is missing for a target (so nothing is half-built),
then prepares the target once per build run (headers, sysconfig, compiler
wrappers), then gives each recipe the environment its build steps run in.
"""

from __future__ import annotations

import json
import shlex
import shutil
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from omniwheel.build.pythons import BuildPython
from omniwheel.build.recipe import Recipe
from omniwheel.platforms import Platform


@dataclass(frozen=True)
class Missing:
    """One thing a target needs that this machine lacks, and how to get it."""

    what: str
    hint: str

    def __str__(self) -> str:
        return f"{self.what} ({self.hint})"


@dataclass(frozen=True)
class CrossTarget:
    """A prepared target: shared by every recipe built for it in one run."""

    platform: Platform
    python: BuildPython
    root: Path
    environment: Mapping[str, str]
    identity: str  # what the build output depends on, for the content-hash cache


@dataclass(frozen=True)
class RecipeEnvironment:
    """Variables added for one recipe: ``shell`` for its scripts, ``backend`` for PEP 517."""

    shell: Mapping[str, str]
    backend: Mapping[str, str]


class Toolchain(ABC):
    """Cross-compiling for one platform family."""

    family: str

    @abstractmethod
    def missing(self, platform: Platform, python: BuildPython | None) -> list[Missing]:
        """Everything absent that building for ``platform`` needs; empty when ready."""

    @abstractmethod
    def prepare(self, platform: Platform, python: BuildPython, root: Path) -> CrossTarget:
        """Write the target's headers, sysconfig and compiler wrappers under ``root``."""

    @abstractmethod
    def recipe_environment(
        self,
        target: CrossTarget,
        recipe: Recipe,
        *,
        work: Path,
        prefix: Path,
        variables: Mapping[str, str],
    ) -> RecipeEnvironment:
        """The environment of ``recipe``'s steps.

        ``prefix`` holds its host libraries (and receives a library's install);
        ``variables`` replace ``$(NAME)`` in the recipe's flags.
        """


def split_flags(text: str, variables: Mapping[str, str]) -> list[str]:
    """Recipe flags as arguments, with Pyodide's ``$(VAR)`` replaced from ``variables``."""
    for name, value in variables.items():
        text = text.replace(f"$({name})", value)
    return shlex.split(text)


def write_config(path: Path, config: Mapping[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1, sort_keys=True))
    return path


def missing_executables(names: Sequence[str]) -> list[Missing]:
    """The recipe's ``requirements/executable`` entries not found on PATH."""
    return [
        Missing(f"executable {name!r}", "install it and put it on PATH")
        for name in names
        if shutil.which(name) is None
    ]
