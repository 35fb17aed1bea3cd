"""`python -m migtool`."""

from migtool.cli import main

main()
