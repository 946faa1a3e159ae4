"""Building a wheel through PEP 517 with pypa/build, in an isolated environment for the target.

The environment is a fresh venv of the build interpreter. Build requirements
are installed into it with pip under the host's ordinary configuration (they
run on the host); only the backend's hooks see the target: the compiler
wrappers, the target sysconfig and ``_PYTHON_HOST_PLATFORM``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

import build

from omniwheel.build.pythons import BuildPython
from omniwheel.errors import OmniwheelError

T = TypeVar("T")


class BuildStepError(OmniwheelError):
    """One build step failed; ``step`` names it and the full output is in the log."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


def run_step(step: str, action: Callable[[], T]) -> T:
    """Run ``action``; any of our errors it raises becomes ``BuildStepError(step)``."""
    try:
        return action()
    except BuildStepError:
        raise
    except OmniwheelError as error:
        raise BuildStepError(step, str(error)) from error


def host_environment() -> dict[str, str]:
    """The process environment without any target sysconfig selection."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("_PYTHON_") and key != "PYTHONPATH"
    }


def run_logged(
    command: Sequence[str], *, step: str, log: IO[str], cwd: Path | None = None,
    environment: Mapping[str, str] | None = None,
) -> None:  # fmt: skip
    """Run ``command`` with its output in ``log``; a failure raises ``BuildStepError(step)``."""
    log.write(f"$ {shlex.join(command)}\n")
    log.flush()
    result = subprocess.run(
        list(command), cwd=cwd, env=dict(environment or host_environment()),
        stdout=log, stderr=subprocess.STDOUT, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BuildStepError(step, f"{shlex.join(command[:4])}… exited with {result.returncode}")


class TargetEnv:
    """A pypa/build ``IsolatedEnv``: a venv of the build interpreter plus the target's variables."""

    def __init__(
        self, path: Path, python: BuildPython, backend_environment: Mapping[str, str],
        log: IO[str], constraints: Path | None = None,
    ) -> None:  # fmt: skip
        self.path = path
        self.log = log
        self.constraints = constraints
        self._backend_environment = dict(backend_environment)
        run_logged(
            [str(python.executable), "-m", "venv", "--without-pip", str(path)],
            step="create build environment", log=log,
        )  # fmt: skip

    @property
    def python_executable(self) -> str:
        return str(self.path / "bin" / "python")

    def make_extra_environ(self) -> Mapping[str, str]:
        return self._backend_environment

    def install(self, requirements: Collection[str]) -> None:
        """Install build requirements (host packages) with the host's pip configuration."""
        if not requirements:
            return
        command = [
            sys.executable, "-m", "pip", "--python", self.python_executable, "install",
            "--disable-pip-version-check", "--no-input", *sorted(requirements),
        ]  # fmt: skip
        if self.constraints is not None:
            command += ["-c", str(self.constraints)]
        run_logged(command, step="install build requirements", log=self.log)


def _runner(log: IO[str]) -> build.RunnerType:
    def run(
        cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        environment = {**host_environment(), **(extra_environ or {})}
        log.write(f"$ {shlex.join(cmd)}\n")
        log.flush()
        subprocess.run(cmd, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT,
                       check=True)  # fmt: skip

    return run


def build_wheel(
    source: Path, output: Path, environment: TargetEnv, *,
    config_settings: Mapping[str, str | list[str]] | None = None,
    extra_requirements: Collection[str] = (),
) -> Path:  # fmt: skip
    """Build ``source`` into a wheel in ``output`` through its PEP 517 backend."""
    settings = dict(config_settings or {})
    try:
        builder = build.ProjectBuilder.from_isolated_env(
            environment, source, runner=_runner(environment.log)
        )
        environment.install(builder.build_system_requires)
        environment.install(
            {*builder.get_requires_for_build("wheel", settings), *extra_requirements}
        )
        return Path(builder.build("wheel", output, settings))
    except build.BuildException as error:
        raise BuildStepError("read build-system (PEP 517)", str(error)) from error
    except build.BuildBackendException as error:
        raise BuildStepError("build wheel (PEP 517 backend)", str(error)) from error


def parse_backend_flags(text: str) -> dict[str, str | list[str]]:
    """``build/backend-flags`` (``key=value`` words) as PEP 517 config settings."""
    settings: dict[str, str | list[str]] = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        previous = settings.get(key)
        if previous is None:
            settings[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            settings[key] = [previous, value]
    return settings
