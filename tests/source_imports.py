"""Reading a module's imports from its source (for the layering and dependency tests)."""

from __future__ import annotations

import ast


def typing_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:`` in *tree*: imports there never run
    (``_typeshed`` exists only for type checkers), so they are no runtime dependency."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
