"""What a migration file declares, read from its source with ``ast``, never imported.

Why: freezing a past release from git (and, later, reading stored sources of
migrations whose files are gone) must not run the old code.  It may import
modules that no longer exist, and importing is how Django reads ``Migration``,
so this module reads only what Django's loader takes from the class to build
its graph: ``dependencies``, ``replaces``, ``run_before``, plus ``initial`` and
``atomic``.  Anything a static reader cannot know for certain (a value
computed at import time, a base class that might define the attributes, a
file this Python cannot parse) raises ``UnreadableSourceError`` with the
reason: a guess here would become a wrong release file.

Pure: bytes in, values out.  ``migrations.swappable_dependency(settings.X)``
is kept as ``Swappable("X")``; the caller resolves it with the settings.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TypeAlias

from migtool.errors import UnreadableSourceError

_GRAPH_FIELDS = ("dependencies", "replaces", "run_before")
_FLAG_FIELDS = ("initial", "atomic")
_MIGRATION_BASES = ("migrations.Migration", "Migration", "django.db.migrations.Migration")


@dataclass(frozen=True)
class Swappable:
    """``migrations.swappable_dependency(settings.<setting>)``: Django turns the
    setting's value ``"app.Model"`` into ``("app", "__first__")`` at import time."""

    setting: str


Dependency: TypeAlias = tuple[str, str] | Swappable


@dataclass(frozen=True)
class MigrationSource:
    """The class attributes of one ``Migration``, as Django's defaults fill them in.

    ``dynamic`` names the flags (``initial``, ``atomic``) whose value is computed
    at import time; they do not shape the graph, so they are reported, not refused.
    """

    dependencies: tuple[Dependency, ...] = ()
    replaces: tuple[tuple[str, str], ...] = ()
    run_before: tuple[Dependency, ...] = ()
    initial: bool | None = None
    atomic: bool = True
    dynamic: tuple[str, ...] = ()


def read_migration(source: bytes) -> MigrationSource:
    """Return what the module ``source`` declares in its ``Migration`` class.

    Parses bytes, so a PEP 263 coding cookie is honoured as on import.  Raises
    ``UnreadableSourceError`` (its ``reason`` says why) when the file does not
    parse with this Python, has no ``Migration`` class Django would find, or
    declares graph attributes that are not literals.
    """
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
        raise UnreadableSourceError(f"it does not parse with this Python ({_syntax(exc)})") from None
    cls = _migration_class(module)
    values: dict[str, ast.expr] = {}
    for statement in cls.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                _bind(values, target, statement.value)
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            _bind(values, statement.target, statement.value)
        elif names := ", ".join(sorted(_assigns(statement, (*_GRAPH_FIELDS, *_FLAG_FIELDS)))):
            raise UnreadableSourceError(f"Migration sets {names} in a {type(statement).__name__.lower()} statement")
    dynamic = tuple(f for f in _FLAG_FIELDS if f in values and not _is_flag(values[f], f))
    return MigrationSource(
        dependencies=_dependencies(values, "dependencies"),
        replaces=tuple(_pair(e, "replaces") for e in _elements(values, "replaces")),
        run_before=_dependencies(values, "run_before"),
        initial=None if "initial" in dynamic else _flag(values, "initial", None),
        atomic=True if "atomic" in dynamic else bool(_flag(values, "atomic", True)),
        dynamic=dynamic,
    )


def _syntax(exc: Exception) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.msg}, line {exc.lineno}"
    return str(exc)


def _migration_class(module: ast.Module) -> ast.ClassDef:
    """The module-level ``class Migration(migrations.Migration)`` that import would bind last."""
    last: ast.stmt | None = None
    for statement in module.body:
        if "Migration" in _bound_names(statement):
            last = statement
        elif _assigns(statement, ("Migration",)):
            raise UnreadableSourceError("Migration is defined conditionally (inside a block)")
    if last is None:
        raise UnreadableSourceError("it has no Migration class (Django raises BadMigrationError)")
    if not isinstance(last, ast.ClassDef):
        raise UnreadableSourceError("Migration is not a class statement here (it is assigned or imported)")
    if last.keywords or len(last.bases) != 1 or _dotted(last.bases[0]) not in _MIGRATION_BASES:
        bases = ", ".join(_short(b) for b in last.bases) or "nothing"
        raise UnreadableSourceError(f"Migration derives from {bases}, which may set its attributes at import time")
    return last


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a name or attribute chain, else None (cheaper than unparsing)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a module-level statement binds directly."""
    if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {statement.name}
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in statement.names}
    if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _assigns(statement: ast.stmt, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` a statement binds in its own scope: inside blocks and
    augmented assignments too, but not inside the functions or classes it defines."""
    found = set()
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in names:
                found.add(node.name)
            continue
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in names:
            found.add(node.id)
        elif isinstance(node, ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _bind(values: dict[str, ast.expr], target: ast.expr, value: ast.expr) -> None:
    if isinstance(target, ast.Name):
        values[target.id] = value
    elif any(isinstance(n, ast.Name) and n.id in (*_GRAPH_FIELDS, *_FLAG_FIELDS) for n in ast.walk(target)):
        raise UnreadableSourceError("Migration unpacks into its attributes; their values are not literals")


def _elements(values: dict[str, ast.expr], name: str) -> list[ast.expr]:
    node = values.get(name)
    if node is None:
        return []
    if not isinstance(node, (ast.List, ast.Tuple)):
        raise UnreadableSourceError(f"{name} is computed at import time ({_short(node)}), not a literal list")
    return list(node.elts)


def _dependencies(values: dict[str, ast.expr], name: str) -> tuple[Dependency, ...]:
    return tuple(_swappable(e) or _pair(e, name) for e in _elements(values, name))


def _swappable(node: ast.expr) -> Swappable | None:
    """``migrations.swappable_dependency(settings.X)`` (or the bare function name), else None."""
    if not isinstance(node, ast.Call) or node.keywords or len(node.args) != 1:
        return None
    func = _dotted(node.func)
    arg = node.args[0]
    if func not in ("migrations.swappable_dependency", "swappable_dependency"):
        return None
    if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "settings":
        return Swappable(arg.attr)
    return None


def _pair(node: ast.expr, name: str) -> tuple[str, str]:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise UnreadableSourceError(f"{name} holds {_short(node)}, which is computed at import time") from None
    if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) and v for v in value)):
        raise UnreadableSourceError(f"{name} holds {_short(node)}, which is not an ('app_label', 'name') tuple")
    return value


def _is_flag(node: ast.expr, name: str) -> bool:
    allowed = (True, False, None) if name == "initial" else (True, False)
    return isinstance(node, ast.Constant) and any(node.value is v for v in allowed)


def _flag(values: dict[str, ast.expr], name: str, default: bool | None) -> bool | None:
    node = values.get(name)
    return default if node is None else node.value  # type: ignore[attr-defined]


def _short(node: ast.expr, limit: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
