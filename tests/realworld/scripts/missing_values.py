"""
==========================================================
Missing values: a linear model needs them imputed first
==========================================================

A ridge regression fits the complete data, then is given data with missing values
without an imputer in front of it, and fails as scikit-learn says it will.
"""

import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge

X, y = make_regression(n_samples=100, n_features=5, noise=1.0, random_state=0)
print(f"R^2 on complete data: {Ridge().fit(X, y).score(X, y):.4f}")

X_missing = X.copy()
X_missing[::10, 2] = np.nan
Ridge().fit(X_missing, y)  # raises ValueError: Input X contains NaN
