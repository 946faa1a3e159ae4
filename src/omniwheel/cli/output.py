"""How commands talk to people (rich) and to programs (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output is read by people in logs too: don't squeeze tables to 80 columns.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
# Errors are one line each, whatever the terminal width.
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(document: dict[str, Any]) -> None:
    """Print one JSON document: the stable, documented output of ``--json``."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def table(title: str, *columns: str) -> Table:
    result = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        result.add_column(column)
    return result
