"""Resolving and locking requirements for a target platform, from the indexes pip uses.

>>> from omniwheel.resolve import Session, pip_index_config
>>> from omniwheel.platforms import parse_platform
>>> with Session(pip_index_config()) as session:                       # doctest: +SKIP
...     resolution = session.resolve(["jinja2"], parse_platform("ios", python="3.13"))
"""

from omniwheel.files import default_cache_dir
from omniwheel.resolve.config import (
    IndexConfig,
    IndexStrategy,
    pip_constraints,
    pip_index_config,
    pip_require_hashes,
    pip_settings,
)
from omniwheel.resolve.http import FetchError
from omniwheel.resolve.lock import (
    LockedWheel,
    LockError,
    build_lock,
    locked_wheels,
    platform_marker,
    read_lock,
    select_wheels,
    write_lock,
)
from omniwheel.resolve.requirements import RequirementSet, read_requirements
from omniwheel.resolve.resolver import Resolution, ResolutionError, ResolvedPackage
from omniwheel.resolve.session import Session
from omniwheel.resolve.simple import IndexFile

__all__ = [
    "FetchError",
    "IndexConfig",
    "IndexFile",
    "IndexStrategy",
    "LockError",
    "LockedWheel",
    "RequirementSet",
    "Resolution",
    "ResolutionError",
    "ResolvedPackage",
    "Session",
    "build_lock",
    "default_cache_dir",
    "locked_wheels",
    "pip_constraints",
    "pip_index_config",
    "pip_require_hashes",
    "pip_settings",
    "platform_marker",
    "read_lock",
    "read_requirements",
    "select_wheels",
    "write_lock",
]
