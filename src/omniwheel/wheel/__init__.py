"""Reading wheels safely: filename, WHEEL, RECORD, METADATA and the zip archive itself.

Every failure is a ``WheelError`` (exit code 2, "unusable input") whose
one-line message names the wheel, the member and what would be right.
"""

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
