"""omniwheel: make binary Python wheels work on every platform, from any host."""

__version__ = "0.1.0"
