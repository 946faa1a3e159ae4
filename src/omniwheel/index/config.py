"""The index's settings: packaged defaults, then ``DIR/config.toml``, then the environment.

Every worker process reads the same file and environment, so they agree without
talking to each other.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from omniwheel.errors import UsageError

CONFIG_NAME = "config.toml"
ENV_PREFIX = "OMNIWHEEL_INDEX_"
PRECEDENCES = ("local", "merge")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def default_config_text() -> str:
    """The commented default file, written into a new index root."""
    return resources.files("omniwheel.index").joinpath("data", CONFIG_NAME).read_text()


@dataclass(frozen=True)
class IndexConfig:
    private: bool
    max_upload_size: int
    cache_max_age: int
    upstream: str
    upstream_precedence: str
    upstream_ttl: int
    upstream_timeout: float

    @classmethod
    def load(cls, root: Path, environ: dict[str, str] | None = None) -> IndexConfig:
        """Defaults, overridden by ``root/config.toml``, overridden by ``OMNIWHEEL_INDEX_*``."""
        values: dict[str, Any] = tomllib.loads(default_config_text())
        path = root / CONFIG_NAME
        if path.is_file():
            try:
                user = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"{path}: not valid TOML: {exc}") from exc
            for key, value in user.items():
                values[key] = _checked(key, value, f"{path}", values)
        env = os.environ if environ is None else environ
        for key in list(values):
            text = env.get(ENV_PREFIX + key.upper())
            if text is not None:
                source = ENV_PREFIX + key.upper()
                values[key] = _checked(key, _from_text(values[key], text, source), source, values)
        config = cls(**values)
        if config.upstream_precedence not in PRECEDENCES:
            raise UsageError(
                f"upstream_precedence {config.upstream_precedence!r} must be one of "
                f"{', '.join(PRECEDENCES)}"
            )
        if config.upstream and not config.upstream.startswith(("http://", "https://")):
            raise UsageError(f"upstream {config.upstream!r} must be an http(s) URL or empty")
        return config


def _checked(key: str, value: Any, source: str, defaults: dict[str, Any]) -> Any:
    """The value if ``key`` is a setting and the value has the default's type."""
    if key not in defaults:
        known = ", ".join(field.name for field in fields(IndexConfig))
        raise UsageError(f"{source}: unknown setting {key!r}; settings are {known}")
    expected = type(defaults[key])
    if expected is float and type(value) is int:
        value = float(value)
    if type(value) is not expected:
        raise UsageError(
            f"{source}: {key} must be a {expected.__name__}, not {type(value).__name__}"
        )
    return value


def _from_text(default: Any, text: str, source: str) -> Any:
    """An environment variable's text as the type of the setting it overrides."""
    try:
        if isinstance(default, bool):
            if text.strip().lower() not in _TRUE | _FALSE:
                raise ValueError(text)
            return text.strip().lower() in _TRUE
        return type(default)(text)
    except ValueError:
        raise UsageError(
            f"{source}={text!r} is not a {type(default).__name__}"
            + (" (true/false)" if isinstance(default, bool) else "")
        ) from None
