"""Package exports that load their module on first use (PEP 562).

A package's ``__init__`` re-exports its public names for ``from package import X``;
done eagerly, that import runs every submodule, and a command pays start-up time
for readers and checks it never calls.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``exports`` (name -> the
    submodule defining it) is imported on first use, then kept on the package."""

    def load(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return load
