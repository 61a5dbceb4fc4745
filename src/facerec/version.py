"""The package version, low in the layers so any module may read it (the root package re-exports it)."""
__version__ = "0.1.0"
