"""Recipes: Pyodide's ``meta.yaml`` schema, loaded strictly, plus per-platform overrides.

A Pyodide recipe directory must load here unchanged, so the schema follows
pyodide-build's: every key it knows is accepted, every other key is an error
naming the key and the file (a typo must never be silently ignored). Our own
extension lives under ``extra: omniwheel: platforms:`` — Pyodide ignores unknown
keys under ``extra`` — so the same file still loads in Pyodide.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml
from packaging.utils import canonicalize_name

from omniwheel.errors import UsageError
from omniwheel.wheel.archive import path_problem

RecipeType = Literal["package", "static_library", "shared_library", "cpython_module"]
Exports = Literal["pyinit", "requested", "whole_archive"]
LIBRARY_TYPES = ("static_library", "shared_library")
RECIPE_FILE = "meta.yaml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Keys Pyodide allows in the build section of a library recipe (the rest are for wheels).
_LIBRARY_BUILD_KEYS = {"type", "script", "exports", "unvendor-tests"}
# Keys Pyodide allows in the build section when the source is a prebuilt wheel.
_WHEEL_BUILD_KEYS = {
    "post", "cross-build-env", "cross-build-files", "exports", "unvendor-tests",
    "_retain-test-patterns", "type", "vendor-sharedlib",
}  # fmt: skip
# Families whose overrides may appear under extra/omniwheel/platforms.
OVERRIDE_FAMILIES = ("emscripten", "ios", "android")


class RecipeError(UsageError):
    """A recipe that does not follow the schema; the message names the file and the key."""


def _key(name: str, default: Any = dataclasses.MISSING, *, factory: Any = None) -> Any:
    """A dataclass field remembering its YAML spelling (``top-level``, ``_disabled``...)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"key": name})
    return field(default=default, metadata={"key": name})


@dataclass(frozen=True)
class PackageSection:
    name: str = _key("name")
    version: str = _key("version")
    top_level: tuple[str, ...] = _key("top-level", ())
    tag: tuple[str, ...] = _key("tag", ())
    disabled: bool = _key("_disabled", False)
    pinned: bool = _key("pinned", False)


@dataclass(frozen=True)
class SourceSection:
    url: str | None = _key("url", None)
    sha256: str | None = _key("sha256", None)
    path: str | None = _key("path", None)
    extract_dir: str | None = _key("extract_dir", None)
    patches: tuple[str, ...] = _key("patches", ())
    extras: tuple[tuple[str, str], ...] = _key("extras", ())


@dataclass(frozen=True)
class BuildSection:
    exports: Exports | tuple[str, ...] = field(default="pyinit", metadata={"key": "exports"})
    backend_flags: str = _key("backend-flags", "")
    cflags: str = _key("cflags", "")
    cxxflags: str = _key("cxxflags", "")
    ldflags: str = _key("ldflags", "")
    type: RecipeType = field(default="package", metadata={"key": "type"})
    cross_script: str | None = _key("cross-script", None)
    script: str | None = _key("script", None)
    post: str | None = _key("post", None)
    unvendor_tests: bool = _key("unvendor-tests", True)
    retain_test_patterns: tuple[str, ...] = _key("_retain-test-patterns", ())
    vendor_sharedlib: bool = _key("vendor-sharedlib", False)
    cross_build_env: bool = _key("cross-build-env", False)
    cross_build_files: tuple[str, ...] = _key("cross-build-files", ())


@dataclass(frozen=True)
class RequirementsSection:
    run: tuple[str, ...] = _key("run", ())
    host: tuple[str, ...] = _key("host", ())
    executable: tuple[str, ...] = _key("executable", ())
    constraint: tuple[str, ...] = _key("constraint", ())
    build_extras: tuple[str, ...] = _key("build-extras", ())


@dataclass(frozen=True)
class TestSection:
    imports: tuple[str, ...] = _key("imports", ())


