"""
==============================================
Ridge regression: test error against alpha
==============================================

Fit a ridge regression for a few regularization strengths and compare their mean
squared error on held-out data.
"""

import numpy as np
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

X, y = make_regression(n_samples=200, n_features=20, noise=10.0, random_state=1)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1)

alphas = [0.1, 1.0, 10.0]
errors = []
for alpha in alphas:
    model = Ridge(alpha=alpha)
    model.fit(X_train, y_train)
    errors.append(mean_squared_error(y_test, model.predict(X_test)))
    print(f"alpha={alpha:<5} test MSE={errors[-1]:.3f}")

print("Best alpha:", alphas[int(np.argmin(errors))])
