"""The platform engine: what a target is, which tags it accepts, which markers it has.

>>> from omniwheel.platforms import parse_platform, compatible_tags
>>> ios = parse_platform("ios", python="3.13")
>>> str(compatible_tags(ios)[0])
'cp313-cp313-ios_13_0_arm64_iphoneos'
"""

from omniwheel.platforms.family import Family
from omniwheel.platforms.markers import evaluate_marker, marker_environment
from omniwheel.platforms.model import Platform
from omniwheel.platforms.python import PythonTarget
from omniwheel.platforms.registry import FAMILIES, family_named, parse_platform
from omniwheel.platforms.tags import compatible_tags, supported_tags, tag_priorities

__all__ = [
    "FAMILIES",
    "Family",
    "Platform",
    "PythonTarget",
    "compatible_tags",
    "evaluate_marker",
    "family_named",
    "marker_environment",
    "parse_platform",
    "supported_tags",
    "tag_priorities",
]
