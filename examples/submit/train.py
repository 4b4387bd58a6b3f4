"""Train Ridge regressions on the diabetes data for alphas 0.0 to 0.95 (the Azure ML v1
"train-on-local" script). Its one runlog line is the import: it was
``from azureml.core import Run``."""

import os

import joblib
import mylib
import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error

from runlog import Run

os.makedirs("./outputs", exist_ok=True)

X_train, X_test, y_train, y_test = mylib.get_data()

# the run this script was submitted as
run = Run.get_context()

best = None
for alpha in np.arange(0.0, 1.0, 0.05):
    model = Ridge(alpha=alpha).fit(X_train, y_train)
    mse = mean_squared_error(y_test, model.predict(X_test))
    run.log("alpha", alpha)
    run.log("mse", mse)

    # files in ./outputs are uploaded to the run when it ends
    model_file = os.path.join("./outputs", f"ridge_{alpha:.2f}.pkl")
    joblib.dump(value=model, filename=model_file)
    print(f"alpha is {alpha:.2f}, and mse is {mse:0.2f}")
    if best is None or mse < best[1]:
        best = (alpha, mse, model_file)

alpha, mse, model_file = best
run.upload_file(name="best_model.pkl", path_or_stream=model_file)
print(f"best alpha is {alpha:.2f} (mse {mse:0.2f})")
