"""What every binary reader shares: the buffer type, the error family, the summary protocol.

Readers parse from an in-memory buffer (bytes, or an mmap of a spooled member)
with ``struct.unpack_from`` so they never depend on native tools and work the
same on every host. Each format raises only its own ``BinaryParseError``
subclass, whatever the input.
"""

from __future__ import annotations

import mmap
from typing import Any, Protocol

ReadableBuffer = bytes | bytearray | memoryview | mmap.mmap


class BinaryParseError(ValueError):
    """The bytes are not a well-formed binary of the format being read."""


class Binary(Protocol):
    """The facts the audit needs from any binary, whatever its format."""

    @property
    def format(self) -> str:
        """``"elf"``, ``"macho"``, ``"wasm"`` or ``"pe"``."""
        ...

    @property
    def architectures(self) -> tuple[str, ...]:
        """CPU names in the format's own conventional spelling (one per slice)."""
        ...

    @property
    def needed(self) -> tuple[str, ...]:
        """External libraries the loader must find, in load-command order, de-duplicated."""
        ...

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description; the shape is part of the documented ``--json`` schema."""
        ...
