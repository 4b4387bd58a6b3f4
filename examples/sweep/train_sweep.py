"""A sweep: one run per Ridge alpha (0.0 to 0.95 in steps of 0.05) in ``diabetes-sweep``.

Start a collector first (``runlog collector``), then::

    python examples/sweep/train_sweep.py
    runlog runs -e diabetes-sweep --order-by "metrics.mse ASC" --max-results 5

Each run logs ``alpha`` and ``mse``, records ``alpha`` as a hyperparameter and uploads its
model as ``outputs/model.pkl``.
"""

from __future__ import annotations

import os

import joblib
from helpers import alphas, load_data, train

import runlog

EXPERIMENT = "diabetes-sweep"


def main() -> None:
    data = load_data()
    os.makedirs("outputs", exist_ok=True)
    results = []
    for alpha in alphas():
        with runlog.start_run(experiment=EXPERIMENT, name=f"alpha={alpha:.2f}") as run:
            model, mse = train(alpha, data)
            run.log_params({"alpha": alpha})
            run.log("alpha", alpha)
            run.log("mse", mse)
            model_file = os.path.join("outputs", f"model_alpha_{alpha:.2f}.pkl")
            joblib.dump(model, model_file)
            run.upload_file(name="outputs/model.pkl", path_or_stream=model_file)
        results.append((mse, alpha, run.id))
        print(f"alpha={alpha:.2f}  mse={mse:9.2f}  run {run.id}")
    mse, alpha, run_id = min(results)
    print(
        f"{len(results)} runs in {EXPERIMENT!r}; best: alpha={alpha:.2f} mse={mse:.2f} "
        f"(run {run_id})"
    )


if __name__ == "__main__":
    main()