@dataclass(frozen=True)
class AboutSection:
    home: str | None = _key("home", None)
    pypi: str | None = _key("PyPI", None)
    summary: str | None = _key("summary", None)
    license: str | None = _key("license", None)


@dataclass(frozen=True)
class Override:
    """What one platform family changes: any key of these sections replaces the recipe's."""

    source: Mapping[str, Any] = field(default_factory=dict)
    build: Mapping[str, Any] = field(default_factory=dict)
    requirements: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    """One ``meta.yaml``: what to fetch, how to build it and what it needs."""

    path: Path
    package: PackageSection
    source: SourceSection
    build: BuildSection
    requirements: RequirementsSection
    test: TestSection
    about: AboutSection
    overrides: Mapping[str, Override] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str:
        return self.package.version

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def is_library(self) -> bool:
        return self.build.type in LIBRARY_TYPES

    def for_family(self, family: str) -> Recipe:
        """This recipe with ``family``'s overrides applied (itself when there are none)."""
        override = self.overrides.get(family)
        if override is None:
            return self
        where = f"extra/omniwheel/platforms/{family}"
        recipe = replace(
            self,
            source=_structure(SourceSection, {**_raw(self.source), **override.source},
                              self.path, f"{where}/source"),
            build=_structure(BuildSection, {**_raw(self.build), **override.build},
                             self.path, f"{where}/build"),
            requirements=_structure(
                RequirementsSection,
                {**_raw(self.requirements), **override.requirements},
                self.path,
                f"{where}/requirements",
            ),
            overrides={},
        )  # fmt: skip
        _check_rules(recipe)
        return recipe


_SECTIONS: dict[str, type] = {
    "package": PackageSection,
    "source": SourceSection,
    "build": BuildSection,
    "requirements": RequirementsSection,
    "test": TestSection,
    "about": AboutSection,
}
_REQUIRED = {("package", "name"), ("package", "version")}


def load_recipe(path: Path | str) -> Recipe:
    """Read ``path`` (a ``meta.yaml`` or its directory) and check it against the schema."""
    path = Path(path)
    if path.is_dir():
        path = path / RECIPE_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RecipeError(f"{path}: cannot read recipe: {error.strerror or error}") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RecipeError(f"{path}: not valid YAML: {reason}") from error
    if not isinstance(document, dict):
        raise RecipeError(f"{path}: a recipe is a mapping with a 'package' section")
    sections: dict[str, Any] = {}
    for key, value in document.items():
        if key == "extra":
            continue
        if key not in _SECTIONS:
            raise RecipeError(
                f"{path}: unknown key {key!r} (known: {', '.join([*_SECTIONS, 'extra'])})"
            )
        sections[key] = _structure(_SECTIONS[key], value, path, key)
    if "package" not in sections:
        raise RecipeError(f"{path}: missing the 'package' section (name and version)")
    recipe = Recipe(
        path=path.resolve(),
        package=sections["package"],
        source=sections.get("source", SourceSection()),
        build=sections.get("build", BuildSection()),
        requirements=sections.get("requirements", RequirementsSection()),
        test=sections.get("test", TestSection()),
        about=sections.get("about", AboutSection()),
        overrides=_overrides(document.get("extra"), path),
    )
    _check_rules(recipe)
    for family in recipe.overrides:
        recipe.for_family(family)  # an override must itself make a valid recipe
    return recipe


