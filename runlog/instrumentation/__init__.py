"""Auto-instrumentation: training code you did not change becomes runs.

`runlog.autolog` switches it on in code; ``runlog run -- python train.py`` switches it on in
a launched script. Each library has one instrumentor class following the contract in
`runlog.instrumentation._base` (OpenTelemetry's instrumentor contract).
"""

from __future__ import annotations

from runlog.instrumentation._autolog import autolog
from runlog.instrumentation._base import Instrumentor, Target, current_run, suppress, suppressed

__all__ = ["Instrumentor", "Target", "autolog", "current_run", "suppress", "suppressed"]
