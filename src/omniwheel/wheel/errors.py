"""The one error every wheel reader raises, so the CLI can report any bad wheel in one line."""

from __future__ import annotations

import os
from pathlib import Path

from omniwheel.errors import OmniwheelError


def one_line(text: str) -> str:
    """Collapse line breaks so wrapped third-party messages keep the one-line promise."""
    return " ".join(text.split())


class WheelError(OmniwheelError):
    """The wheel is unusable: malformed, inconsistent or hostile.

    The message names the wheel (basename only, so paths don't leak into
    reports), the member when there is one (``repr`` so odd names stay on one
    line), and what would be right.
    """

    exit_code = 2

    def __init__(
        self, wheel: str | os.PathLike[str], problem: str, member: str | None = None
    ) -> None:
        self.wheel = Path(wheel).name
        self.problem = one_line(problem)
        self.member = member
        super().__init__(self.wheel, self.problem, member)

    def __str__(self) -> str:
        if self.member is None:
            return f"{self.wheel}: {self.problem}"
        return f"{self.wheel}: member {self.member!r}: {self.problem}"


def decode_utf8(data: bytes, *, wheel: str, member: str) -> str:
    """A metadata file's text; the specs require UTF-8, so anything else is unusable."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"is not UTF-8 ({exc.reason} at byte {exc.start})"
        raise WheelError(wheel, problem, member) from exc
