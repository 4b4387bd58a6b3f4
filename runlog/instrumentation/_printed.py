"""Print-style metrics: numbers a script prints (``epoch 3 loss=1.62``) become points.

``runlog run`` switches this on in the launched interpreter (``RUNLOG_PARSE_METRICS=1``,
its default): `builtins.print` is wrapped so that, after the original printed exactly what
it was asked to, each line printed to stdout is read with the parser
`RunlogHandler(parse_messages=True)` uses (`runlog._logfields.parse_key_values`):
``key=value`` and ``key: value`` numbers are points, ``epoch N`` / ``step N`` their step.

Done in the script's process, not on the captured stream, because only here is it known
which names autolog records itself: a printed name that an instrumentor claimed (`claim`:
PyTorch's per-step ``loss``) goes to ``stdout.<name>``, so the printed per-epoch numbers do
not land between the per-step ones. Writes that bypass ``print`` (progress bars, other
programs) are not read.
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterable
from typing import Any

from runlog._guard import INSIDE
from runlog._logfields import parse_key_values, split_points
from runlog.instrumentation._base import current_run, safely

#: Prefix of a printed metric whose name autolog records itself.
PREFIX = "stdout."
_claimed: set[str] = set()
_original: Any = None


def claim(names: Iterable[str]) -> None:
    """Note metric names an instrumentor records (printed ones then get `PREFIX`)."""
    _claimed.update(names)


def install() -> None:
    """Wrap `builtins.print` (once)."""
    global _original
    if _original is None:
        _original = builtins.print
        builtins.print = _print


def uninstall() -> None:
    """Restore `builtins.print` if the wrapper is still the one in place."""
    global _original
    if _original is not None and builtins.print is _print:
        builtins.print = _original
    _original = None


def _print(*args: Any, **kwargs: Any) -> None:
    _original(*args, **kwargs)
    file = kwargs.get("file")
    if args and (file is None or file is sys.stdout) and not INSIDE.get():
        sep = kwargs.get("sep")
        text = (" " if sep is None else sep).join(map(str, args))
        if "=" in text or ":" in text:
            safely("print-style metrics", record_lines, text)


def record_lines(text: str) -> None:
    """Log the print-style metrics of each line of *text* into the current run."""
    run = current_run()
    if run is None:
        return
    for line in text.splitlines():
        values = parse_key_values(line)
        if values:
            points, step = split_points(values)
            for name, value in points.items():
                run.log(PREFIX + name if name in _claimed else name, value, step=step)
