"""docs/architecture.md names real files: every path in its tree and its tables exists.

A module moved or renamed without the map following it sends a newcomer nowhere.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
#: `runlog/x.py`, `collectors/a/b.py`, `collectors/studio/static/` in backticks.
PATH = re.compile(r"`((?:runlog|collectors)/[\w./]*)`")


def _tree_paths(text: str) -> set[str]:
    """Paths of the ``The tree`` block: each entry's folder and the files named after it."""
    block = text.split("## The tree", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    found: set[str] = set()
    top = ""
    sub = ""
    for line in block.splitlines():
        name = line[:27].strip()
        if not name:
            names = re.findall(r"[\w]+\.py", line)
        elif line.startswith("  ") and not line.startswith("    "):
            sub = name.split(",")[0] if name.endswith("/") else ""
            names = [n.strip() for n in name.split(",")]
            if not sub:
                found.update(top + n for n in names)
            names = re.findall(r"[\w]+\.py", line[27:])
        else:
            top = name
            found.add(top)
            continue
        found.update(top + sub + n for n in names)
        if sub:
            found.add(top + sub)
    return found


def test_every_path_in_the_where_does_x_live_table_exists() -> None:
    text = DOC.read_text()
    table = text.split("## Where does X live", 1)[1]
    paths = set(PATH.findall(table))

    assert len(paths) > 30
    assert [] == sorted(p for p in paths if not (ROOT / p).exists())


def test_every_path_in_the_tree_exists() -> None:
    paths = _tree_paths(DOC.read_text())

    assert {"collectors/receive/ingest.py", "runlog/_launch_child.py"} <= paths
    assert [] == sorted(p for p in paths if not (ROOT / p).exists())
