"""Repair a wheel: vendor the external libraries its binaries need, and point them at the copies.

One procedure serves every family; what differs sits behind ``_Vendoring``:

* ELF (manylinux, musllinux, Android): copies go to ``<dist>.libs/`` as auditwheel
  puts them, DT_NEEDED names the copy and DT_RUNPATH is ``$ORIGIN/<relative>``;
  for manylinux the tag becomes the oldest policy whose symbol versions and
  library list the repaired wheel satisfies.
* Mach-O (macOS, iOS): copies go to ``<package>/.dylibs/`` as delocate puts them,
  load commands say ``@loader_path/<relative>``, each copy's id is ``@rpath/<name>``,
  and every slice that was signed gets a fresh ad-hoc signature.
* WebAssembly (Emscripten side modules): copies go to ``<dist>.libs/`` too, the
  ``dylink.0`` needed entries name the copy and its ``RUNTIME_PATH`` becomes
  ``$ORIGIN/<relative>``, which is how Pyodide 0.29 finds it (see ``wasm_edit``).
  A library the wheel already ships where that loader does not look (the audit's
  ``unreachable-side-module``) gets its ``$ORIGIN/<relative>`` entry the same way.
* PE (Windows): copies go to ``<dist>.libs/`` as delvewheel puts them, import and
  delay-import descriptors name the copy, and the package's ``__init__.py`` adds
  that directory with ``os.add_dll_directory`` (``dll_directory``); a top-level
  module's copies go beside it instead. A signed binary that is edited loses its
  signature.

Libraries the platform provides (the audit's allowlists) are never vendored, and
the copies are named ``<stem>-<8 hex of sha256>.<rest>`` so two wheels vendoring
different builds of one library never clash in a process. The result is judged
before anything is written, as ``check`` would judge it, from what is already in
memory: the input's reading, with each edited binary parsed again from its new
bytes and the copies added. A repair never writes a wheel ``omniwheel check``
rejects, and the wheel is read once (plus the binaries it edits).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import itertools
import os
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from omniwheel.audit.check import BinaryMember, WheelReport, check_open_wheel, family_rules
from omniwheel.audit.emscripten import unreachable_libraries
from omniwheel.audit.findings import Finding, Severity
from omniwheel.binaries import (
    Binary,
    BinaryParseError,
    ElfFile,
    MachOFile,
    PeFile,
    WasmModule,
    parse_binary,
)
from omniwheel.errors import OmniwheelError, UsageError
from omniwheel.platforms import Platform, parse_platform
from omniwheel.platforms.linux import LinuxFamily
from omniwheel.rewrite.dll_directory import DllDirectoryPatch, dll_directory_patches, site_path
from omniwheel.rewrite.elf_edit import ElfChanges, edit_elf
from omniwheel.rewrite.libraries import LibraryFinder
from omniwheel.rewrite.macho_edit import MachOChanges, edit_macho
from omniwheel.rewrite.pe_edit import PeChanges, PeEditError, edit_pe
from omniwheel.rewrite.wasm_edit import WasmChanges, WasmEditError, edit_wasm
from omniwheel.wheel import Wheel, WheelFilename
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel

__all__ = ["Library", "RepairError", "RepairReport", "Rewrite", "repair_wheel"]


class RepairError(OmniwheelError):
    """The wheel cannot be repaired (a library is missing, a binary cannot be edited).

    ``report`` says what was found when the reason is missing libraries.
    """

    def __init__(self, message: str, report: RepairReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Library:
    """An external library: where it was found, where its copy lives, which members need it."""

    name: str
    needed_by: tuple[str, ...]
    source: str | None = None
    member: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "library": self.name,
            "source": self.source,
            "member": self.member,
            "needed_by": list(self.needed_by),
        }


@dataclass(frozen=True)
class Rewrite:
    """How one binary's references changed."""

    member: str
    references: dict[str, str]
    search_path: str | None  # the new DT_RUNPATH (ELF); None for Mach-O and PE
    identity: str | None  # the new DT_SONAME / LC_ID_DYLIB of a vendored copy
    signed: bool  # an ad-hoc signature was regenerated (Mach-O)
    signature_removed: bool = False  # an Authenticode signature the edit voided was dropped

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class RepairReport:
    """What ``repair_wheel`` did."""

    wheel: str
    status: str  # "repaired" or "unchanged"
    output: str | None
    platform_tags: tuple[str, ...]
    vendored: list[Library] = field(default_factory=list)
    rewritten: list[Rewrite] = field(default_factory=list)
    excluded: list[Library] = field(default_factory=list)
    missing: list[Library] = field(default_factory=list)
    #: ``__init__.py`` files patched (or created) so Windows finds the copies.
    patched: list[DllDirectoryPatch] = field(default_factory=list)
    #: ``check``'s report on the wheel at ``output`` (the input where nothing was written),
    #: judged on ``platform_tags``: callers need not read the result again.
    check: WheelReport | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.wheel,
            "status": self.status,
            "output": self.output,
            "platform_tags": list(self.platform_tags),
            "vendored": [library.to_json() for library in self.vendored],
            "rewritten": [rewrite.to_json() for rewrite in self.rewritten],
            "excluded": [library.to_json() for library in self.excluded],
            "missing": [library.to_json() for library in self.missing],
            "patched": [patch.to_json() for patch in self.patched],
        }


