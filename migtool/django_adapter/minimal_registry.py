"""The smallest rendered registry an operation's ``database_backwards`` reads.

Why this exists: Django hands every reverted operation a registry of the whole
historical project, kept up to date by re-rendering the connected component of
related models after each change; on relation-heavy projects that rendering is
nearly all of a rollback's time (render-speed.md §1).  The SQL of a built-in
operation depends only on what it reads (render-speed.md §2):

* its own model in full, and the explicit ``through`` models of its
  many-to-many fields (their foreign keys);
* the models those point at, as *stubs*: primary key, parent links, the
  fields a ``to_field`` names, bases and table options, recursively, and none
  of the indexes, constraints or orderings that name dropped fields;
* for the ``alter_field`` family only, every model that refers to it, in
  full, following chains through unique and primary-key relations (the
  recursion of ``BaseDatabaseSchemaEditor._related_non_m2m_objects``).

Everything here reads the replayed ``ProjectState`` and never changes it
(render-speed.md §4 traps 2 and 3): full models are rendered from the state's
own ``ModelState`` objects, stubs from new ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Key = tuple[str, str]

# Options a stub drops: they name fields a stub does not keep, or managers it has none of.
_STUB_DROPPED_OPTIONS = frozenset(
    {
        "indexes",
        "constraints",
        "unique_together",
        "index_together",
        "order_with_respect_to",
        "default_manager_name",
        "base_manager_name",
    }
)


class RegistryUnavailable(Exception):
    """A minimal registry cannot be built for this state: use the full render."""


def minimal_apps(state: Any, model: Key, *, referrers: bool) -> Any:
    """Render the registry an operation on ``model`` reads; raise ``RegistryUnavailable``
    when the state does not hold what it needs (the caller renders in full instead).

    Every relation of a fully rendered model is resolved here, so a missing
    ``to_field`` or model surfaces before the operation emits any SQL.
    """
    from django.core.exceptions import FieldDoesNotExist
    from django.db.migrations.state import StateApps

    full = _full_models(state, model, referrers)
    models = {key: state.models[key] for key in full}
    models.update(_stubs(state, full))
    try:
        apps = StateApps(state.real_apps, models)
        for key in full:
            _resolve_relations(apps.get_model(*key))
    except (ValueError, LookupError, FieldDoesNotExist) as exc:
        raise RegistryUnavailable(str(exc)) from exc
    return apps


def empty_apps(state: Any) -> Any:
    """A registry of no migrated models, for code that is handed apps and reads none
    (``RunPython.noop``)."""
    from django.db.migrations.state import StateApps

    return StateApps(state.real_apps, {})


def _relations(state: Any, key: Key) -> Iterator[tuple[Any, Key]]:
    """``(field, target)`` for each relational field of ``key``'s model state."""
    for field in state.models[key].fields.values():
        if getattr(field, "remote_field", None) is not None:
            yield field, _lower_target(field, key)


def _through(key: Key, field: Any) -> Key | None:
    from django.db.migrations.utils import resolve_relation

    through = getattr(field.remote_field, "through", None)
    return _lower(resolve_relation(through, *key)) if isinstance(through, str) else None


def _bases(state: Any, key: Key) -> Iterator[Key]:
    from django.db.migrations.utils import resolve_relation

    for base in state.models[key].bases:
        if isinstance(base, str):
            yield _lower(resolve_relation(base, *key))


def _lower(key: tuple[str, str]) -> Key:
    return key[0], key[1].lower()


def _full_models(state: Any, model: Key, referrers: bool) -> list[Key]:
    """``model``, its referrers when asked (transitively through unique and primary-key
    relations), and the explicit ``through`` models of all of them."""
    full = [model]
    if referrers:
        pointing: dict[Key, list[tuple[Key, Any]]] = {}
        for key in state.models:
            for field, target in _relations(state, key):
                pointing.setdefault(target, []).append((key, field))
        todo = [model]
        while todo:
            for referrer, field in pointing.get(todo.pop(), ()):
                if referrer not in full:
                    full.append(referrer)
                    if getattr(field, "primary_key", False) or getattr(field, "unique", False):
                        todo.append(referrer)
    index = 0
    while index < len(full):
        key = full[index]
        index += 1
        for field, _ in _relations(state, key):
            through = _through(key, field)
            if through is not None and through in state.models and through not in full:
                full.append(through)
    return full


def _stubs(state: Any, full: list[Key]) -> dict[Key, Any]:
    """Primary-key stubs of every model the ``full`` models reach and do not include."""
    from django.db.migrations.state import ModelState

    needed: dict[Key, set[str]] = {}
    todo: list[tuple[Key, set[str]]] = []

    def reach(source: Key) -> None:
        for field, target in _relations(state, source):
            names = _to_fields(field)
            field_name = getattr(field.remote_field, "field_name", None)
            if field_name:
                names.add(field_name)
            todo.append((target, names))
        todo.extend((base, set()) for base in _bases(state, source))

    for key in full:
        reach(key)
    while todo:
        target, names = todo.pop()
        if target in full or target not in state.models:
            continue  # a missing target fails the render, which falls back
        if target in needed and names <= needed[target]:
            continue
        first = target not in needed
        needed.setdefault(target, set()).update(names)
        if first:
            for field, to in _relations(state, target):
                if _stub_keeps(field):
                    todo.append((to, _to_fields(field)))
            todo.extend((base, set()) for base in _bases(state, target))
        for name in names:
            field = state.models[target].fields.get(name)
            if field is not None and getattr(field, "remote_field", None) is not None:
                todo.append((_lower_target(field, target), set()))
    stubs = {}
    for key, names in needed.items():
        model_state = state.models[key]
        kept = names | {n for f in model_state.fields.values() if _stub_keeps(f) for n in getattr(f, "field_names", ())}
        fields = {name: f for name, f in model_state.fields.items() if name in kept or _stub_keeps(f)}
        options = {k: v for k, v in model_state.options.items() if k not in _STUB_DROPPED_OPTIONS}
        stubs[key] = ModelState(model_state.app_label, model_state.name, fields, options, model_state.bases, [])
    return stubs


def _to_fields(field: Any) -> set[str]:
    """The target fields a relation names (``to_field``), none for the primary key."""
    return {name for name in getattr(field, "to_fields", ()) or () if name}


def _lower_target(field: Any, source: Key) -> Key:
    from django.db.migrations.utils import resolve_relation

    return _lower(resolve_relation(field.remote_field.model, *source))


def _stub_keeps(field: Any) -> bool:
    """A stub keeps its primary key (and the fields a composite key names) and parent links."""
    remote = getattr(field, "remote_field", None)
    return bool(getattr(field, "primary_key", False) or (remote is not None and getattr(remote, "parent_link", False)))


def _resolve_relations(model: Any) -> None:
    """Resolve what the schema editor will read of each relation: target fields and throughs."""
    for field in (*model._meta.local_fields, *model._meta.local_many_to_many):
        if field.is_relation and not isinstance(field.remote_field.model, str):
            if field.many_to_many:
                _ = field.remote_field.through._meta.db_table
            else:
                _ = [target.column for target in field.foreign_related_fields]
