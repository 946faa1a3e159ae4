"""Run ``omniwheel serve`` for tests: a real server process on 127.0.0.1, ephemeral port.

Clients (pip, uv, twine) run with an environment stripped of this machine's
package-index settings, so the index under test is the only one they can see.
Also the module-scoped ``server`` and ``tokens`` fixtures over a test module's own
``root`` fixture (import ``server_fixture`` / ``tokens_fixture`` to use them).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from omniwheel.index import PackageIndex, create_token
from omniwheel.wheel import WheelFilename
from omniwheel.wheel.writer import WheelChanges, rewrite_wheel

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_env(**extra: str) -> dict[str, str]:
    """The environment for pip, uv and twine: no index, proxy or config from the machine."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "TWINE_", "OMNIWHEEL_INDEX_"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


class Server:
    """A running ``omniwheel serve``; ``url`` has no trailing slash."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    @property
    def simple(self) -> str:
        return f"{self.url}/simple/"

    def kill(self) -> None:
        """Die at once, as a crash or power cut would: no cleanup runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@contextmanager
def serve(
    root: Path, *, workers: int = 1, env: dict[str, str] | None = None, timeout: float = 30
) -> Iterator[Server]:
    """Start the server on ``root`` and wait until it answers; stop it afterwards."""
    port = free_port()
    log = root.parent / f"{root.name}-server-{port}.log"
    command = [str(VENV_BIN / "omniwheel"), "serve", "--root", str(root), "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    process_env = {**client_env(), **(env or {})}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=process_env
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {log.read_text()[-3000:]}")
            try:
                httpx.get(server.simple, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the server did not start: {log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run a client; the result keeps stdout and stderr for the assertion message."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=env or client_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def retag(wheel: Path, platform_tag: str, into: Path) -> Path:
    """A copy of ``wheel`` claiming ``platform_tag``: new filename, WHEEL and RECORD, same binaries.

    This is what a careless ``wheel tags --platform-tag`` does; the index must refuse it.
    """
    filename = dataclasses.replace(WheelFilename.parse(wheel), platform_tags=(platform_tag,))
    return rewrite_wheel(wheel, WheelChanges(filename=filename), into / filename.filename)


@pytest.fixture(scope="module", name="server")
def server_fixture(root: Path) -> Iterator[Server]:
    """``omniwheel serve`` over the module's ``root``."""
    with serve(root) as running:
        yield running


@pytest.fixture(scope="module", name="tokens")
def tokens_fixture(root: Path) -> dict[str, str]:
    """Tokens of ``root``: ``admin`` (every project), ``ci`` (iniconfig only), ``old`` (revoked)."""
    index = PackageIndex(root)
    _, everything = create_token(index.db, "admin")
    _, scoped = create_token(index.db, "ci", ["iniconfig"])
    _, revoked = create_token(index.db, "old")
    index.db.revoke_token("old")
    index.close()
    return {"admin": everything, "ci": scoped, "old": revoked}