def repair_wheel(
    path: Path,
    output_dir: Path,
    *,
    platform: Platform | None = None,
    lib_path: Sequence[Path] = (),
    exclude: Sequence[str] = (),
    reading: WheelReport | None = None,
) -> RepairReport:
    """Write the repaired copy of ``path`` into ``output_dir`` and say what changed.

    ``platform`` defaults to the wheel's first platform tag (for ``linux_*``, the
    manylinux or musllinux family its binaries' libc names). ``exclude`` holds
    fnmatch patterns of libraries to leave external on purpose. ``reading`` is
    ``path``'s check report when the caller has one, so the wheel is not read again.
    Raises ``RepairError`` when a needed library is nowhere to be found or the
    result would not pass ``check``; the input is never modified.
    """
    with Wheel.open(path) as wheel:
        original = reading or check_open_wheel(wheel)
        return _repair(wheel, original, output_dir, platform, lib_path, exclude)


def _repair(
    wheel: Wheel,
    original: WheelReport,
    output_dir: Path,
    platform: Platform | None,
    lib_path: Sequence[Path],
    exclude: Sequence[str],
) -> RepairReport:
    path = wheel.path
    if wheel.filename.platform_tags == ("any",) or not original.binaries:
        raise UsageError(f"{path.name}: has no binaries, so there is nothing to repair")
    target = _target_platform(original, platform)
    vendoring = _VENDORING[family_rules(target.family.name).binary_format]
    finder = LibraryFinder(lib_path, target)
    plan, platform_tags = _choose_plan(original, target, finder, exclude, platform)
    filename = wheel.filename.with_platform_tags(platform_tags)
    report = RepairReport(
        wheel=str(path),
        status="unchanged",
        output=None,
        platform_tags=platform_tags,
        vendored=plan.libraries(),
        excluded=plan.listed(plan.excluded),
        missing=plan.listed(plan.missing),
    )
    if report.missing:
        names = ", ".join(library.name for library in report.missing)
        raise RepairError(
            f"{path.name}: cannot find {names} (needed by the wheel's binaries): "
            "add the directory holding it with --lib-path, or --exclude it",
            report,
        )
    shipped = vendoring.shipped_references(wheel, original, target)
    changes = _changes(wheel, plan, vendoring, filename, report, shipped)
    if not changes.files and changes.filename is None:
        report.output = str(path)  # nothing to vendor, nothing to retag: nothing to write
        report.check = _judged(_reading(original, path), filename)
        _refuse_errors(report.check, plan, path)  # and what is wrong, repair cannot fix
        return report
    output = output_dir / filename.filename
    if output.resolve() == path.resolve():
        raise UsageError(f"{path.name}: the repaired wheel would overwrite its input; choose -w")
    planned = _reading(original, output)
    planned.binaries = _patched(planned.binaries, changes.files, output)
    report.check = _judged(planned, filename)
    _refuse_errors(report.check, plan, output)
    output_dir.mkdir(parents=True, exist_ok=True)
    rewrite_wheel(wheel, changes, output)
    report.status, report.output = "repaired", str(output)
    return report


# -- choosing the target and the plan ---------------------------------------------------


