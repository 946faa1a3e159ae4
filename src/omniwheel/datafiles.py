"""The data tables each package keeps in its ``data/`` directory, parsed once per process.

Tables people edit (platforms, allowlists, finding hints) are TOML; a large table
generated from another tool's data (the manylinux policies, from auditwheel's JSON)
stays JSON, which parses in a fraction of tomllib's time on every ``check``.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_table(package: str, filename: str) -> dict[str, Any]:
    """``<package>/data/<filename>``, parsed by its suffix (``.toml`` or ``.json``)."""
    text = resources.files(package).joinpath("data", filename).read_text(encoding="utf-8")
    if filename.endswith(".json"):
        table: dict[str, Any] = json.loads(text)
        return table
    return tomllib.loads(text)
