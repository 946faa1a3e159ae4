"""Byte-level mutations for the parser fuzz tests.

Every fuzz test takes a real file, applies a few :class:`Edit` s drawn from :func:`mutations`
and checks that the parser either succeeds or raises its own error type. The tests differ
only in where edits land (:func:`positions_in`), which 32-bit words they plant and which
other byte strings they splice in.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.strategies import DataObject, SearchStrategy

from omniwheel.binaries.base import ReadableBuffer

# Boundary values for counts, sizes, offsets and flags.
INTERESTING_WORDS = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)

EditKind = Literal["flip", "write", "word", "truncate", "extend"]


@dataclass(frozen=True)
class Edit:
    """One change to a file; positions wrap around its current length (negative: from the end).

    ``flip`` XORs one byte with ``payload``, ``write`` overwrites bytes (never past the end),
    ``word`` overwrites the aligned word at or before the position if it is whole,
    ``truncate`` cuts the file there and ``extend`` appends ``payload``.
    """

    kind: EditKind
    at: int
    payload: bytes = b""

    def __call__(self, data: bytearray) -> None:
        if self.kind == "extend":
            data.extend(self.payload)
            return
        if not data:
            return
        at = self.at % len(data)
        if self.kind == "flip":
            data[at] ^= self.payload[0]
        elif self.kind == "write":
            data[at : at + len(self.payload)] = self.payload[: len(data) - at]
        elif self.kind == "word":
            at -= at % len(self.payload)
            if at + len(self.payload) <= len(data):
                data[at : at + len(self.payload)] = self.payload
        else:
            del data[at:]


def positions_in(*ranges: range) -> SearchStrategy[int]:
    """A position in one of ``ranges``, each range equally likely whatever its length.

    Listing a small hot range next to the whole file sends about half the edits there.
    """
    assert ranges and all(ranges), "need at least one range, none of them empty"
    return st.one_of([st.integers(r.start, r.stop - 1) for r in ranges])


@st.composite
def mutations(
    draw: st.DrawFn,
    positions: SearchStrategy[int],
    words: Sequence[int] = INTERESTING_WORDS,
    byte_orders: Sequence[str] = ("<I", ">I"),
    snippets: Sequence[bytes] = (),
) -> Edit:
    """An edit at a position from ``positions``: a bit flip, random bytes, a truncation or a
    random tail; also one of ``words`` packed with one of ``byte_orders`` and one of
    ``snippets`` written as is, unless those are empty."""
    kinds = ["flip", "bytes"]
    if words and byte_orders:
        kinds.append("word")
    if snippets:
        kinds.append("snippet")
    kinds += ["truncate", "extend"]
    kind = draw(st.sampled_from(kinds))
    if kind == "extend":
        return Edit("extend", 0, draw(st.binary(min_size=1, max_size=64)))
    at = draw(positions)
    if kind == "flip":
        return Edit("flip", at, bytes([1 << draw(st.integers(0, 7))]))
    if kind == "bytes":
        return Edit("write", at, draw(st.binary(min_size=1, max_size=8)))
    if kind == "word":
        layout = draw(st.sampled_from(byte_orders))
        return Edit("word", at, struct.pack(layout, draw(st.sampled_from(words))))
    if kind == "snippet":
        return Edit("write", at, draw(st.sampled_from(snippets)))
    return Edit("truncate", at)


def mutate(
    data: DataObject,
    original: bytes,
    edits: SearchStrategy[Edit],
    *,
    min_edits: int = 1,
    max_edits: int = 4,
) -> bytes:
    """``original`` with between ``min_edits`` and ``max_edits`` edits drawn from ``edits``."""
    mutated = bytearray(original)
    for edit in data.draw(st.lists(edits, min_size=min_edits, max_size=max_edits), label="edits"):
        edit(mutated)
    return bytes(mutated)


#: How every parser fuzz test runs: 300 examples, none slower than half a second.
FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=timedelta(milliseconds=500),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_buffer_kinds_agree(parse: Callable[[ReadableBuffer], object], path: Path) -> None:
    """bytes, bytearray, memoryviews (one not at its buffer's start) and an mmap parse alike.

    Closing the mmap afterwards also proves the parser kept no view of it alive.
    """
    raw = path.read_bytes()
    expected = parse(raw)
    assert parse(bytearray(raw)) == expected
    assert parse(memoryview(raw)) == expected
    assert parse(memoryview(b"\0" * 8 + raw)[8:]) == expected
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert parse(m) == expected
