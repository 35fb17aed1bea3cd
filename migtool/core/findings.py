"""``Finding``: one problem a check found, shared by the doctor's checks and the drift check."""

from __future__ import annotations

from dataclasses import dataclass

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Finding:
    """One problem: what was found (``message``), where (``subject``), why it
    matters and what to do.  ``code`` is stable, for scripts and JSON."""

    severity: str
    code: str
    subject: str
    message: str
    why: str
    fix: str
