"""Spell a ``Drawing`` as a Rich tree, Mermaid or Graphviz DOT.

Why it exists: the drawing model decides what is shown; this module only
writes it in each syntax, escaping every identifier and label, so the same
graph always gives the same bytes.  Meaning is carried by words and shapes,
never by colour alone (colour is off in CI logs and PR comments).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.tree import Tree

from migtool.core.drawing import Box, Drawing

NOT_RELEASED = "not in any release"


def _notes(box: Box) -> list[str]:
    """What a reader must know about a box, as short phrases."""
    notes = []
    if box.plan:
        notes.append("rollback step " + ", ".join(f"#{n}" for n in box.plan))
    if box.change:
        notes.append(box.change)
    if box.merge:
        notes.append("merge")
    if box.replaces:
        notes.append(f"squashes {len(box.replaces)}: " + ", ".join(str(k) for k in box.replaces))
    notes.extend(f"irreversible: {reason}" for reason in box.irreversible)
    return notes


def _groups(drawing: Drawing, app: str) -> Iterator[tuple[str | None, list[Box]]]:
    """An app's boxes in runs of the same release, in drawing order, each with
    its group's label (None when the drawing has no release groups)."""
    current: list[Box] = []
    for box in drawing.boxes_of(app):
        if current and (current[-1].release, current[-1].up_to) != (box.release, box.up_to):
            yield _group_label(drawing, current[0]), current
            current = []
        current.append(box)
    if current:
        yield _group_label(drawing, current[0]), current


def _group_label(drawing: Drawing, first: Box) -> str | None:
    if not drawing.by_release:
        return None
    if first.up_to is not None:
        return f"up to release {first.up_to}"
    return f"release {first.release}" if first.release is not None else NOT_RELEASED


def _footer(drawing: Drawing) -> list[str]:
    lines = list(drawing.notes)
    earlier = sorted({box.up_to for box in drawing.boxes if box.up_to})
    if earlier:
        lines.append(f"Each app's migrations up to release {earlier[0]} are one box (--history draws them).")
    if drawing.hidden_apps:
        lines.append(
            f"{len(drawing.hidden_apps)} app(s) not shown (--app APP or --all-apps shows them): "
            + ", ".join(drawing.hidden_apps)
        )
    return lines


# --------------------------------------------------------------------------- text


class _AsciiGuides:
    """Render a tree with ASCII guides (``+--``), for logs and files."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        options = options.copy()
        options.encoding = "ascii"
        yield from console.render(self.renderable, options)


def _parent_name(parent: Box, app: str) -> str:
    """How a box names what it depends on: a run's dependents depend on its
    last migration; a history box's on something somewhere in it."""
    if parent.up_to is not None:
        return ("" if parent.app == app else f"{parent.app} ") + f"(up to release {parent.up_to})"
    return ("" if parent.app == app else f"{parent.app}.") + parent.names[-1]


def drawing_tree(drawing: Drawing, *, ascii_only: bool) -> Any:
    """A Rich tree: app, then release, then boxes; each box says what it depends
    on when that is not simply the line above it."""
    tree = Tree(drawing.title)
    by_id = {box.id: box for box in drawing.boxes}
    parents: dict[str, list[Box]] = {}
    for link in drawing.links:
        parents.setdefault(link.child, []).append(by_id[link.parent])
    for app in drawing.apps:
        app_node = tree.add(app)
        previous: str | None = None
        for label, group_boxes in _groups(drawing, app):
            group = app_node.add(label) if label else app_node
            for box in group_boxes:
                notes = _notes(box)
                others = [p for p in parents.get(box.id, []) if p.id != previous]
                if others:
                    notes.append("after " + ", ".join(_parent_name(p, app) for p in others))
                group.add(box.label + (f"  [{'; '.join(notes)}]" if notes else ""))
                previous = box.id
    if drawing.plan:
        steps = tree.add(f"Rollback plan to {drawing.target}, in execution order")
        for index, key in enumerate(drawing.plan, 1):
            steps.add(f"#{index} unapply {key}")
    for line in _footer(drawing):
        tree.add(line)
    return _AsciiGuides(tree) if ascii_only else tree


def _clusters(
    drawing: Drawing, open_cluster: Callable[[int, str, bool], str], node: Callable[[Box], str], close: str
) -> list[str]:
    """The lines of every app's cluster, holding a cluster per release group,
    in any syntax: ``open_cluster(number, label, inner)`` opens one (numbers
    are unique), ``close`` ends one, ``node(box)`` draws a box."""
    lines: list[str] = []
    number = 0
    for app in drawing.apps:
        number += 1
        lines.append("  " + open_cluster(number, app, False))
        for label, boxes in _groups(drawing, app):
            indent = "    "
            if label:
                number += 1
                lines.append("    " + open_cluster(number, label, True))
                indent = "      "
            lines += [indent + node(box) for box in boxes]
            if label:
                lines.append("    " + close)
        lines.append("  " + close)
    return lines


# --------------------------------------------------------------------------- mermaid


def _mermaid_text(text: str) -> str:
    """Escape a label for a double-quoted Mermaid string (entity codes)."""
    replacements = {"&": "#amp;", "#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;"}
    return "".join(replacements.get(c, c) for c in text)


_MERMAID_SHAPES = {"merge": ('{{"', '"}}'), "squash": ('[["', '"]]'), "run": ('(["', '"])'), "plain": ('["', '"]')}


def _shape(box: Box) -> str:
    if box.merge:
        return "merge"
    if box.replaces:
        return "squash"
    return "run" if len(box.names) > 1 else "plain"


