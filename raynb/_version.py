"""raynb's version: the one place it is written. pyproject.toml reads it (hatch's version
source); js/package.json and its lock file must say the same (js/build.mjs refuses to build
otherwise, and tests/test_tables.py checks it)."""

__version__ = "0.1.0"
