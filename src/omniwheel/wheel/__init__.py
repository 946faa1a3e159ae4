"""Reading wheels safely: filename, WHEEL, RECORD, METADATA and the zip archive itself.

Every failure is a ``WheelError`` (exit code 2, "unusable input") whose
one-line message names the wheel, the member and what would be right.

Each name loads its own module on first use: a command that only parses wheel
filenames (``lock``, ``install`` from a warm cache) does not pay for the zip
reader and its inflaters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omniwheel.lazy import lazy_exports

if TYPE_CHECKING:
    from omniwheel.wheel.archive import Limits, MemberInfo, MemberStream, WheelArchive
    from omniwheel.wheel.errors import WheelError
    from omniwheel.wheel.filename import WheelFilename, parse_build_tag
    from omniwheel.wheel.reader import Wheel
    from omniwheel.wheel.record import (
        ALLOWED_ALGORITHMS,
        FileHash,
        Record,
        RecordEntry,
        hash_stream,
        new_hasher,
    )
    from omniwheel.wheel.wheelinfo import SUPPORTED_WHEEL_VERSION, WheelInfo

# Each exported name, by the module under omniwheel.wheel that defines it.
_EXPORTS = {
    "ALLOWED_ALGORITHMS": "record",
    "SUPPORTED_WHEEL_VERSION": "wheelinfo",
    "FileHash": "record",
    "Limits": "archive",
    "MemberInfo": "archive",
    "MemberStream": "archive",
    "Record": "record",
    "RecordEntry": "record",
    "Wheel": "reader",
    "WheelArchive": "archive",
    "WheelError": "errors",
    "WheelFilename": "filename",
    "WheelInfo": "wheelinfo",
    "hash_stream": "record",
    "new_hasher": "record",
    "parse_build_tag": "filename",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "ALLOWED_ALGORITHMS",
    "SUPPORTED_WHEEL_VERSION",
    "FileHash",
    "Limits",
    "MemberInfo",
    "MemberStream",
    "Record",
    "RecordEntry",
    "Wheel",
    "WheelArchive",
    "WheelError",
    "WheelFilename",
    "WheelInfo",
    "hash_stream",
    "new_hasher",
    "parse_build_tag",
]
