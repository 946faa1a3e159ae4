"""The wheel tags a target accepts, most preferred first.

The interpreter and ABI layers come from pypa/packaging (``cpython_tags`` then
``compatible_tags``, as ``sys_tags`` chains them); the platform layer comes from
the family, so the list is the one an installer running on the target builds.
"""

from __future__ import annotations

from functools import lru_cache

from packaging import tags as packaging_tags
from packaging.tags import Tag

from omniwheel.platforms.model import Platform


@lru_cache(maxsize=512)
def compatible_tags(platform: Platform) -> tuple[Tag, ...]:
    """Every tag the target's installer accepts, best first (cached per platform)."""
    platforms = list(platform.family.platform_tags(platform))
    python = platform.python
    return (
        *packaging_tags.cpython_tags(python.version, [python.abi_tag], platforms),
        *packaging_tags.compatible_tags(python.version, python.interpreter_tag, platforms),
    )


@lru_cache(maxsize=512)
def tag_priorities(platform: Platform) -> dict[Tag, int]:
    """Tag → rank (0 is best): how resolvers pick the best wheel in O(1) per tag."""
    ranks: dict[Tag, int] = {}
    for rank, tag in enumerate(compatible_tags(platform)):
        ranks.setdefault(tag, rank)
    return ranks


def supported_tags(platform: Platform, tags: frozenset[Tag]) -> list[Tag]:
    """Those of ``tags`` (a wheel's expanded tag set) the target accepts, best first."""
    ranks = tag_priorities(platform)
    return sorted((tag for tag in tags if tag in ranks), key=ranks.__getitem__)