def _structure(cls: type, value: Any, path: Path, where: str) -> Any:
    """Build the section dataclass ``cls`` from its YAML mapping, rejecting unknown keys."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise RecipeError(f"{path}: {where!r} must be a mapping, not {_kind(value)}")
    by_key = {f.metadata["key"]: f for f in fields(cls)}
    unknown = [key for key in value if key not in by_key]
    if unknown:
        raise RecipeError(
            f"{path}: unknown key '{where}/{unknown[0]}' (known in {where}: {', '.join(by_key)})"
        )
    arguments: dict[str, Any] = {}
    for key, item in by_key.items():
        if key in value:
            arguments[item.name] = _convert(item, value[key], path, f"{where}/{key}")
        elif (where.rsplit("/", 1)[-1], key) in _REQUIRED:
            raise RecipeError(f"{path}: missing required key '{where}/{key}'")
    return cls(**arguments)


def _convert(item: dataclasses.Field[Any], value: Any, path: Path, where: str) -> Any:
    """Check one value against its field's type; YAML numbers become strings where text is due."""
    annotation = str(item.type)
    if item.name == "exports":
        return _exports(value, path, where)
    if item.name == "extras":
        return _extras(value, path, where)
    if annotation.startswith("tuple[str"):
        if value is None:
            return ()
        if not isinstance(value, list) or not all(_is_scalar(entry) for entry in value):
            raise RecipeError(f"{path}: '{where}' must be a list of strings")
        return tuple(str(entry) for entry in value)
    if annotation == "bool":
        if not isinstance(value, bool):
            raise RecipeError(f"{path}: '{where}' must be true or false, not {value!r}")
        return value
    if annotation == "RecipeType":
        allowed = get_args(RecipeType)
        if value not in allowed:
            raise RecipeError(f"{path}: '{where}' is {value!r}; use one of {', '.join(allowed)}")
        return value
    if value is None and "None" in annotation:
        return None
    if not _is_scalar(value):
        raise RecipeError(f"{path}: '{where}' must be a string, not {_kind(value)}")
    return str(value)


def _exports(value: Any, path: Path, where: str) -> Exports | tuple[str, ...]:
    if isinstance(value, str) and value in get_args(Exports):
        return cast(Exports, value)
    if isinstance(value, list) and all(isinstance(entry, str) for entry in value):
        return tuple(value)
    raise RecipeError(
        f"{path}: '{where}' is {value!r}; use pyinit, requested, whole_archive or a list of symbols"
    )


