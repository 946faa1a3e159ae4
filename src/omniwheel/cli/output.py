"""How commands talk to people (rich) and to programs (``--json``)."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class LazyConsole:
    """A rich Console made on first use: importing rich takes ~70 ms, which a command that
    prints JSON, or fails before printing, should not pay."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    @cached_property
    def rich(self) -> Console:
        """The Console itself, for rich APIs that take one (progress bars)."""
        from rich.console import Console

        if self._stderr:
            # Errors are one line each, whatever the terminal width.
            return Console(stderr=True, highlight=False, soft_wrap=True)
        # Piped output is read by people in logs too: don't squeeze tables to 80 columns.
        return Console(highlight=False, width=None if sys.stdout.isatty() else 200)

    def print(self, *objects: Any, **options: Any) -> None:
        self.rich.print(*objects, **options)


console = LazyConsole()
errors = LazyConsole(stderr=True)


def import_rich_in_background() -> None:
    """For a command that will print for people but first waits on the network: rich's
    import then overlaps the wait instead of following it."""
    threading.Thread(target=_import_rich, name="import rich", daemon=True).start()


def _import_rich() -> None:
    for module in ("rich.console", "rich.table"):
        importlib.import_module(module)


def emit_json(document: dict[str, Any]) -> None:
    """Print one JSON document: the stable, documented output of ``--json``."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def table(title: str, *columns: str) -> Table:
    from rich.table import Table

    result = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        result.add_column(column)
    return result
