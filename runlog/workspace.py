"""`Workspace`: where the collector is (Azure ML v1's workspace, minus the cloud).

The class lives in `runlog._objects` with `Experiment` and `Run`, which it builds and is
built by; this is its public home. `default_workspace` is the one used when none is given.
"""

from runlog._objects import Workspace, default_workspace

__all__ = ["Workspace", "default_workspace"]
