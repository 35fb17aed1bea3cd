"""The one exception hierarchy of migtool.

Every error a user can cause is a ``MigtoolError`` whose ``str()`` is a complete
sentence saying what was found; ``hint`` says what to do next.  Errors carry
their data as attributes so the JSON renderer can report ``details``.  Exit
codes are not defined here: ``migtool.cli.main.EXIT_CODES`` maps each family to
its code, in one place.
"""

from __future__ import annotations

from typing import Any


class MigtoolError(Exception):
    """Base class: a failure migtool understands and reports without a traceback."""

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class InputError(MigtoolError):
    """The command line or a release file is wrong; nothing was touched."""


class InvalidReleaseNameError(InputError):
    """A release name with characters that could escape the releases directory."""


class UnknownReleaseError(InputError):
    """No release file exists for the name given."""


class MalformedReleaseError(InputError):
    """A release file that cannot be read as a release snapshot."""


class ConfigurationError(MigtoolError):
    """The Django project cannot be set up, or its database cannot be reached."""


class PlanRefusedError(MigtoolError):
    """The requested change was checked and refused before anything was touched."""


class GraphConflictError(PlanRefusedError):
    """An app has several leaf migrations (a merge migration is missing)."""


class ReleaseExistsError(PlanRefusedError):
    """Freezing would overwrite an existing release file."""


class RehearsalRefusedError(PlanRefusedError):
    """A rehearsal was asked for where it could not be exact: the backend cannot roll
    back DDL (MySQL/MariaDB), a step cannot run inside a transaction, or there is
    no database yet.  Nothing ran."""


class UnreadableSourceError(PlanRefusedError):
    """A migration of a past release cannot be known without importing it.

    Raised by the static reader with ``reason`` only; the freeze from git
    re-raises it naming the file and the ref.
    """

    def __init__(self, reason: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(details.pop("message", reason), hint=hint, **details)
        self.reason = reason


class GitError(ConfigurationError):
    """git is missing, the directory is not a repository, or a ref does not exist."""


class LockHeldError(MigtoolError):
    """Another migtool run holds the database lock."""


class ExecutionError(MigtoolError):
    """A step failed; the database was restored to its starting state."""


class RestoreFailedError(ExecutionError):
    """A step failed and restoring the starting state failed too."""
