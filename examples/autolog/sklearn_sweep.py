"""scikit-learn autologging: an alpha sweep and a grid search, recorded with no logging code.

    python examples/autolog/sklearn_sweep.py

``runlog.autolog()`` wraps scikit-learn, so that each ``Ridge(alpha=a).fit`` below becomes
a run of experiment ``autolog-sklearn`` (params, training r2/mse/mae, the model file), the
``GridSearchCV`` a parent run with the cv_results table and its 3 best candidates as child
runs, and ``mean_squared_error(y_test, model.predict(X_test))`` the metric
``mean_squared_error_X_test`` of the model's run. The same script with no ``autolog()``
line, started as ``runlog run -e autolog-sklearn -- python sklearn_sweep.py``, records all
of it under the one launched run instead: each fit a child run named after what varies
(``Ridge alpha=0.01``, …, ``GridSearchCV``).
"""

from __future__ import annotations

import os

import runlog

os.environ.setdefault("RUNLOG_EXPERIMENT", "autolog-sklearn")
# Before `from sklearn.metrics import ...`: a name imported earlier is the unwrapped function.
runlog.autolog(torch=False, logging=False, max_tuning_runs=3)

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.metrics import mean_squared_error  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)

for alpha in (0.01, 0.1, 1.0):
    model = Ridge(alpha=alpha).fit(X_train, y_train)
    print(f"alpha={alpha}: test mse {mean_squared_error(y_test, model.predict(X_test)):.1f}")

search = GridSearchCV(Ridge(), {"alpha": [0.001, 0.01, 0.1, 1.0, 10.0]}, cv=5)
search.fit(X_train, y_train)
print(f"best alpha {search.best_params_['alpha']}, cv r2 {search.best_score_:.3f}")