def _classes(box: Box) -> list[str]:
    classes = []
    if box.plan:
        classes.append("plan")
    if box.irreversible:
        classes.append("irreversible")
    if box.change:
        classes.append(box.change)
    return classes


def to_mermaid(drawing: Drawing) -> str:
    """A Mermaid flowchart: one subgraph per app, nested subgraphs per release.

    Node and subgraph identifiers are generated (``n1``, ``s1``), so no
    migration or release name ever has to be a Mermaid identifier; every label
    is a quoted, escaped string.
    """
    ids = {box.id: f"n{i}" for i, box in enumerate(drawing.boxes, 1)}
    lines = ["flowchart TB", f"  %% {_comment(drawing.title)}"]
    lines += [f"  %% {_comment(line)}" for line in _footer(drawing)]

    def node(box: Box) -> str:
        text = "<br/>".join(_mermaid_text(t) for t in [box.label, *_notes(box)])
        opening, closing = _MERMAID_SHAPES[_shape(box)]
        return f"{ids[box.id]}{opening}{text}{closing}"

    lines += _clusters(drawing, lambda number, label, _: f'subgraph s{number}["{_mermaid_text(label)}"]', node, "end")
    for link in drawing.links:
        arrow = "-.->" if link.cross_app else "-->"
        lines.append(f"  {ids[link.parent]} {arrow} {ids[link.child]}")
    styles = {
        "plan": "fill:#fde2e2,stroke:#b00020,stroke-width:3px",
        "irreversible": "stroke:#b00020,stroke-dasharray:4 2,color:#b00020",
        "added": "fill:#e3f6e3,stroke:#1a7f37",
        "removed": "fill:#fde2e2,stroke:#b00020",
        "edited": "fill:#fff4d6,stroke:#9a6700",
    }
    used = {name: [ids[b.id] for b in drawing.boxes if name in _classes(b)] for name in styles}
    for name, members in used.items():
        if members:
            lines.append(f"  classDef {name} {styles[name]}")
            lines.append(f"  class {','.join(members)} {name}")
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    """Mermaid comments end at the line; keep them on one."""
    return " ".join(text.split())


# --------------------------------------------------------------------------- dot


def _dot_text(text: str) -> str:
    """Escape a string for a double-quoted DOT ID."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _attributes(pairs: Iterable[tuple[str, str]]) -> str:
    return ", ".join(f'{name}="{_dot_text(value)}"' for name, value in pairs)


def _dot_node(box: Box) -> list[tuple[str, str]]:
    shape = {"merge": "hexagon", "squash": "box3d", "run": "box", "plain": "box"}[_shape(box)]
    attributes = [("label", "\n".join([box.label, *_notes(box)])), ("shape", shape)]
    styles = ["rounded"] if _shape(box) == "run" else []
    if box.plan or box.change:
        styles.append("filled")
        fill = {"added": "#e3f6e3", "edited": "#fff4d6"}.get(box.change or "", "#fde2e2")
        attributes.append(("fillcolor", fill))
    if box.plan:
        attributes.append(("penwidth", "3"))
    if box.irreversible:
        styles.append("dashed")
        attributes += [("color", "#b00020"), ("fontcolor", "#b00020")]
    if styles:
        attributes.append(("style", ",".join(styles)))
    return attributes


def to_dot(drawing: Drawing) -> str:
    """A Graphviz digraph: one cluster per app, nested clusters per release;
    cross-app dependencies are dashed edges."""
    ids = {box.id: f"n{i}" for i, box in enumerate(drawing.boxes, 1)}
    caption = "\n".join([drawing.title, *_footer(drawing)])
    graph_attributes = [("label", caption), ("labelloc", "t"), ("rankdir", "TB"), ("fontname", "Helvetica")]
    lines = [
        "digraph migtool {",
        f"  graph [{_attributes(graph_attributes)}];",
        '  node [fontname="Helvetica", fontsize="10"];',
        '  edge [arrowsize="0.7"];',
    ]

    def cluster(number: int, label: str, inner: bool) -> str:
        indent = "      " if inner else "    "
        style = ' style="dashed";' if inner else ""
        return f'subgraph cluster_{number} {{\n{indent}label="{_dot_text(label)}";{style}'

    lines += _clusters(drawing, cluster, lambda box: f"{ids[box.id]} [{_attributes(_dot_node(box))}];", "}")
    for link in drawing.links:
        style = ' [style="dashed"]' if link.cross_app else ""
        lines.append(f"  {ids[link.parent]} -> {ids[link.child]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- json


def drawing_to_dict(drawing: Drawing) -> dict[str, Any]:
    """The drawing model itself, for scripts that draw their own picture."""
    from migtool.render.payloads import _wrap

    return _wrap(
        "graph",
        {
            "title": drawing.title,
            "target": drawing.target,
            "releases": list(drawing.releases),
            "apps": list(drawing.apps),
            "hidden_apps": list(drawing.hidden_apps),
            "plan": [str(k) for k in drawing.plan],
            "notes": list(drawing.notes),
            "boxes": [
                {
                    "id": b.id,
                    "app": b.app,
                    "migrations": list(b.names),
                    "release": b.release,
                    "merge": b.merge,
                    "replaces": [str(k) for k in b.replaces],
                    "irreversible": list(b.irreversible),
                    "plan": list(b.plan),
                    "change": b.change,
                    "up_to": b.up_to,
                }
                for b in drawing.boxes
            ],
            "links": [{"parent": link.parent, "child": link.child} for link in drawing.links],
        },
    )
