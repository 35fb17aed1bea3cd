"""What a fleet is made of: targets, and the ways a user names them.

A target is one place migrations are applied: a ``DATABASES`` alias, or one
PostgreSQL schema inside an alias (schema-per-tenant).  It is a plain value, so
it can be sent to another process or machine, printed, and stored in a
journal row or a manifest.  No Django here.
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


def read_fleet_file(path: str) -> list[Target]:
    """Read the targets of a fleet file, in order: ``targets = ["default", "eu:tenant_7"]``.

    TOML is read with ``tomllib`` (Python 3.11+) or the ``tomli`` backport on 3.10.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise InputError(f"Cannot read the fleet file {path}: {exc.strerror}.", hint="Check the path.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"The fleet file {path} is not valid TOML: {exc}.", hint="Fix the file.") from None
    return fleet_from_value(data, f"the fleet file {path}")


def fleet_from_value(value: object, where: str) -> list[Target]:
    """Read targets from a fleet definition: a list of labels, or a table whose
    ``targets`` is one (the shape of a fleet file and of ``settings.MIGTOOL_FLEET``)."""
    labels = value.get("targets") if isinstance(value, dict) else value
    if not isinstance(labels, (list, tuple)) or not labels or not all(isinstance(x, str) for x in labels):
        raise InputError(
            f"{where} names no targets: expected a non-empty list of labels such as "
            '["default", "eu:tenant_7"] (under "targets").',
            hint='Write targets = ["ALIAS", "ALIAS:SCHEMA", ...].',
        )
    return unique([Target.parse(label) for label in labels])
