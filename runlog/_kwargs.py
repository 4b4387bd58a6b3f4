"""Keyword arguments of the Azure ML v1 API that runlog does not act on: refuse or warn once.

`Run`, `Experiment` and `Workspace` keep Azure ML v1's signatures, whose ``**kwargs`` used to
swallow anything: ``start_logging(tagz=...)`` did nothing and said nothing. Each such
method now names the Azure arguments it accepts without acting on them (with the reason)
and passes the rest here: a documented Azure name warns once per process, anything else is
a `TypeError` as Python raises for an unknown keyword, with the nearest real name.
"""

from __future__ import annotations

import difflib
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from runlog.exceptions import IgnoredArgumentWarning

_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


def check(
    where: str,
    given: Mapping[str, Any],
    ignored: Mapping[str, str] = {},  # read only
    known: Iterable[str] = (),
) -> None:
    """Warn once about each name of *given* in *ignored*; refuse any other.

    Args:
        where: the callable, for messages, e.g. ``"Experiment.start_logging"``.
        given: the keyword arguments the callable received in ``**kwargs``.
        ignored: Azure ML v1 names accepted without effect, each with why.
        known: the callable's own parameter names, to suggest the nearest.

    Raises:
        TypeError: a name is neither the callable's nor a documented Azure ML v1 one.
    """
    for name in given:
        if name in ignored:
            warn_once(where, name, ignored[name])
            continue
        close = difflib.get_close_matches(name, [*known, *ignored], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"{where}() got an unexpected keyword argument {name!r}{hint}")


def warn_once(where: str, name: str, why: str) -> None:
    """Warn that ``where(name=...)`` has no effect in runlog, once per process."""
    with _lock:
        if (where, name) in _warned:
            return
        _warned.add((where, name))
    message = f"{where}({name}=...) has no effect in runlog: {why}"
    warnings.warn(message, IgnoredArgumentWarning, stacklevel=4)
