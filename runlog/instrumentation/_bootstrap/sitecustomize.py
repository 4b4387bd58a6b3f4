"""Run at the start of an interpreter launched by ``runlog run`` (it is on ``PYTHONPATH``).

Python imports the first ``sitecustomize`` it finds on ``sys.path``; this one hides any
other, so it first runs the next one on the path (a distribution's or the user's), then
switches runlog's auto-instrumentation on (``runlog._launch_child.child_bootstrap``). Nothing here
may break the interpreter's start: any failure is reported on stderr in one line and the
script runs uninstrumented.
"""

import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _chain_next_sitecustomize() -> None:
    """Run the ``sitecustomize`` this one hides, if there is one further down the path."""
    for entry in sys.path:
        if os.path.abspath(entry or os.curdir) == _HERE:
            continue
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [entry or os.curdir])
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return


def _report(what: str) -> None:
    kind, error = sys.exc_info()[:2]
    message = f"runlog: {what} failed ({kind.__name__ if kind else 'error'}: {error}); "
    print(message + "the script runs without it", file=sys.stderr)


def _add_runlog_client() -> None:
    """A submitted run's interpreter may lack runlog or a package it needs: it gets the
    collector's copies from ``RUNLOG_CLIENT_PATH``, behind its own packages."""
    client = os.environ.get("RUNLOG_CLIENT_PATH")
    if client and client not in sys.path:
        sys.path.append(client)


try:
    _add_runlog_client()
except Exception:
    _report("adding runlog's client to the path")

try:
    _chain_next_sitecustomize()
except Exception:
    _report("the next sitecustomize on the path")

try:
    from runlog._launch_child import child_bootstrap

    child_bootstrap()
except Exception:
    _report("runlog's auto-instrumentation")
