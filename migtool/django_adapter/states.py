"""The rendered project states of a forward batch, shared between targets.

Why this exists: rendering a project state (one model class per model of every
app) is the largest per-target cost left once a batch has work to do
(fleets.md §4.2: about 38 ms for 30 models and 300 migrations, where cloning a
rendered state takes 0.3 ms), and Django renders twice per target: the state
the batch starts from, and the final one for ``post_migrate``.  The tenants of
a fleet mostly share one applied set and one plan, so in a process each state
is rendered once:

* the start state per (applied set, squash view): each target starts from a
  clone, which is what Django's own ``migrate`` hands the executor
  (``pre_migrate_state.clone()``);
* the final state per (start, plan): applying the same plan to the same start
  gives the same state, and ``post_migrate`` receivers only read its models.

A few of each are kept, the most recently used.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

_KEPT = 4
_start: OrderedDict[Hashable, Any] = OrderedDict()
_final: OrderedDict[Hashable, Any] = OrderedDict()


def state_key(loader: Any) -> Hashable:
    """What the start state of a batch depends on: the applied set and the squash view."""
    return (bool(loader.replace_migrations), frozenset(loader.applied_migrations))


def _kept(cache: OrderedDict[Hashable, Any], key: Hashable, make: Callable[[], Any]) -> Any:
    if key not in cache:
        cache[key] = make()
        while len(cache) > _KEPT:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def pre_migrate_state(executor: Any) -> Any:
    """A rendered clone of the state after ``executor``'s applied migrations."""

    def render() -> Any:
        state = executor._create_project_state(with_applied_migrations=True)
        _ = state.apps
        return state

    return _kept(_start, state_key(executor.loader), render).clone()


def post_migrate_apps(start: Hashable, plan: list[tuple[Any, bool]], state: Any) -> Any:
    """The rendered apps of ``state``, the result of running ``plan`` from ``start``
    (a ``state_key``), for ``post_migrate``; read-only."""

    def render() -> Any:
        state.clear_delayed_apps_cache()
        _ = state.apps
        return state

    key = (start, tuple((m.app_label, m.name, backwards) for m, backwards in plan))
    return _kept(_final, key, render).apps
