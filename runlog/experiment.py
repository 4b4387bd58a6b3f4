"""`Experiment`: a named group of runs.

The class lives in `runlog._objects` with `Run` and `Workspace`, which it builds and is
built by; this is its public home.
"""

from runlog._objects import Experiment

__all__ = ["Experiment"]
