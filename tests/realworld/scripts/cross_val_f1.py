"""
=========================================
Cross-validated F1 score of a classifier
=========================================

Estimate how well a logistic regression generalizes with 5-fold cross-validation,
scoring each fold with the F1 score, the folds running in two worker processes.
"""

from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = make_classification(
    n_samples=400, n_features=12, n_informative=5, weights=[0.7], random_state=42
)
clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5))
scores = cross_val_score(clf, X, y, scoring="f1", cv=5, n_jobs=2)
print("F1 per fold:", " ".join(f"{s:.4f}" for s in scores))
print(f"F1: {scores.mean():.4f} (+/- {scores.std():.4f})")
