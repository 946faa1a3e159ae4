"""Testing built wheels in the real target runtime: Pyodide under Node.

``test/imports`` are imported, then the recipe directory's optional
``omniwheel_test.py`` runs, inside the Pyodide release given as the directory
of an npm ``pyodide`` package. The wheels (the recipe's and those of its run
requirements built in the same run) are loaded from local files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from omniwheel.build.pep517 import BuildStepError, run_logged
from omniwheel.build.recipe import Recipe
from omniwheel.errors import UsageError

TEST_SCRIPT = "omniwheel_test.py"
_STEP = "test in Pyodide"


def wants_test(recipe: Recipe) -> bool:
    """Whether ``recipe`` has anything to run in the runtime: imports or a test script.

    The builder and the cache ask the same question, so a wheel cached untested
    is rebuilt and tested once a runtime is given.
    """
    return bool(recipe.test.imports) or (recipe.directory / TEST_SCRIPT).is_file()


class PyodideRuntime:
    """A Pyodide distribution directory (holding ``pyodide.mjs``) and Node to run it."""

    def __init__(self, distribution: Path) -> None:
        if not (distribution / "pyodide.mjs").is_file():
            raise UsageError(
                f"{distribution}: no pyodide.mjs here; pass the directory of an npm 'pyodide' "
                "package (npm install pyodide@0.29 → node_modules/pyodide)"
            )
        if shutil.which("node") is None:
            raise UsageError("testing in Pyodide needs Node.js: apt-get install nodejs")
        self.distribution = distribution.resolve()

    def test(
        self, wheels: Sequence[Path], imports: Sequence[str], script: Path | None, *,
        work: Path, log: IO[str],
    ) -> None:  # fmt: skip
        """Load ``wheels``, import ``imports``, run ``script``; any error fails the step."""
        python = (
            "import importlib\n"
            f"for name in {json.dumps(list(imports))}:\n"
            "    importlib.import_module(name)\n"
            "    print('imported', name)\n"
        )
        if script is not None:
            python += f"exec(compile({script.read_text()!r}, {script.name!r}, 'exec'), {{}})\n"
        module = json.dumps((self.distribution / "pyodide.mjs").as_uri())
        program = (
            f"import {{ loadPyodide }} from {module};\n"
            "const pyodide = await loadPyodide();\n"
            f"await pyodide.loadPackage({json.dumps([str(w.resolve()) for w in wheels])});\n"
            f"pyodide.runPython({json.dumps(python)});\n"
        )
        runner = work / "test-in-pyodide.mjs"
        runner.write_text(program)
        try:
            run_logged(["node", str(runner)], step=_STEP, log=log, cwd=work)
        except BuildStepError as error:
            raise BuildStepError(_STEP, f"imports or {TEST_SCRIPT} failed (see the log)") from error
