"""Excerpts of a migration state: only the models one operation reads.

Rendering the whole historical project state before each operation is what
makes Django's backwards migrations, and any check that replays them, slow on
large projects (django-migrations.md §5.3, render-speed.md).  An operation's
effect on its own table depends only on its model and the models that model
refers to, so pre-flight renders an excerpt of the replayed state instead.
"""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations import AddField, AlterField, RemoveField

# Field operations whose checks read one field of the model; options that name fields.
FIELD_OPERATIONS = (AddField, RemoveField, AlterField)
_FIELD_OPTIONS = frozenset({"unique_together", "index_together", "indexes", "constraints", "order_with_respect_to"})


def excerpt(state: Any, model: tuple[str, str] | None, field: str | None = None) -> Any:
    """The part of ``state`` that rendering ``model`` needs: the model and, transitively,
    the models its fields and bases refer to.

    Rendering the whole project state is what made checks slow on large
    projects (django-migrations.md §5.3); the models an operation does not
    reach cannot change what its revert does to its own table.  With
    ``field``, the model itself keeps only that field and its primary key:
    rendering costs per field, and one field's column, type and table do not
    depend on its siblings.
    """
    from django.db.migrations.state import ProjectState
    from django.db.migrations.utils import resolve_relation

    found: dict[tuple[str, str], Any] = {}
    todo = [model] if model else []
    while todo:
        key = todo.pop()
        if key in found or key not in state.models:
            continue
        # Copies: later operations change the replayed state's model states in place.
        found[key] = model_state = (
            trimmed(state.models[key], field) if field and key == model else state.models[key].clone()
        )
        for model_field in model_state.fields.values():
            remote = model_field.remote_field
            if remote is not None:
                todo.append(resolve_relation(remote.model, *key))
                if isinstance(getattr(remote, "through", None), str):
                    todo.append(resolve_relation(remote.through, *key))
        todo += [resolve_relation(base, *key) for base in model_state.bases if isinstance(base, str)]
    return ProjectState(models=found, real_apps=state.real_apps)


def trimmed(model_state: Any, field: str) -> Any:
    """A copy of ``model_state`` with only ``field``, the primary key (and the fields a
    composite key names), and none of the options that name the dropped fields."""
    from django.db.migrations.state import ModelState

    keys = [name for name, f in model_state.fields.items() if getattr(f, "primary_key", False)]
    kept = {field, *keys, *(name for key in keys for name in getattr(model_state.fields[key], "field_names", ()))}
    return ModelState(
        model_state.app_label,
        model_state.name,
        {name: f for name, f in model_state.fields.items() if name in kept},
        {option: value for option, value in model_state.options.items() if option not in _FIELD_OPTIONS},
        model_state.bases,
        list(model_state.managers),
    )
