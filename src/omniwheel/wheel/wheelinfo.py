"""The ``.dist-info/WHEEL`` file: format version, purelib flag, tags and build tag.

Parsed strictly enough to catch a WHEEL that disagrees with its filename (the
two are what installers and indexes trust), and serialised so retagging can
rewrite it without losing headers it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import HeaderParser

from packaging.tags import Tag, parse_tag

from omniwheel.errors import UsageError
from omniwheel.wheel.errors import WheelError, decode_utf8
from omniwheel.wheel.filename import WheelFilename, parse_build_tag

SUPPORTED_WHEEL_VERSION = (1, 0)
"""The newest Wheel-Version this package reads in full."""

_VERSION = re.compile(r"(\d+)\.(\d+)")
_SINGLE_HEADERS = ("Wheel-Version", "Generator", "Root-Is-Purelib", "Build")
_KNOWN_HEADERS = frozenset(h.lower() for h in (*_SINGLE_HEADERS, "Tag"))


@dataclass(frozen=True)
class WheelInfo:
    """A parsed WHEEL file; ``extra`` keeps unknown headers, in order, for round trips."""

    wheel_version: tuple[int, int]
    generator: str | None
    root_is_purelib: bool
    tags: tuple[Tag, ...]
    build: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def newer_minor(self) -> bool:
        """True when the wheel uses a newer minor format: readable, but worth a warning."""
        return self.wheel_version > SUPPORTED_WHEEL_VERSION

    @classmethod
    def parse(cls, data: bytes, *, wheel: str, member: str) -> WheelInfo:
        """Parse WHEEL bytes; ``wheel``/``member`` name the source in error messages."""

        def fail(problem: str) -> WheelError:
            return WheelError(wheel, problem, member)

        text = decode_utf8(data, wheel=wheel, member=member)
        message = HeaderParser().parsestr(text)
        payload = message.get_payload()
        if not isinstance(payload, str) or payload.strip() or message.defects:
            raise fail("has a line that is not a 'Key: value' header")
        for header in _SINGLE_HEADERS:
            if len(message.get_all(header, [])) > 1:
                raise fail(f"has more than one {header} header; keep exactly one")

        version_text = message.get("Wheel-Version")
        if version_text is None:
            raise fail("has no Wheel-Version header; add 'Wheel-Version: 1.0'")
        version_match = _VERSION.fullmatch(version_text.strip())
        if version_match is None:
            raise fail(f"Wheel-Version {version_text!r} is not of the form MAJOR.MINOR, e.g. 1.0")
        version = (int(version_match.group(1)), int(version_match.group(2)))
        if version[0] != SUPPORTED_WHEEL_VERSION[0]:
            raise fail(
                f"Wheel-Version {version[0]}.{version[1]} has a major version this reader "
                f"does not understand; only {SUPPORTED_WHEEL_VERSION[0]}.x is supported"
            )

        purelib = (message.get("Root-Is-Purelib") or "").strip().lower()
        if purelib not in ("true", "false"):
            raise fail("Root-Is-Purelib must be 'true' or 'false'")

        tags: dict[Tag, None] = {}
        for line in message.get_all("Tag", []):
            try:
                tags.update(dict.fromkeys(sorted(parse_tag(line.strip()), key=str)))
            except ValueError as exc:
                raise fail(f"Tag {line!r} is not python-abi-platform: {exc}") from exc

        generator = message.get("Generator")
        build = message.get("Build")
        return cls(
            wheel_version=version,
            generator=None if generator is None else generator.strip(),
            root_is_purelib=purelib == "true",
            tags=tuple(tags),
            build=None if build is None else build.strip(),
            extra=tuple(
                (key, value.strip())
                for key, value in message.items()
                if key.lower() not in _KNOWN_HEADERS
            ),
        )

    def check_against(self, filename: WheelFilename, *, wheel: str, member: str) -> None:
        """Fail unless the Tag lines and Build header say what the filename says."""
        listed = frozenset(self.tags)
        if listed != filename.tags:
            missing = sorted(map(str, filename.tags - listed))
            extra = sorted(map(str, listed - filename.tags))
            raise WheelError(
                wheel,
                f"Tag lines disagree with the filename tags {sorted(map(str, filename.tags))}: "
                f"missing {missing}, not in filename {extra}",
                member,
            )
        try:
            same_build = (self.build is None and filename.build is None) or (
                self.build is not None
                and filename.build is not None
                and parse_build_tag(self.build) == filename.build_key
            )
        except UsageError as exc:
            raise WheelError(wheel, f"Build header is invalid: {exc}", member) from exc
        if not same_build:
            raise WheelError(
                wheel,
                f"Build header {self.build!r} disagrees with the filename's build tag "
                f"{filename.build!r}; they must be equal",
                member,
            )

    def serialize(self) -> bytes:
        """The WHEEL file as pypa/wheel writes it: one Tag line per expanded tag."""
        lines = [f"Wheel-Version: {self.wheel_version[0]}.{self.wheel_version[1]}"]
        if self.generator is not None:
            lines.append(f"Generator: {self.generator}")
        lines.append(f"Root-Is-Purelib: {'true' if self.root_is_purelib else 'false'}")
        lines += [f"Tag: {tag}" for tag in self.tags]
        if self.build is not None:
            lines.append(f"Build: {self.build}")
        lines += [f"{key}: {value}" for key, value in self.extra]
        return ("\n".join(lines) + "\n\n").encode("utf-8")
