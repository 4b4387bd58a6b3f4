"""An interactive run: fit a Ridge regression on scikit-learn's diabetes data and log it.

Start a collector first (``runlog collector``), then::

    python examples/ridge_interactive.py

``RUNLOG_ENDPOINT`` says where the collector is (default ``http://127.0.0.1:4318``). The run
lands in the experiment ``train-within-notebook`` with the metrics ``alpha`` and ``mse`` and
the file ``outputs/model.pkl``.
"""

from __future__ import annotations

import os

import joblib
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

import runlog

ALPHA = 0.03


def main() -> None:
    exp = runlog.Experiment("train-within-notebook")
    run = exp.start_logging()  # an interactive run, status Running

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    model = Ridge(alpha=ALPHA).fit(X_train, y_train)
    mse = mean_squared_error(y_test, model.predict(X_test))
    run.log("alpha", ALPHA)
    run.log("mse", mse)

    os.makedirs("outputs", exist_ok=True)
    joblib.dump(model, "outputs/model.pkl")
    run.upload_file(name="outputs/model.pkl", path_or_stream="outputs/model.pkl")
    run.complete()

    print(f"run {run.id}: alpha={ALPHA} mse={mse:.1f}")
    print(f"metrics: {run.get_metrics()}")
    print(f"files:   {run.get_file_names()}")


if __name__ == "__main__":
    main()
