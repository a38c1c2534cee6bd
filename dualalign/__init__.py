"""dualalign: synthetic clinical text aligned with real patients, statistically and semantically."""

__version__ = "0.1.0"
