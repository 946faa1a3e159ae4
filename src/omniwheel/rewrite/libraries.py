"""Finding, on disk, the libraries a wheel's binaries need, the way each target's loader would.

``--lib-path`` directories come first, for every family: they are how a
cross build (Android NDK sysroot, iOS build tree, a Windows SDK copy) says where
its libraries are. The host's own search path (``LD_LIBRARY_PATH``, the binary's
absolute RUNPATH, ``/etc/ld.so.conf`` and the default directories) is used only
when the target is the host itself, since a library of another libc or CPU would
load nowhere. Every candidate is parsed and kept only if it is the same kind of
binary as the one needing it, as ld.so skips a wrong-class library and goes on.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import platform as host
import posixpath
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

from omniwheel.binaries import Binary, BinaryParseError, ElfFile, MachOFile, parse_binary
from omniwheel.platforms import Platform

__all__ = ["LibraryFinder", "host_library_directories", "is_host"]

_LD_SO_CONF = Path("/etc/ld.so.conf")
_DEFAULT_DIRECTORIES = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
_ELF_FAMILIES = {"linux-glibc": "glibc", "linux-musl": "musl"}


def is_host(platform: Platform) -> bool:
    """Whether ``platform`` is the Linux machine we run on (same CPU and C library)."""
    libc = _ELF_FAMILIES.get(platform.family.name)
    if sys.platform != "linux" or libc is None:
        return False
    host_libc = "glibc" if host.libc_ver()[0] == "glibc" else "musl"
    return host_libc == libc and platform.family.platform_machine(platform) == host.machine()


@cache
def host_library_directories() -> tuple[Path, ...]:
    """``/etc/ld.so.conf`` (with its includes), then the loader's built-in directories."""
    found = [*_ld_so_conf(_LD_SO_CONF, set()), *map(Path, _DEFAULT_DIRECTORIES)]
    multiarch = f"{host.machine()}-linux-gnu"
    found += [Path(d, multiarch) for d in _DEFAULT_DIRECTORIES[:2]]
    return tuple(dict.fromkeys(d for d in found if d.is_dir()))


def _ld_so_conf(path: Path, seen: set[Path]) -> Iterator[Path]:
    """Directories listed in an ld.so.conf file; ``include`` globs are followed once each."""
    if path in seen or not path.is_file():
        return
    seen.add(path)
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("hwcap "):
            continue
        if line.startswith("include "):
            pattern = path.parent / line.split(None, 1)[1]  # relative to the including file
            root = Path(pattern.anchor)
            for included in sorted(root.glob(str(pattern.relative_to(root)))):
                yield from _ld_so_conf(included, seen)
        else:
            yield from (Path(entry) for entry in line.replace(":", " ").split())


class LibraryFinder:
    """Locates one family's libraries; caches parses, since one library serves many binaries."""

    def __init__(self, lib_path: Sequence[Path], platform: Platform) -> None:
        self.lib_path = tuple(lib_path)
        self.platform = platform
        self.host = is_host(platform)
        self._parsed: dict[Path, Binary | None] = {}

    def parse(self, path: Path) -> Binary | None:
        """The binary at ``path`` (None if unreadable, empty or not a binary).

        The file is mapped, not read: the reader touches only the pages holding headers
        and the tables it needs, and most candidates are looked at and passed over.
        """
        resolved = path.resolve()
        if resolved not in self._parsed:
            self._parsed[resolved] = None
            with contextlib.suppress(OSError, BinaryParseError), resolved.open("rb") as handle:
                if os.fstat(handle.fileno()).st_size:  # an empty file cannot be mapped
                    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                        self._parsed[resolved] = parse_binary(mapped)
        return self._parsed[resolved]

    def find(self, name: str, needed_by: Binary) -> Path | None:
        """The first file named ``name`` that can satisfy ``needed_by``'s loader, or None."""
        if isinstance(needed_by, ElfFile):
            return self._first(self._elf_candidates(name, needed_by), _same_elf(needed_by))
        if isinstance(needed_by, MachOFile):
            return self._first(self._macho_candidates(name, needed_by), _has_slices(needed_by))
        return self._first(self._named_in_lib_path(name, fold=True), _same_format(needed_by))

    def _first(self, candidates: Iterator[Path], fits: Callable[[Binary], bool]) -> Path | None:
        for candidate in candidates:
            if candidate.is_file():
                binary = self.parse(candidate)
                if binary is not None and fits(binary):
                    return candidate
        return None

    def _elf_candidates(self, name: str, needed_by: ElfFile) -> Iterator[Path]:
        if "/" in name:  # a path in DT_NEEDED is used as it is
            yield Path(name)
            return
        directories = list(self.lib_path)
        if self.host:
            directories += [Path(d) for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
            search = needed_by.runpath or needed_by.rpath
            directories += [Path(d) for d in search if d.startswith("/")]
            directories += host_library_directories()
        yield from (directory / name for directory in directories)

    def _macho_candidates(self, name: str, needed_by: MachOFile) -> Iterator[Path]:
        """``@rpath/x`` through the absolute LC_RPATHs, then every name by basename."""
        if name.startswith("@rpath/"):
            rest = name.removeprefix("@rpath/")
            rpaths = {r for s in needed_by.slices for r in s.rpaths if r.startswith("/")}
            yield from (Path(r, rest) for r in sorted(rpaths))
            yield from (Path(directory, rest) for directory in self.lib_path)
        yield from self._named_in_lib_path(posixpath.basename(name), fold=False)
        if name.startswith("/"):
            yield Path(name)

    def _named_in_lib_path(self, name: str, *, fold: bool) -> Iterator[Path]:
        """``name`` in each ``--lib-path`` directory; ``fold`` matches case-insensitively (DLLs)."""
        for directory in self.lib_path:
            if not fold:
                yield directory / name
            elif directory.is_dir():
                yield from sorted(p for p in directory.iterdir() if p.name.lower() == name.lower())


def _same_elf(needed_by: ElfFile) -> Callable[[Binary], bool]:
    def fits(binary: Binary) -> bool:
        return isinstance(binary, ElfFile) and (
            binary.elf_class,
            binary.endianness,
            binary.e_machine,
        ) == (needed_by.elf_class, needed_by.endianness, needed_by.e_machine)

    return fits


def _has_slices(needed_by: MachOFile) -> Callable[[Binary], bool]:
    def fits(binary: Binary) -> bool:
        return isinstance(binary, MachOFile) and set(needed_by.architectures) <= set(
            binary.architectures
        )

    return fits


def _same_format(needed_by: Binary) -> Callable[[Binary], bool]:
    def fits(binary: Binary) -> bool:
        return binary.format == needed_by.format and set(needed_by.architectures) == set(
            binary.architectures
        )

    return fits
