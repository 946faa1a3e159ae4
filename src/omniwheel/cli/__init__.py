"""The command line: thin layers over the importable API, one module per command group."""
