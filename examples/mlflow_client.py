"""An unchanged MLflow script logging into runlog: only the tracking URI names the collector.

    python examples/mlflow_client.py
    runlog runs -e experiment_with_mlflow

The run it makes is an ordinary runlog run: `runlog show`, `runlog metrics` and
`runlog files` see its param, its metric and the uploaded ``model.pkl``.
"""

from __future__ import annotations

import os
import pickle

import mlflow
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

mlflow.set_tracking_uri(os.environ.get("RUNLOG_ENDPOINT", "http://127.0.0.1:4318"))
mlflow.set_experiment("experiment_with_mlflow")

X, y = load_diabetes(return_X_y=True)
with mlflow.start_run() as run:
    model = Ridge(alpha=0.03).fit(X, y)
    mlflow.log_param("alpha", 0.03)
    mse = float(((model.predict(X) - y) ** 2).mean())
    mlflow.log_metric("mse", mse, step=1)
    with open("model.pkl", "wb") as file:
        pickle.dump(model, file)
    mlflow.log_artifact("model.pkl")
    print(f"run {run.info.run_id}: mse {mse:.1f}")
