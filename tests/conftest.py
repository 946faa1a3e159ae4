"""Shared fixtures: real wheels from the index, and small wheels built on the spot."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

import realwheels


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use ``real_wheel`` need the index on first run, so mark them ``network``."""
    for item in items:
        if "real_wheel" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.network)


@pytest.fixture(scope="session")
def real_wheel() -> Callable[[str], Path]:
    """Factory: ``real_wheel("ios-device")`` is the cached, sha256-checked wheel's path."""
    return realwheels.fetch


def _record_row(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


MakeWheel = Callable[..., Path]


@pytest.fixture
def make_wheel(tmp_path: Path) -> MakeWheel:
    """Factory building a valid wheel in ``tmp_path`` from its filename and ``files``.

    WHEEL and METADATA are generated unless ``files`` gives them; RECORD is generated
    and passed through ``edit_record``; ``unlisted`` members are left out of RECORD.
    ``purelib=False`` makes WHEEL say ``Root-Is-Purelib: false``, as binary wheels do.
    """

    def build(
        filename: str,
        files: Mapping[str, bytes] = {"demo/__init__.py": b"x = 1\n"},
        *,
        edit_record: Callable[[str], str] = lambda text: text,
        unlisted: Mapping[str, bytes] = {},
        purelib: bool = True,
    ) -> Path:
        name, version, *_, python, abi, platform = filename.removesuffix(".whl").split("-")
        dist_info = f"{name}-{version}.dist-info"
        members = {
            f"{dist_info}/METADATA": (
                f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n".encode()
            ),
            f"{dist_info}/WHEEL": (
                f"Wheel-Version: 1.0\nGenerator: conftest\n"
                f"Root-Is-Purelib: {str(purelib).lower()}\n"
                f"Tag: {python}-{abi}-{platform}\n"
            ).encode(),
            **files,
        }
        rows = "".join(_record_row(path, data) for path, data in members.items())
        members[f"{dist_info}/RECORD"] = edit_record(f"{rows}{dist_info}/RECORD,,\n").encode()
        path = tmp_path / filename
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, data in {**members, **unlisted}.items():
                archive.writestr(member, data)
        return path

    return build


@pytest.fixture(scope="session")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEP 503 + PEP 691 tree of real wheels (``tests/localindex.py``); the ``simple`` dir."""
    import localindex

    return localindex.build_index(tmp_path_factory.mktemp("index"), localindex.fetch_all())


@pytest.fixture(scope="session")
def served_index(local_index: Path) -> Iterator[tuple[str, object]]:
    """``local_index`` served over 127.0.0.1 with PEP 691 negotiation: (index URL, request log)."""
    import localindex

    with localindex.serve(local_index.parent, json_pages=True) as served:
        yield served
