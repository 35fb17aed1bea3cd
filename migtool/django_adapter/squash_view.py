"""Rebuild Django's migration graph in the squash view an earlier graph had.

Django's loader decides, for every squash, from what ``django_migrations``
records *now*: with all or none of its replaced migrations applied the squash
stands for them and they leave the graph; with some applied the squash leaves
instead (django-migrations.md §1.8).  Running a batch can change that answer:
unapplying ``billing.0001_initial`` when the squash's other originals were
never applied makes the squash stand for them again, applying the last
original of a partly applied squash does too.  Undoing such a batch needs the
migrations it ran, so the undo's graph must leave out exactly what the
batch's graph left out, not what a fresh loader would leave out now.

A loader built without replacements (``use_originals``) keeps every squash and
every original whatever is recorded, so its view never changes and needs no
``SquashView``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SquashView:
    """The migrations a replacing loader's graph left out: squashes in favour of
    their originals, or originals in favour of their squash."""

    left_out: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, loader: Any) -> SquashView | None:
        """The view of ``loader``'s graph; None for a loader that replaces nothing."""
        if not loader.replace_migrations:
            return None
        return cls(frozenset(loader.disk_migrations) - frozenset(loader.graph.nodes))

    def resolve(self, loader: Any) -> None:
        """Resolve the squashes of ``loader``, built without replacements, as this view did.

        Applied squashes are marked as Django's own loader marks them (applied
        exactly when all their originals are recorded), from the rows now.
        """
        for key, squash in loader.replacements.items():
            if all(tuple(r) in loader.applied_migrations for r in squash.replaces):
                loader.applied_migrations[key] = squash
            else:
                loader.applied_migrations.pop(key, None)
            if key in self.left_out:
                loader.graph.remove_replacement_node(key, squash.replaces)
            elif any(tuple(r) in self.left_out for r in squash.replaces):
                loader.graph.remove_replaced_nodes(key, squash.replaces)
