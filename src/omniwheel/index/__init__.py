"""A private package index for every platform: simple API, checked uploads, mirror, matrix.

>>> from pathlib import Path
>>> from omniwheel.index import PackageIndex, create_app
>>> index = PackageIndex(Path("./index"))        # doctest: +SKIP
>>> index.add_path(Path("dist/pkg-1.0-py3-none-any.whl"))  # doctest: +SKIP
"""

from omniwheel.index.app import create_app
from omniwheel.index.config import IndexConfig
from omniwheel.index.db import FileRow, TokenRow
from omniwheel.index.repository import (
    DuplicateFileError,
    NotFoundError,
    PackageIndex,
    Problem,
    Reconciled,
    Verified,
    WheelRefusedError,
)
from omniwheel.index.tokens import create_token

__all__ = [
    "DuplicateFileError",
    "FileRow",
    "IndexConfig",
    "NotFoundError",
    "PackageIndex",
    "Problem",
    "Reconciled",
    "TokenRow",
    "Verified",
    "WheelRefusedError",
    "create_app",
    "create_token",
]
