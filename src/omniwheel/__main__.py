"""Allow ``python -m omniwheel``."""

from omniwheel.cli.main import run

run()