def _extras(value: Any, path: Path, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    pairs: list[tuple[str, str]] = []
    for entry in value if isinstance(value, list) else [value]:
        if not (isinstance(entry, list) and len(entry) == 2 and all(map(_is_scalar, entry))):
            raise RecipeError(
                f"{path}: '{where}' must be a list of [file in the recipe dir, path in the source]"
            )
        pairs.append((str(entry[0]), str(entry[1])))
    return tuple(pairs)


def _overrides(extra: Any, path: Path) -> dict[str, Override]:
    """``extra/omniwheel/platforms/<family>/{source,build,requirements}``, strictly checked."""
    if not isinstance(extra, dict) or "omniwheel" not in extra:
        return {}
    ours = extra["omniwheel"]
    if not isinstance(ours, dict) or set(ours) - {"platforms"}:
        raise RecipeError(
            f"{path}: 'extra/omniwheel' holds only 'platforms' (per-family overrides)"
        )
    platforms = ours.get("platforms") or {}
    if not isinstance(platforms, dict):
        raise RecipeError(f"{path}: 'extra/omniwheel/platforms' must map a family to its overrides")
    overrides: dict[str, Override] = {}
    for family, sections in platforms.items():
        where = f"extra/omniwheel/platforms/{family}"
        if family not in OVERRIDE_FAMILIES:
            raise RecipeError(
                f"{path}: unknown platform family '{where}' (use {', '.join(OVERRIDE_FAMILIES)})"
            )
        if not isinstance(sections, dict):
            raise RecipeError(f"{path}: '{where}' must be a mapping of sections")
        unknown = set(sections) - {"source", "build", "requirements"}
        if unknown:
            raise RecipeError(
                f"{path}: unknown key '{where}/{sorted(unknown)[0]}' "
                "(an override changes source, build or requirements)"
            )
        overrides[family] = Override(
            **{name: dict(value or {}) for name, value in sections.items()}
        )
    return overrides


def _check_rules(recipe: Recipe) -> None:
    """The cross-key rules pyodide-build enforces, with the file named."""
    path, source, build = recipe.path, recipe.source, recipe.build
    if not _NAME.match(recipe.name):
        raise RecipeError(
            f"{path}: 'package/name' {recipe.name!r} may hold only letters, digits, '.', '-', '_'"
        )
    if source.url is not None and source.path is not None:
        raise RecipeError(f"{path}: 'source' has both 'url' and 'path'; keep one")
    if source.url is None and source.path is None:
        raise RecipeError(f"{path}: 'source' needs a 'url' (with 'sha256') or a 'path'")
    if source.url is not None and source.sha256 is None:
        raise RecipeError(f"{path}: 'source/url' needs 'source/sha256' so the download is checked")
    if source.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", source.sha256):
        raise RecipeError(f"{path}: 'source/sha256' must be 64 hexadecimal digits")
    is_wheel = source.url is not None and source.url.endswith(".whl")
    if (source.path is not None or is_wheel) and (source.patches or source.extras):
        kind = "a local path" if source.path is not None else "a wheel"
        raise RecipeError(
            f"{path}: 'source/patches' and 'source/extras' need an archive, not {kind}"
        )
    if is_wheel and recipe.requirements.host:
        raise RecipeError(f"{path}: a prebuilt wheel (source/url) cannot have host requirements")
    if is_wheel:
        for key in _changed_keys(build):
            if key not in _WHEEL_BUILD_KEYS:
                raise RecipeError(f"{path}: 'build/{key}' is not allowed when source is a wheel")
    if build.cross_build_files and not build.cross_build_env:
        raise RecipeError(
            f"{path}: 'build/cross-build-files' ships files to the cross build environment: "
            "it needs 'build/cross-build-env: true'"
        )
    for name in build.cross_build_files:
        problem = path_problem(name)
        if problem is not None or name.endswith("/"):
            raise RecipeError(
                f"{path}: 'build/cross-build-files' entry {name!r} "
                f"{problem or 'names a directory'}; list files by their path in the wheel"
            )
    if build.type in (*LIBRARY_TYPES, "cpython_module"):
        for key in _changed_keys(build):
            if key not in _LIBRARY_BUILD_KEYS:
                raise RecipeError(f"{path}: 'build/{key}' is not allowed in a {build.type} recipe")
    if recipe.is_library and not build.script:
        raise RecipeError(f"{path}: a {build.type} recipe needs 'build/script' to build it")


def _changed_keys(build: BuildSection) -> list[str]:
    """The build keys (YAML spelling) whose values differ from the defaults."""
    defaults = BuildSection()
    return [
        item.metadata["key"]
        for item in fields(BuildSection)
        if getattr(build, item.name) != getattr(defaults, item.name)
    ]


def _raw(section: Any) -> dict[str, Any]:
    """A section back in its YAML spelling, for merging overrides over it."""
    raw: dict[str, Any] = {}
    for item in fields(section):
        value = getattr(section, item.name)
        if isinstance(value, tuple):
            value = [list(entry) if isinstance(entry, tuple) else entry for entry in value]
        raw[item.metadata["key"]] = value
    return raw


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list) else repr(value)


def load_recipes(directory: Path | str) -> dict[str, Recipe]:
    """Every ``*/meta.yaml`` under ``directory``, by package name; a name used twice is an error.

    Names are compared canonically (``Foo_Bar`` is ``foo-bar``), as requirements find recipes.
    """
    root = Path(directory)
    if not root.is_dir():
        raise RecipeError(f"{root}: not a directory of recipes (one sub-directory per package)")
    by_key: dict[str, Recipe] = {}
    for meta in sorted(root.glob(f"*/{RECIPE_FILE}")):
        recipe = load_recipe(meta)
        same = by_key.setdefault(canonicalize_name(recipe.name), recipe)
        if same is not recipe:
            raise RecipeError(
                f"{meta}: package {recipe.name!r} is also defined by {same.path} as {same.name!r}"
            )
    if not by_key:
        raise RecipeError(f"{root}: no recipes found (expected {root}/<package>/{RECIPE_FILE})")
    return {recipe.name: recipe for recipe in by_key.values()}
