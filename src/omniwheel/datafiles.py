"""The data tables each package keeps in its ``data/`` directory, parsed once per process.

Tables people edit (platforms, allowlists, finding hints) are TOML; a large table
generated from another tool's data (the manylinux policies, from auditwheel's JSON)
stays JSON, which parses in a fraction of tomllib's time on every ``check``.

The files are installed as plain files beside each package (package data), so they
are read from the package's directory: importlib.resources would add its own
import to every command's start-up for nothing.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from functools import cache
from pathlib import Path
from typing import Any


@cache
def load_table(package: str, filename: str) -> dict[str, Any]:
    """``<package>/data/<filename>``, parsed by its suffix (``.toml`` or ``.json``)."""
    home = Path(str(importlib.import_module(package).__file__)).parent
    text = (home / "data" / filename).read_text(encoding="utf-8")
    if filename.endswith(".json"):
        table: dict[str, Any] = json.loads(text)
        return table
    return tomllib.loads(text)
