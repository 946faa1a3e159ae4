"""Fuzz: a mutated real wheel opens and verifies, or fails with WheelError — nothing else."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniwheel.wheel import Wheel, WheelError

Mutation = tuple[str, int, bytes]

# Mutations aim at the whole file or, half the time, at its tail, where the
# central directory and end record (the parser's most trusted bytes) live.
position = st.one_of(st.integers(0, 1 << 20), st.integers(-1500, -1))
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(0, 7).map(lambda bit: bytes([1 << bit]))),
    st.tuples(st.just("overwrite"), position, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("truncate"), position, st.just(b"")),
    st.tuples(st.just("extend"), st.just(0), st.binary(min_size=1, max_size=64)),
)


def mutate(data: bytearray, mutations: list[Mutation]) -> bytes:
    for kind, where, payload in mutations:
        if not data:
            break
        at = where % len(data)
        if kind == "flip":
            data[at] ^= payload[0]
        elif kind == "overwrite":
            data[at : at + len(payload)] = payload
        elif kind == "truncate":
            del data[at:]
        else:
            data += payload
    return bytes(data)


def test_mutated_real_wheel_raises_only_wheel_error(real_wheel: Callable[[str], Path]) -> None:
    original = real_wheel("ios-device")
    pristine = original.read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / original.name

        @settings(
            max_examples=300,
            deadline=1000,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(st.lists(mutation, min_size=1, max_size=4))
        def check(mutations: list[Mutation]) -> None:
            target.write_bytes(mutate(bytearray(pristine), mutations))
            try:
                with Wheel.open(target) as wheel:
                    wheel.verify()
            except WheelError as exc:
                assert "\n" not in str(exc)

        check()
