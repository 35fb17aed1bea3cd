"""`python -m migtool`."""

from migtool.cli import main

# Guarded: a fleet's worker processes (multiprocessing "spawn") import this module again.
if __name__ == "__main__":
    main()
