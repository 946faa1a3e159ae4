"""Tag generation: omniwheel vs pypa/packaging for the same targets (run by hand).

    python benchmarks/bench_tags.py

packaging is called the way an installer would call it for a foreign target: its
public generators with explicit arguments. Three figures per run:
- cold: building the whole ordered list once (ours uncached);
- warm: asking again for the same target (ours is cached per platform; packaging
  regenerates, as pip does per invocation);
- rank lookups: the question a resolver asks for each candidate wheel — "is this
  tag accepted, and how good is it" — over 10,000 tags.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from packaging import tags as ptags

from omniwheel.platforms import Platform, compatible_tags, parse_platform, tag_priorities

TARGETS: dict[str, Callable[[], list[str]]] = {
    "ios_15_1_arm64_iphoneos": lambda: list(ptags.ios_platforms((15, 1), "arm64_iphoneos")),
    "android_24_arm64_v8a": lambda: list(ptags.android_platforms(24, "arm64_v8a")),
    "macosx_14_0_arm64": lambda: list(ptags.mac_platforms((14, 0), "arm64")),
    "macosx_10_13_x86_64": lambda: list(ptags.mac_platforms((10, 13), "x86_64")),
    "win_amd64": lambda: ["win_amd64"],
}


def packaging_tags(platforms: Callable[[], list[str]]) -> list[ptags.Tag]:
    names = platforms()
    return [
        *ptags.cpython_tags((3, 13), ["cp313"], names),
        *ptags.compatible_tags((3, 13), "cp313", names),
    ]


def best_of(function: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number


def main() -> None:
    uncached = compatible_tags.__wrapped__
    print(f"{'target':28} {'tags':>5} {'cold ratio':>11} {'warm ratio':>11} {'lookup ratio':>13}")
    for name, platforms in TARGETS.items():
        target: Platform = parse_platform(name, python="3.13")
        theirs_list = packaging_tags(platforms)
        assert list(uncached(target)) == theirs_list, name
        cold_theirs = best_of(lambda p=platforms: packaging_tags(p), 50)
        cold_ours = best_of(lambda t=target: uncached(t), 50)
        warm_ours = best_of(lambda t=target: compatible_tags(t), 5000)
        # Fresh Tag objects, as parsed from wheel filenames: no identity shortcuts.
        every = (theirs_list * (10_000 // len(theirs_list) + 1))[:10_000]
        probes = [ptags.Tag(tag.interpreter, tag.abi, tag.platform) for tag in every]
        ranks = tag_priorities(target)

        def lookup_theirs(
            tags: list[ptags.Tag] = theirs_list, probes: list[ptags.Tag] = probes
        ) -> None:
            position = {tag: i for i, tag in enumerate(tags)}  # what pip builds per run
            for tag in probes:
                position.get(tag)

        def lookup_ours(t: Platform = target, probes: list[ptags.Tag] = probes) -> None:
            table = tag_priorities(t)
            for tag in probes:
                table.get(tag)

        assert all(ranks[tag] == theirs_list.index(tag) for tag in set(probes))
        lookup_theirs_s = best_of(lookup_theirs, 20)
        lookup_ours_s = best_of(lookup_ours, 20)
        print(
            f"{name:28} {len(theirs_list):5} {cold_theirs / cold_ours:10.2f}x "
            f"{cold_theirs / warm_ours:10.0f}x {lookup_theirs_s / lookup_ours_s:12.2f}x"
        )
    print("ratios > 1 mean omniwheel is faster than packaging measured in the same run")


if __name__ == "__main__":
    main()
