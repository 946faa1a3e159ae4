"""Make Windows find a wheel's vendored DLLs: a patch to the package's ``__init__.py``.

Since Python 3.8 the DLLs an extension module imports are looked up in the system
directories, the module's own directory and the directories given to
``os.add_dll_directory`` — not on PATH, and not beside the DLLs themselves. So,
as delvewheel does, the copies go to ``<dist>.libs/`` beside the packages and the
package importing them adds that directory when it is imported, which Python
does before it loads any extension module inside it:

* the patched ``__init__.py`` is the outermost one on the module's path, so a
  regular package inside a namespace package is patched and the namespace left
  alone; only when no directory on the way has one is ``<top>/__init__.py``
  created (the namespace then becomes a regular package, as with delvewheel);
* a module at the top level has no package: its copies go beside it instead,
  where the loader looks anyway (delvewheel's layout too).

The patch goes after the docstring and ``from __future__`` imports, between two
marker comments; a second repair replaces what is between them, so the patch
never doubles.
"""

from __future__ import annotations

import ast
import io
import posixpath
import re
import tokenize
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from omniwheel.errors import OmniwheelError

__all__ = [
    "DllDirectoryError",
    "DllDirectoryPatch",
    "dll_directory_patches",
    "init_files",
    "patch_init",
    "site_path",
]


class DllDirectoryError(OmniwheelError):
    """An ``__init__.py`` cannot be patched (it does not parse, or has no place for the patch)."""


START = "# start omniwheel dll-directory patch"
END = "# end omniwheel dll-directory patch"
_TEMPLATE = """\
{start}
def _omniwheel_add_dll_directory():
    import os

    directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), {parts})
    if hasattr(os, "add_dll_directory") and os.path.isdir(directory):
        os.add_dll_directory(os.path.normpath(directory))


_omniwheel_add_dll_directory()
del _omniwheel_add_dll_directory
{end}
"""
_BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END) + r"[^\n]*\n?", re.DOTALL)
_SITE_SCHEMES = ("purelib", "platlib")


@dataclass(frozen=True)
class DllDirectoryPatch:
    """One patched (or created) ``__init__.py`` and the directory it adds."""

    member: str
    dll_directory: str  # relative to site-packages; "" is site-packages itself
    created: bool

    def to_json(self) -> dict[str, Any]:
        return {"member": self.member, "dll_directory": self.dll_directory, "created": self.created}


def _installed(member: str, data_dir: str) -> str | None:
    """Where ``member`` is installed, relative to site-packages; None outside it (scripts…)."""
    if not member.startswith(data_dir + "/"):
        return member
    scheme, _, rest = member.removeprefix(data_dir + "/").partition("/")
    return rest if scheme in _SITE_SCHEMES else None


def site_path(member: str, data_dir: str) -> str:
    """Where the binary ``member`` is installed, relative to site-packages; outside it (the
    ``.data`` scripts, say) no ``__init__.py`` can add a DLL directory for it."""
    installed = _installed(member, data_dir)
    if installed is None:
        raise DllDirectoryError(
            f"{member} is installed outside site-packages, where nothing can add the "
            "vendored DLLs' directory for it"
        )
    return installed


def dll_directory_patches(
    needers: list[str],
    members: Collection[str],
    data_dir: str,
    libs_dir: str,
    read: Callable[[str], bytes],
) -> list[tuple[DllDirectoryPatch, bytes]]:
    """The patched (or new) ``__init__.py`` files that make ``needers`` (binaries of the
    wheel whose ``members`` are given, read with ``read``) find ``libs_dir``. Copies an
    earlier repair put in ``libs_dir`` need none; a file already patched alike is left out."""
    modules = [m for m in needers if posixpath.dirname(site_path(m, data_dir)) != libs_dir]
    patches = []
    for init, exists in init_files(modules, members, data_dir).items():
        source = read(init) if exists else None
        package = posixpath.dirname(site_path(init, data_dir))
        patched = patch_init(source, package, libs_dir, init)
        if patched != source:
            patches.append((DllDirectoryPatch(init, libs_dir, not exists), patched))
    return patches


def init_files(needers: list[str], members: Collection[str], data_dir: str) -> dict[str, bool]:
    """The ``__init__.py`` to patch for each module in ``needers`` (a package member): the
    outermost one on its path, else its top-level package's, created. Value: whether it exists.

    A module at the top level needs none and gets none.
    """
    by_site = {_installed(member, data_dir): member for member in members}
    found: dict[str, bool] = {}
    for needer in needers:
        installed = site_path(needer, data_dir)
        prefix = needer.removesuffix(installed)
        parts = installed.split("/")[:-1]
        if not parts:
            continue
        candidates = ["/".join(parts[: depth + 1]) + "/__init__.py" for depth in range(len(parts))]
        existing = next((by_site[c] for c in candidates if c in by_site), None)
        if existing is not None:
            found.setdefault(existing, True)
        else:
            found.setdefault(prefix + candidates[0], False)
    return found


def patch_init(source: bytes | None, package: str, libs_dir: str, member: str) -> bytes:
    """``source`` (``None``: a new file) with the patch adding ``libs_dir`` for ``package``
    (both relative to site-packages). ``member`` names the file in errors."""
    relative = posixpath.relpath(libs_dir or ".", package)
    parts = ", ".join(repr(part) for part in relative.split("/"))
    block = _TEMPLATE.format(start=START, end=END, parts=parts)
    if not source:
        return block.encode()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
        ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, ValueError) as error:
        raise DllDirectoryError(
            f"{member}: cannot patch a file Python cannot parse: {error}"
        ) from error
    newline = "\r\n" if "\r\n" in text.partition("\n")[0] + "\n" else "\n"
    block = block.replace("\n", newline)
    if START in text and END in text:
        patched = _BLOCK.sub(lambda _: block, text, count=1)
    else:
        lines = text.splitlines(keepends=True)
        at = _insertion_line(text, lines, member)
        before = "".join(lines[:at])
        if before and not before.endswith(("\n", "\r")):
            before += newline
        after = "".join(lines[at:])
        patched = (
            before
            + (newline * 2 if before.strip() else "")
            + block
            + (newline + after.lstrip("\r\n") if after.strip() else "")
        )
    return patched.encode(encoding)


def _insertion_line(text: str, lines: list[str], member: str) -> int:
    """The index of the line the patch goes before: after the docstring and ``__future__``
    imports, else after the leading comments (shebang, encoding cookie, licence)."""
    body = ast.parse(text).body
    last: ast.stmt | None = None
    for index, statement in enumerate(body):
        is_docstring = (
            index == 0
            and isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        )
        is_future = isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
        if not (is_docstring or is_future):
            break
        last = statement
    if last is None:
        return next(
            (
                i
                for i, line in enumerate(lines)
                if line.strip() and not line.lstrip().startswith("#")
            ),
            len(lines),
        )
    assert last.end_lineno is not None and last.end_col_offset is not None
    line = lines[last.end_lineno - 1]
    rest = line.encode("utf-8")[last.end_col_offset :].decode("utf-8").strip()
    if rest and not rest.startswith("#"):
        raise DllDirectoryError(
            f"{member}: line {last.end_lineno} goes on after the docstring or __future__ "
            f"import ({rest!r}); put it on a line of its own"
        )
    return last.end_lineno
