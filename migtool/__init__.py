"""migtool: Django migrations handled per release.

This module only carries the version: importing it must not import Django,
Click or Rich, so that `migtool --version` works anywhere.
"""

__version__ = "0.1.0"
