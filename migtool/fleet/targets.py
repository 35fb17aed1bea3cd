"""What a fleet is made of: targets, and the ways a user names them.

A target is one place migrations are applied: a ``DATABASES`` alias, or one
PostgreSQL schema inside an alias (schema-per-tenant).  It is a plain value, so
it can be sent to another process or machine, printed, and stored in a
journal row or a manifest.  Pure: no Django here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migtool.errors import InputError

_LABEL = re.compile(r"^(?P<alias>[^:\s]+)(?::(?P<schema>[^:\s]+))?$")


@dataclass(frozen=True, order=True)
class Target:
    """One migration target: ``alias``, or ``schema`` inside ``alias``'s database."""

    alias: str
    schema: str | None = None

    @property
    def label(self) -> str:
        """``default`` or ``default:tenant_7``: how the target is named everywhere."""
        return self.alias if self.schema is None else f"{self.alias}:{self.schema}"

    def __str__(self) -> str:
        return self.label

    @classmethod
    def parse(cls, label: str) -> Target:
        """Read a label written by ``label`` (``ALIAS`` or ``ALIAS:SCHEMA``)."""
        match = _LABEL.match(label.strip())
        if match is None:
            raise InputError(
                f"{label!r} is not a target: expected ALIAS or ALIAS:SCHEMA.",
                hint="Name a database alias from settings.DATABASES, optionally with ':schema'.",
            )
        return cls(match["alias"], match["schema"])


def unique(targets: list[Target]) -> list[Target]:
    """Drop repeated targets, keeping the first occurrence (order is the user's)."""
    seen: set[Target] = set()
    kept = []
    for target in targets:
        if target not in seen:
            seen.add(target)
            kept.append(target)
    return kept
