"""MLflow's tracking REST API on the collector: unchanged MLflow clients log into runlog.

See docs/mlflow.md. `MlflowApi` builds the router that `collectors.app` mounts.
"""

from __future__ import annotations

from collectors.mlflow.api import MlflowApi

__all__ = ["MlflowApi"]
