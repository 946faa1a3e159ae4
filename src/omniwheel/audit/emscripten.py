"""Emscripten: WebAssembly side modules, every needed library shipped, and where Pyodide
looks for it.

Pyodide unpacks a wheel into site-packages as it is (member ``a/b.so`` is
``<site-packages>/a/b.so``) and loads every ``.so`` of it up front. How a needed
name is then found depends on the release (``dylib_search`` in
``platforms/data/emscripten.toml``): 0.26/0.27 find a library loaded earlier by
its name, or look in ``<dist>.libs``, site-packages and the needing module's
directory tree; 0.28, 0.29 and 314 look only in site-packages itself and in the
module's ``dylink.0`` RUNTIME_PATH. A library the wheel ships elsewhere is
"Failed to find dynamic library" at install time.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from omniwheel.audit.allowlists import system_libraries
from omniwheel.audit.base import FamilyRules, Subject
from omniwheel.audit.findings import Finding
from omniwheel.binaries import WasmModule
from omniwheel.platforms import Platform
from omniwheel.platforms.data import EmscriptenAbi, emscripten_abis, load


class EmscriptenRules(FamilyRules):
    binary_format = "wasm"

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        module = cast(WasmModule, subject.binary)
        (arch,) = module.architectures
        if arch != subject.platform.arch:
            yield self.wrong_architecture(subject, arch, subject.platform.arch)
        if not module.is_side_module:
            yield subject.finding(
                "not-side-module", "is a WebAssembly module without a dylink.0 section"
            )
        yield from _unreachable_findings(subject, module)

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        return system_libraries("emscripten")


def _abi(platform: Platform) -> EmscriptenAbi | None:
    """The ABI row of ``platform`` (its Emscripten version names it)."""
    return next((abi for abi in emscripten_abis() if abi.emscripten == platform.min_os), None)


@dataclass(frozen=True)
class Unreachable:
    """A needed library the wheel ships only where the module's loader does not look."""

    library: str
    copies: tuple[str, ...]  # the members holding it, in archive order
    #: Whether the loader reads RUNTIME_PATH (Pyodide 0.28 on), so an ``$ORIGIN`` entry
    #: naming a copy's directory reaches it.
    runtime_path: bool


def unreachable_libraries(
    platform: Platform,
    module: WasmModule,
    member: str,
    members: Sequence[str],
    distribution: str,
) -> Iterator[Unreachable]:
    """The libraries ``module`` (at ``member``) needs that ``members``, every binary of the
    wheel in archive order, ship where Pyodide for ``platform`` would not find them."""
    abi = _abi(platform)
    if abi is None or abi.dylib_search is None:
        return
    searched = _runtime_path_dirs(abi, module, member)
    for library in module.needed:
        if "/" in library:
            continue  # a path, not a name to search for
        copies = tuple(m for m in members if posixpath.basename(m) == library)
        if not copies:
            continue  # not shipped at all: external-library says so
        if abi.dylib_search == "package":
            if not _found_by_package_loader(member, members, distribution, copies):
                yield Unreachable(library, copies, runtime_path=False)
        elif not any(posixpath.dirname(copy) in searched for copy in copies):
            yield Unreachable(library, copies, runtime_path=True)


def _unreachable_findings(subject: Subject, module: WasmModule) -> Iterator[Finding]:
    abi = _abi(subject.platform)
    if abi is None:
        return
    origin = posixpath.dirname(subject.member)
    for found in unreachable_libraries(
        subject.platform, module, subject.member, subject.members, subject.distribution
    ):
        library, copies = found.library, found.copies
        if found.runtime_path:
            relative = posixpath.relpath(posixpath.dirname(copies[0]) or ".", origin or ".")
            entry = "$ORIGIN" + ("" if relative == "." else f"/{relative}")
            fix = (f"add {entry} to the module's dylink.0 RUNTIME_PATH (wasm-ld -rpath), "
                   f"or ship {library} at the top of the wheel")  # fmt: skip
        else:
            fix = (f"ship {library} in {subject.distribution}.libs/, at the top of the wheel"
                   + (f" or under {origin}/" if origin else "")
                   + ", or before the module in the archive")  # fmt: skip
        yield subject.finding(
            "unreachable-side-module",
            f"needs {library}, which the wheel ships as {', '.join(copies)}, where "
            f"Pyodide {'/'.join(abi.pyodide)} does not look for it",
            fix=fix,
        )


def _found_by_package_loader(
    member: str, members: Sequence[str], distribution: str, copies: tuple[str, ...]
) -> bool:
    """Pyodide 0.26/0.27: a copy loaded before the module, or one in the directories its
    loader searches (``<dist>.libs``, site-packages, the module's directory and below)."""
    position = members.index(member)
    if any(members.index(copy) < position for copy in copies):
        return True
    origin = posixpath.dirname(member)
    for copy in copies:
        directory = posixpath.dirname(copy)
        if directory in ("", f"{distribution}.libs"):
            return True
        if not origin or directory == origin or directory.startswith(origin + "/"):
            return True
    return False


def _runtime_path_dirs(abi: EmscriptenAbi, module: WasmModule, member: str) -> set[str]:
    """Pyodide 0.28 to 314: the site-packages directories (relative, "" itself) searched for the
    needed names of ``member``: LD_LIBRARY_PATH's site-packages, then its RUNTIME_PATH."""
    site = load("emscripten")["site_packages"].format(python=abi.python.dotted)
    origin = posixpath.join(site, posixpath.dirname(member))
    runtime_path = module.dylink.runtime_path if module.dylink else ()
    directories = {""}
    for entry in runtime_path:
        if entry.startswith("$ORIGIN"):
            entry = origin + entry.removeprefix("$ORIGIN")
        path = posixpath.normpath(entry)
        if path.startswith(site + "/"):
            directories.add(path.removeprefix(site + "/"))
    return directories
