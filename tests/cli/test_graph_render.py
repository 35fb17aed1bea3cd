"""The graph renderers: golden files for text, Mermaid and DOT on the drawing
fixture (merges, a squash, a collapsed run, an irreversible step, a release
name with ``+``), DOT rendered by Graphviz and Mermaid parsed by Mermaid itself.

``MIGTOOL_UPDATE_GOLDEN=1`` rewrites the golden files; review their diff.
Mermaid's parser is the npm package pinned in ``tests/mermaid`` (with jsdom
for its sanitiser, no browser); it is installed there from the npm registry on
first use (``.ci/run`` installs it before the legs start).
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from drawing_fixture import draw, drawing_fixture
from rich.console import Console

from migtool.core.drawing import Drawing, draw_diff
from migtool.core.release_diff import diff
from migtool.core.snapshot import freeze
from migtool.render.drawing import drawing_tree, to_dot, to_mermaid

GOLDEN = Path(__file__).parent / "golden"
MERMAID_CHECK = Path(__file__).parents[1] / "mermaid"


def changes_drawing() -> Drawing:
    g, releases, _ = drawing_fixture()
    return draw_diff(diff(releases[0], freeze(g, "(disk)", None)), g.effective())


def text(drawing: Drawing) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None, markup=False, highlight=False, emoji=False)
    console.print(drawing_tree(drawing, ascii_only=True))
    return console.file.getvalue()  # type: ignore[attr-defined]


DRAWINGS = {
    "graph": draw,
    "graph_history": lambda: draw(history=True),
    "graph_plan": lambda: draw("1.0"),
    "diff": changes_drawing,
}
CASES = {
    "graph.txt": lambda: text(draw()),
    "graph_history.txt": lambda: text(draw(history=True)),
    "graph_plan.txt": lambda: text(draw("1.0")),
    "graph_history.mmd": lambda: to_mermaid(draw(history=True)),
    "graph_plan.mmd": lambda: to_mermaid(draw("1.0")),
    "diff.mmd": lambda: to_mermaid(changes_drawing()),
    "graph_history.dot": lambda: to_dot(draw(history=True)),
    "graph_plan.dot": lambda: to_dot(draw("1.0")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    produced = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("MIGTOOL_UPDATE_GOLDEN") == "1":
        path.write_text(produced)
    assert produced == path.read_text(), f"{name} changed; MIGTOOL_UPDATE_GOLDEN=1 rewrites it"


def test_text_uses_rich_tree_guides_on_a_terminal() -> None:
    console = Console(file=io.StringIO(), width=120, color_system=None, force_terminal=True)
    console.print(drawing_tree(draw(), ascii_only=False))
    assert "├── " in console.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"), reason="graphviz (dot) not installed")
@pytest.mark.parametrize("name", ["graph_history", "graph_plan"])
def test_graphviz_renders_the_dot_output(name: str, tmp_path: Path) -> None:
    result = subprocess.run(
        ["dot", "-Tsvg", str(GOLDEN / f"{name}.dot")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr
    svg = result.stdout
    # Every box is a node of the picture, with its (escaped, then unescaped) label text.
    drawing = DRAWINGS[name]()
    assert svg.count('class="node"') == len(drawing.boxes)
    assert svg.count('class="edge"') == len(drawing.links)
    assert "UPDATE &quot;shop&quot; SET a = &#39;&lt;b&gt;&#39; # c" in svg
    assert "release 2.0+build&#45;1" in svg  # Graphviz writes "-" as an entity


def _mermaid_checker() -> list[str]:
    """Return the command that parses Mermaid files, installing the pinned parser if needed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed to check Mermaid output with Mermaid's parser")
        pytest.skip("node/npm not installed: Mermaid's own parser cannot run")
    with open(MERMAID_CHECK / "package.json") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs install once
        if not (MERMAID_CHECK / "node_modules" / "mermaid" / "package.json").exists():
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=MERMAID_CHECK,
                check=True,
                timeout=600,
            )
    return [node, str(MERMAID_CHECK / "check.mjs")]


def test_mermaids_own_parser_accepts_the_output(tmp_path: Path) -> None:
    files = sorted(str(GOLDEN / name) for name in CASES if name.endswith(".mmd"))
    broken = tmp_path / "broken.mmd"
    broken.write_text('flowchart TB\n  n1["a"b"]\n')  # an unescaped quote: the check must be able to fail
    result = subprocess.run(
        [*_mermaid_checker(), *files, str(broken)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert {f: lines.get(f, "") for f in files} == {f: "ok flowchart-v2" for f in files}, result.stdout + result.stderr
    assert lines[str(broken)].startswith("Parse error"), result.stdout
    assert result.returncode == 1


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_mermaid_has_every_box_and_link_and_escapes_labels(name: str) -> None:
    drawing = DRAWINGS[name]()
    source = to_mermaid(drawing)
    nodes = re.findall(r'^\s+(n\d+)(?:\[\["|\{\{"|\(\["|\[")(.*?)(?:"\]\]|"\}\}|"\]\)|"\])$', source, re.M)
    assert [label.split("<br/>")[0] for _, label in nodes] == [b.label for b in drawing.boxes]
    ids = {box.id: node for box, (node, _) in zip(drawing.boxes, nodes, strict=True)}
    edges = re.findall(r"^\s+(n\d+) -(?:->|\.->) (n\d+)$", source, re.M)
    assert edges == [(ids[link.parent], ids[link.child]) for link in drawing.links]
    for _, label in nodes:
        assert '"' not in label and "<b>" not in label and re.search(r"#(?!\d+;|quot;|amp;|lt;|gt;)", label) is None
