"""Fuzz: a mutated real wheel opens and verifies, or fails with WheelError — nothing else."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzing import FUZZ_SETTINGS, mutate, mutations, positions_in
from omniwheel.wheel import Wheel, WheelError, WheelFilename
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel

# Mutations aim at the whole file or, half the time, at its tail, where the
# central directory and end record (the parser's most trusted bytes) live.
# Positions wrap around the file: negative ones count from its end.
EDITS = mutations(positions_in(range(1 << 20), range(-1500, 0)), words=())
# Whole wheels take longer per example than one binary: FUZZ_SETTINGS with a longer deadline.
ARCHIVES = settings(FUZZ_SETTINGS, deadline=2000, derandomize=True)


def test_mutated_real_wheel_raises_only_wheel_error(real_wheel: Callable[[str], Path]) -> None:
    original = real_wheel("ios-device")
    pristine = original.read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / original.name

        @ARCHIVES
        @given(st.data())
        def check(data: st.DataObject) -> None:
            target.write_bytes(mutate(data, pristine, EDITS))
            try:
                with Wheel.open(target) as wheel:
                    wheel.verify()
            except WheelError as exc:
                assert "\n" not in str(exc)

        check()


def test_mutated_real_wheel_retags_to_a_readable_wheel_or_wheel_error(
    real_wheel: Callable[[str], Path],
) -> None:
    """The writer's verbatim block and record reuse never turn a readable input unreadable."""
    original = real_wheel("manylinux-vendored")
    pristine = original.read_bytes()
    new_name = WheelFilename.parse(original).with_platform_tags(["manylinux_2_34_x86_64"])
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / original.name
        output = Path(scratch) / new_name.filename

        @settings(ARCHIVES, max_examples=150)
        @given(st.data())
        def check(data: st.DataObject) -> None:
            target.write_bytes(mutate(data, pristine, EDITS))
            try:
                rewrite_wheel(target, WheelChanges(filename=new_name), output)
            except WheelError as exc:
                assert "\n" not in str(exc)
                return
            with Wheel.open(output) as wheel:
                wheel.check_listing()
                assert wheel.filename == new_name

        check()
