"""The target Python interpreter: which CPython, and whether it is free-threaded.

Kept apart from the OS platform because one platform hosts several Pythons,
except on Emscripten where each Pyodide ABI fixes the Python version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from omniwheel.errors import UsageError

_SPELLING = re.compile(
    r"^(?:cp|cpython|python|py)?-?(?P<major>3)\.?(?P<minor>\d{1,2})(?P<ft>t?)$", re.IGNORECASE
)
FREE_THREADING_SINCE = (3, 13)


@dataclass(frozen=True, order=True)
class PythonTarget:
    """A CPython feature release (``3.13``) and its build flavour (``3.13t``)."""

    version: tuple[int, int]
    free_threaded: bool = False

    @classmethod
    def parse(cls, text: str) -> PythonTarget:
        """Accept ``3.13``, ``3.13t``, ``313``, ``cp313t``, ``cpython3.13`` and ``python3.13``."""
        match = _SPELLING.match(text.strip())
        if match is None:
            raise UsageError(
                f"unknown Python version {text!r}: use a CPython release such as 3.13, "
                "3.14t (free-threaded) or cp313"
            )
        version = (int(match["major"]), int(match["minor"]))
        free_threaded = bool(match["ft"])
        if free_threaded and version < FREE_THREADING_SINCE:
            raise UsageError(
                f"Python {text!r}: free-threaded CPython starts at 3.13; use 3.13t or later"
            )
        return cls(version, free_threaded)

    @property
    def interpreter_tag(self) -> str:
        """The wheel interpreter tag, ``cp313``."""
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def abi_tag(self) -> str:
        """The version-specific ABI tag, ``cp313`` or ``cp313t``."""
        return self.interpreter_tag + ("t" if self.free_threaded else "")

    @property
    def dotted(self) -> str:
        """``3.13``, the ``python_version`` marker value."""
        return f"{self.version[0]}.{self.version[1]}"

    def __str__(self) -> str:
        return self.dotted + ("t" if self.free_threaded else "")
