"""The rendered project state a forward batch starts from, shared between targets.

Why this exists: rendering the pre-migrate state (one model class per model of
every app) is the largest per-target cost left once a batch has work to do
(fleets.md §4.2: about 38 ms for 30 models and 300 migrations, where cloning a
rendered state takes 0.3 ms).  The tenants of a fleet mostly share one applied
set, so the state is rendered once per (applied set, squash view) in a process
and each target starts from a clone, which is what Django's own ``migrate``
hands the executor (``pre_migrate_state.clone()``).  A few states are kept, the
most recently used first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

_KEPT = 4
_rendered: OrderedDict[tuple[bool, frozenset[tuple[str, str]]], Any] = OrderedDict()


def pre_migrate_state(executor: Any) -> Any:
    """A rendered clone of the state after ``executor``'s applied migrations."""
    loader = executor.loader
    key = (bool(loader.replace_migrations), frozenset(loader.applied_migrations))
    state = _rendered.get(key)
    if state is None:
        state = executor._create_project_state(with_applied_migrations=True)
        _ = state.apps  # render now, once
        _rendered[key] = state
        while len(_rendered) > _KEPT:
            _rendered.popitem(last=False)
    _rendered.move_to_end(key)
    return state.clone()
