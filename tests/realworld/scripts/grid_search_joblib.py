"""
=====================================================
Tuning an SVC with a grid search and saving it to disk
=====================================================

A pipeline of a scaler and a support vector classifier is tuned for precision with
:class:`~sklearn.model_selection.GridSearchCV`, saved with :func:`joblib.dump`, loaded
back and evaluated on held-out data.
"""

import os
import tempfile

import joblib
from sklearn.datasets import make_classification
from sklearn.metrics import classification_report, precision_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

# %%
# Data and search
X, y = make_classification(n_samples=300, n_features=8, n_informative=4, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

pipe = make_pipeline(StandardScaler(), SVC())
param_grid = {"svc__C": [0.1, 1, 10], "svc__gamma": ["scale", 0.01]}
search = GridSearchCV(pipe, param_grid, scoring="precision", cv=3)
search.fit(X_train, y_train)
print("Best parameters:", search.best_params_)
print(f"Best cross-validated precision: {search.best_score_:.3f}")

# %%
# Save the fitted search, load it back, evaluate
folder = tempfile.mkdtemp()
path = os.path.join(folder, "grid_search.joblib")
joblib.dump(search, path)
loaded = joblib.load(path)
y_pred = loaded.predict(X_test)
print(f"Precision on the test set: {precision_score(y_test, y_pred):.3f}")
print(classification_report(y_test, y_pred))