def _target_platform(original: WheelReport, platform: Platform | None) -> Platform:
    """The platform asked for, else the wheel's own; ``linux_*`` becomes a portable family."""
    if platform is None:
        platform = parse_platform(original.wheel.filename.platform_tags[0])
    if platform.min_os is not None or platform.family.name != "linux-glibc":
        return platform
    libcs = {cast(ElfFile, item.binary).libc for item in original.binaries}
    family = "musllinux" if "musl" in libcs else "manylinux"
    return parse_platform(f"{family}-{platform.arch}")


def _choose_plan(
    original: WheelReport,
    target: Platform,
    finder: LibraryFinder,
    exclude: Sequence[str],
    requested: Platform | None,
) -> tuple[_Plan, tuple[str, ...]]:
    """The plan and the platform tags: for manylinux, the oldest policy the result fits."""
    name = Path(original.path).name
    if target.family.name != "linux-glibc":
        plan = _Plan.make(original, target, finder, exclude)
        tags = original.wheel.filename.platform_tags
        return plan, tags if target.wheel_tag in tags else (target.wheel_tag,)
    fixed = requested is not None and requested.min_os is not None
    # Oldest first: every manylinux policy defined for the CPU, or just the one asked for.
    binaries = [item.binary for item in original.binaries]
    rules = family_rules(target.family.name)
    candidates = [target] if fixed else rules.lowest_platforms(binaries, target)
    fitting: tuple[_Plan, Platform] | None = None
    for candidate in candidates:
        plan = _Plan.make(original, candidate, finder, exclude)
        too_new = plan.too_new_symbols(original, candidate)
        if too_new is None:
            if fixed or not plan.missing:
                return plan, _manylinux_tags(candidate)
            fitting = fitting or (plan, candidate)
        elif fixed:
            raise RepairError(
                f"{name}: {too_new.member} {too_new.message}; ask for a newer --platform "
                "or rebuild against an older glibc"
            )
    if fitting is None:
        raise RepairError(
            f"{name}: its binaries need symbol versions newer than any manylinux policy allows"
        )
    # Some library is missing under every policy: report it against the oldest that fits.
    return fitting[0], _manylinux_tags(fitting[1])


def _manylinux_tags(platform: Platform) -> tuple[str, ...]:
    """``manylinux_X_Y_arch``, then its legacy alias (manylinux2014 …) when it has one."""
    assert platform.min_os is not None
    glibc = (platform.min_os[0], platform.min_os[1])
    family = cast(LinuxFamily, platform.family)
    first, *rest = itertools.islice(family.libc_tags(platform.arch, glibc), 2)
    return (first, *(tag for tag in rest if not tag.startswith("manylinux_")))


