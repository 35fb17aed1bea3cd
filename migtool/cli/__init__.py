"""The command-line client of ``migtool.api``."""

from migtool.cli.main import main

__all__ = ["main"]
