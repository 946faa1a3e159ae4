"""Run ``omniwheel serve`` for tests: a real server process on 127.0.0.1, ephemeral port.

Clients (pip, uv, twine) run with an environment stripped of this machine's
package-index settings, so the index under test is the only one they can see.
"""

from __future__ import annotations

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
    import base64
    import hashlib
    import zipfile

    name, version, python, abi, _ = wheel.name.removesuffix(".whl").split("-")
    target = into / f"{name}-{version}-{python}-{abi}-{platform_tag}.whl"
    with zipfile.ZipFile(wheel) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    wheel_file = next(path for path in members if path.endswith(".dist-info/WHEEL"))
    lines = [
        f"Tag: {python}-{abi}-{platform_tag}" if line.startswith("Tag:") else line
        for line in members[wheel_file].decode().splitlines()
    ]
    members[wheel_file] = ("\n".join(dict.fromkeys(lines)) + "\n").encode()
    record_file = wheel_file.removesuffix("WHEEL") + "RECORD"
    digest = base64.urlsafe_b64encode(hashlib.sha256(members[wheel_file]).digest()).rstrip(b"=")
    rows = [
        f"{wheel_file},sha256={digest.decode()},{len(members[wheel_file])}"
        if row.startswith(wheel_file + ",")
        else row
        for row in members[record_file].decode().splitlines()
    ]
    members[record_file] = ("\n".join(rows) + "\n").encode()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as output:
        for path, data in members.items():
            output.writestr(path, data)
    return target
