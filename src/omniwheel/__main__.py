"""Allow ``python -m omniwheel``."""

from omniwheel.cli.main import main

raise SystemExit(main())