@dataclass
class _Node:
    """A binary whose references may move: one of the wheel's, or a copy to be vendored."""

    binary: Binary
    member: str  # its path in the repaired wheel (a copy's is set once its content is hashed)
    source: Path | None = None  # where a copy comes from; None for the wheel's own binaries
    name: str = ""  # the name a copy was needed by
    references: dict[str, Path] = field(default_factory=dict)  # needed name -> copy's key
    needed_by: list[_Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How reports name it: its member, or for a copy not yet placed, the name it had."""
        return self.member or self.name


@dataclass
class _Plan:
    """Which libraries get copied, and which references of which binaries move to the copies."""

    nodes: list[_Node]
    copies: dict[Path, _Node]  # by resolved source, so aliases (libfoo.so -> .so.1) share one
    missing: dict[str, list[_Node]]  # library name -> the binaries needing it
    excluded: dict[str, list[_Node]]

    @classmethod
    def make(
        cls,
        original: WheelReport,
        platform: Platform,
        finder: LibraryFinder,
        exclude: Sequence[str],
    ) -> _Plan:
        """Walk the needed libraries breadth first, the copies' own needs included."""
        rules = family_rules(platform.family.name)
        excluded = [rules.fold(pattern) for pattern in exclude]
        shipped = frozenset(rules.fold(posixpath.basename(b.member)) for b in original.binaries)
        plan = cls([_Node(item.binary, item.member) for item in original.binaries], {}, {}, {})
        for node in plan.nodes:  # grows while it is walked
            for name in node.binary.needed:
                if not rules.is_external(name, platform, shipped):
                    continue
                if any(fnmatch.fnmatchcase(rules.fold(name), pattern) for pattern in excluded):
                    plan.excluded.setdefault(name, []).append(node)
                    continue
                source = finder.find(name, node.binary)
                if source is None:
                    plan.missing.setdefault(name, []).append(node)
                    continue
                key = source.resolve()
                if key not in plan.copies:
                    library = finder.parse(source)
                    assert library is not None  # find() only returns parsable files
                    plan.copies[key] = _Node(library, "", source, name)
                    plan.nodes.append(plan.copies[key])
                plan.copies[key].needed_by.append(node)
                node.references[name] = key
        return plan

    def too_new_symbols(self, original: WheelReport, platform: Platform) -> Finding | None:
        """The audit's symbol-version finding for the first binary or copy too new for it."""
        trial = original.renamed({})
        trial.binaries += [BinaryMember(c.label, c.binary) for c in self.copies.values()]
        found = trial.judge(platform.wheel_tag, platform)
        return next((f for f in found if f.code == "symbol-versions-too-new"), None)

    def libraries(self) -> list[Library]:
        return [
            Library(
                copy.name,
                tuple(dict.fromkeys(node.label for node in copy.needed_by)),
                str(copy.source),
                copy.member or None,
            )
            for copy in self.copies.values()
        ]

    @staticmethod
    def listed(found: dict[str, list[_Node]]) -> list[Library]:
        return [
            Library(name, tuple(dict.fromkeys(node.label for node in nodes)))
            for name, nodes in found.items()
        ]


# -- applying the plan --------------------------------------------------------------------


def _changes(
    wheel: Wheel,
    plan: _Plan,
    vendoring: _Vendoring,
    filename: WheelFilename,
    report: RepairReport,
    shipped: dict[str, dict[str, str]],
) -> WheelChanges:
    """Hash and place the copies, then rewrite every binary with a moved reference or a
    library the wheel ships that its search path must reach (``shipped``, by member)."""
    needers = [node.member for node in plan.nodes if node.source is None and node.references]
    libs_dir = vendoring.libs_dir(wheel, needers)
    originals: dict[str, bytes] = {}  # a copy's member -> the library's bytes, read once
    for key, copy in plan.copies.items():
        data = key.read_bytes()
        copy.member = posixpath.join(libs_dir, _unique_name(copy.name, data))
        originals[copy.member] = data
    report.vendored, report.excluded = plan.libraries(), plan.listed(plan.excluded)
    changes = WheelChanges(filename=None if filename == wheel.filename else filename)
    for node in plan.nodes:
        is_copy = node.source is not None
        moved = {name: plan.copies[key].member for name, key in node.references.items()}
        moved |= shipped.get(node.member, {})
        if not moved and not is_copy:
            continue
        data = originals[node.member] if is_copy else wheel.read_bytes(node.member)
        changes.files[node.member], rewrite = vendoring.rewrite(
            node.member, data, node.binary, moved, is_copy
        )
        if rewrite.references or rewrite.identity or rewrite.search_path:
            report.rewritten.append(rewrite)  # not a DLL copy the edit left as it was
        if is_copy:
            changes.modes[node.member] = 0o755
    for patch, content in vendoring.loader_patches(wheel, libs_dir, needers):
        changes.files[patch.member] = content
        report.patched.append(patch)
    return changes


def _unique_name(name: str, content: bytes) -> str:
    """``libfoo.so.1`` -> ``libfoo-1a2b3c4d.so.1``: the content hash keeps builds apart."""
    stem, dot, rest = posixpath.basename(name).partition(".")
    return f"{stem}-{hashlib.sha256(content).hexdigest()[:8]}{dot}{rest}"


# -- judging the result before it is written ----------------------------------------------


def _reading(original: WheelReport, path: Path) -> WheelReport:
    """``original``'s reading, judged on nothing yet, as the reading of the file at ``path``."""
    reading = original.renamed({})
    reading.path, reading.read_findings = os.fspath(path), original.read_findings
    return reading


def _patched(
    binaries: list[BinaryMember], files: dict[str, bytes], output: Path
) -> list[BinaryMember]:
    """``binaries`` with each edited one parsed from its new bytes, and the copies added;
    the other files (patched ``__init__.py``) are no binaries."""
    known = {item.member for item in binaries}
    parsed = {}
    for member, data in files.items():
        try:
            binary = parse_binary(data)
        except BinaryParseError as error:
            raise RepairError(
                f"{output.name}: the edited {member} does not parse: {error}"
            ) from error
        if binary is None:
            assert member not in known  # an edit keeps the magic
            continue
        parsed[member] = BinaryMember(member, binary)
    return [parsed.pop(item.member, item) for item in binaries] + list(parsed.values())


def _judged(reading: WheelReport, filename: WheelFilename) -> WheelReport:
    """``reading`` judged on every platform ``filename`` claims."""
    reading.claim(filename.ordered_tags)
    return reading


def _refuse_errors(report: WheelReport, plan: _Plan, output: Path) -> None:
    """Fail unless ``report`` is clean, bar the libraries --exclude left external."""
    tolerated = {node.member for nodes in plan.excluded.values() for node in nodes}
    errors = [
        f
        for f in report.findings
        if f.severity is Severity.ERROR
        and not (f.code == "external-library" and f.member in tolerated)
    ]
    if errors:
        first = errors[0]
        raise RepairError(
            f"{output.name}: the repaired wheel would fail check ({first.code} in "
            f"{first.member}: {first.message}); nothing was written"
        )


class _Vendoring(ABC):
    """Where one binary format's copies go and how references to them are written."""

    @abstractmethod
    def libs_dir(self, wheel: Wheel, needers: list[str]) -> str:
        """The wheel directory the copies go to."""

    @abstractmethod
    def rewrite(
        self, member: str, data: bytes, binary: Binary, references: dict[str, str], is_copy: bool
    ) -> tuple[bytes, Rewrite]:
        """``data`` (``binary``, at ``member``) with each needed name naming its copy's member."""

    def loader_patches(
        self, wheel: Wheel, libs_dir: str, needers: list[str]
    ) -> list[tuple[DllDirectoryPatch, bytes]]:
        """Files to add or replace so the loader looks in ``libs_dir``; the references do
        that by themselves where they carry a path (ELF, Mach-O, WebAssembly)."""
        return []

    def shipped_references(
        self, wheel: Wheel, original: WheelReport, platform: Platform
    ) -> dict[str, dict[str, str]]:
        """By binary member: libraries the wheel ships where ``platform``'s loader would not
        look, each with the copy the binary's search path should reach (WebAssembly only)."""
        return {}


def _dist_libs(wheel: Wheel) -> str:
    """``<dist>.libs``: where auditwheel and delvewheel put the copies."""
    return f"{wheel.filename.name.replace('-', '_')}.libs"


class _ElfVendoring(_Vendoring):
    def libs_dir(self, wheel: Wheel, needers: list[str]) -> str:
        return _dist_libs(wheel)

    def rewrite(
        self, member: str, data: bytes, binary: Binary, references: dict[str, str], is_copy: bool
    ) -> tuple[bytes, Rewrite]:
        names = {name: posixpath.basename(path) for name, path in references.items()}
        origin = _origin_paths(member, references)
        elf = cast(ElfFile, binary)
        kept = [entry for entry in elf.runpath or elf.rpath if entry.startswith("$ORIGIN")]
        # Copies also lose their absolute (build machine) search paths.
        runpath = list(dict.fromkeys([*sorted(origin), *kept])) if references or is_copy else None
        soname = posixpath.basename(member) if is_copy else None
        edited = edit_elf(data, ElfChanges(needed=names, soname=soname, runpath=runpath))
        search = ":".join(runpath) if runpath else None
        return edited, Rewrite(member, names, search, soname, False)


def _origin_paths(member: str, references: dict[str, str]) -> set[str]:
    """``$ORIGIN/<dir>`` for each directory of ``references``' members, relative to ``member``."""
    directory = posixpath.dirname(member) or "."
    relative = (posixpath.relpath(posixpath.dirname(p), directory) for p in references.values())
    return {"$ORIGIN" + ("" if rel == "." else f"/{rel}") for rel in relative}


class _WasmVendoring(_ElfVendoring):
    """Copies go to ``<dist>.libs/`` as for ELF; side modules have no soname to set."""

    def shipped_references(
        self, wheel: Wheel, original: WheelReport, platform: Platform
    ) -> dict[str, dict[str, str]]:
        """Where Pyodide reads RUNTIME_PATH (0.28 on), the audit's unreachable libraries."""
        members = tuple(item.member for item in original.binaries)
        distribution = wheel.filename.name.replace("-", "_")
        found: dict[str, dict[str, str]] = {}
        for item in original.binaries:
            if not isinstance(item.binary, WasmModule):
                continue  # wrong-binary-format, nothing repair can change
            for library in unreachable_libraries(
                platform, item.binary, item.member, members, distribution
            ):
                if library.runtime_path:
                    found.setdefault(item.member, {})[library.library] = library.copies[0]
        return found

    def rewrite(
        self, member: str, data: bytes, binary: Binary, references: dict[str, str], is_copy: bool
    ) -> tuple[bytes, Rewrite]:
        """A shipped library keeps its name (a reference to itself); the entries the module
        had stay after the new ones."""
        names = {
            name: posixpath.basename(path)
            for name, path in references.items()
            if posixpath.basename(path) != name
        }
        dylink = cast(WasmModule, binary).dylink
        kept = dylink.runtime_path if dylink else ()
        runtime_path = (
            list(dict.fromkeys([*sorted(_origin_paths(member, references)), *kept]))
            if references
            else None
        )
        try:
            edited = edit_wasm(data, WasmChanges(needed=names, runtime_path=runtime_path))
        except WasmEditError as error:
            raise RepairError(f"{member}: {error}") from error
        search = ":".join(runtime_path) if runtime_path else None
        return edited, Rewrite(member, names, search, None, False)


class _MachOVendoring(_Vendoring):
    def libs_dir(self, wheel: Wheel, needers: list[str]) -> str:
        """``<package>/.dylibs`` beside the first package needing a copy (delocate's layout)."""
        packages = [member.split("/", 1)[0] for member in needers if "/" in member]
        top = packages[0] if packages else wheel.filename.name.replace("-", "_")
        return f"{top}/.dylibs"

    def rewrite(
        self, member: str, data: bytes, binary: Binary, references: dict[str, str], is_copy: bool
    ) -> tuple[bytes, Rewrite]:
        directory = posixpath.dirname(member) or "."
        names = {
            name: "@loader_path/" + posixpath.relpath(path, directory)
            for name, path in references.items()
        }
        identity = f"@rpath/{posixpath.basename(member)}" if is_copy else None
        edited = edit_macho(data, MachOChanges(dylibs=names, id_dylib=identity))
        signed = edited != data and any(p.is_signed for p in cast(MachOFile, binary).slices)
        return edited, Rewrite(member, names, None, identity, signed)


class _PeVendoring(_Vendoring):
    def libs_dir(self, wheel: Wheel, needers: list[str]) -> str:
        """``<dist>.libs``, or the top level when a top-level module (no package to patch)
        needs a copy."""
        top_level = any("/" not in site_path(member, wheel.data_dir) for member in needers)
        return "" if top_level else _dist_libs(wheel)

    def rewrite(
        self, member: str, data: bytes, binary: Binary, references: dict[str, str], is_copy: bool
    ) -> tuple[bytes, Rewrite]:
        names = {name: posixpath.basename(path) for name, path in references.items()}
        try:
            edited = edit_pe(data, PeChanges(dlls=names))
        except PeEditError as error:
            raise RepairError(f"{member}: cannot rename the DLLs it imports: {error}") from error
        unsigned = edited != data and cast(PeFile, binary).is_signed
        return edited, Rewrite(member, names, None, None, False, unsigned)

    def loader_patches(
        self, wheel: Wheel, libs_dir: str, needers: list[str]
    ) -> list[tuple[DllDirectoryPatch, bytes]]:
        """Each package's ``__init__.py`` adds ``libs_dir`` (created where there is none)."""
        members = [member.name for member in wheel.members()]
        return dll_directory_patches(needers, members, wheel.data_dir, libs_dir, wheel.read_bytes)


# Every binary format's references can be rewritten.
_VENDORING: dict[str, _Vendoring] = {
    "elf": _ElfVendoring(),
    "macho": _MachOVendoring(),
    "wasm": _WasmVendoring(),
    "pe": _PeVendoring(),
}
